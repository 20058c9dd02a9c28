package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cgsim/cgsim/model"
	"github.com/cgsim/cgsim/net"
	"github.com/cgsim/cgsim/params"
	"github.com/cgsim/cgsim/sim"
)

// TestEstimateCurves runs the estimate part of the experiment on small
// sizes (stories260K, contexts 64 to 256) and checks the files: one CSV
// row per context, network and strategy (5 contexts x 2 x 2 = 20) and two
// PNGs.
func TestEstimateCurves(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run([]string{"-out", dir, "-model", "stories260K", "-min-context", "64", "-max-context", "256"}, &out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "scaling_stories260K.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 21 || !strings.HasPrefix(lines[0], "context,network,strategy,ct_pt_mul") {
		t.Errorf("csv has %d lines:\n%s", len(lines), b)
	}
	for _, f := range []string{"scaling_stories260K_latency.png", "scaling_stories260K_memory.png"} {
		png, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Errorf("%s: %v", f, err)
		}
	}
	// Recompute's step re-runs the prefix, cryptogen's reads a cache: on
	// both networks recompute grows faster (sim.TestPlanGrowth checks the
	// values).
	if !strings.Contains(out.String(), "ratio") || !strings.Contains(out.String(), "growth on lan (") || !strings.Contains(out.String(), "growth on wan (") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"-model", "gpt5"}, {"-params", "bgv-n99"}, {"stray"}, {"-measure", "-measure-contexts", "x", "-max-context", "128", "-model", "stories260K", "-out", t.TempDir()}} {
		if err := run(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestMeasureSweepSmall runs the measured sweep for real at the insecure
// test preset (unit-test parameters) on stories260K at contexts 4 and 7:
// the tokens must be the reference's, the counters of every measured step
// must equal its estimate's, and each context gives both strategies.
func TestMeasureSweepSmall(t *testing.T) {
	m, err := model.LoadLlama2C("../../../shared/data/stories260K/stories260K.bin")
	if err != nil {
		t.Fatal(err)
	}
	p, err := params.ByName("bgv-test-insecure")
	if err != nil {
		t.Fatal(err)
	}
	var seen int
	pts, err := MeasureSweep(m, p, []int{6, 9}, []sim.Strategy{sim.Cryptogen, sim.Recompute}, func(Measured) { seen++ })
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 4 || seen != 4 {
		t.Fatalf("%d points, %d callbacks, want 4", len(pts), seen)
	}
	for _, pt := range pts {
		if len(pt.Diff) != 0 {
			t.Errorf("%s at %d: run and estimate differ: %v", pt.Strategy, pt.Context, pt.Diff)
		}
		if pt.Run.ComputeSeconds <= 0 || pt.Estimate.ComputeSeconds <= 0 {
			t.Errorf("%s at %d: compute %g measured, %g estimated", pt.Strategy, pt.Context, pt.Run.ComputeSeconds, pt.Estimate.ComputeSeconds)
		}
	}
	if rows := MeasuredRows(pts, []net.Network{net.LAN, net.WAN}); len(rows) != 8 {
		t.Errorf("%d priced rows, want 8", len(rows))
	}
}

// TestWriteRowsAtomic checks that WriteRows replaces the CSV with a new
// file renamed over it rather than rewriting it in place: a hard link to the
// old file (a reader holding it) still sees the old rows whole; the file's
// permissions are kept and no temporary file is left.
func TestWriteRowsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rows.csv")
	if err := os.WriteFile(path, []byte("old rows\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil { // beyond the umask
		t.Fatal(err)
	}
	held := filepath.Join(dir, "held.csv")
	if err := os.Link(path, held); err != nil {
		t.Fatal(err)
	}
	if err := WriteRows(path, []Row{{Context: 64, Network: "lan", Strategy: "cryptogen"}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(held); string(b) != "old rows\n" {
		t.Errorf("the old file was rewritten in place: %q", b)
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasPrefix(string(b), "context,network,strategy,") || !strings.Contains(string(b), "\n64,lan,cryptogen,") {
		t.Errorf("new file: %v\n%s", err, b)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v (%v), want 0640", fi.Mode().Perm(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("files left: %v", ents)
	}
}
