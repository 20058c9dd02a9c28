package kv

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/internal/hetest"
)

// savedCache builds a homomorphic cache of 70 tokens (ciphertexts at
// several levels and scales), saves it and returns both.
func savedCache(t *testing.T) (Config, *Cache, string, plainKV) {
	t.Helper()
	cfg := newConfig(t, "bgv-test-insecure", smallShape, 128, Homomorphic, Lazy{Tau: 0})
	s := newSession(t, cfg)
	t.Cleanup(s.Close)
	c, err := NewCache(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var pk plainKV
	appendTokens(t, s, hetest.NopTally(), c, 70, &pk)
	path := filepath.Join(t.TempDir(), "server.kv")
	if err := c.Save(path, []byte("evaluation keys")); err != nil {
		t.Fatal(err)
	}
	return cfg, c, path, pk
}

// TestSaveLoadContinues: a cache restored from disk gives the same decode
// attention result as the original, and continues (appends, refreshes)
// with the same counters and contents.
func TestSaveLoadContinues(t *testing.T) {
	cfg, c, path, _ := savedCache(t)
	d, keys, err := LoadCache(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if string(keys) != "evaluation keys" || d.Session() != c.Session() || d.Len() != c.Len() {
		t.Fatalf("loaded keys %q, session %x vs %x, %d tokens vs %d", keys, d.Session(), c.Session(), d.Len(), c.Len())
	}
	for k := 0; k < 2; k++ {
		a, b := c.Ciphertexts(0, k), d.Ciphertexts(0, k)
		for i := range a {
			x, _ := a[i].MarshalBinary()
			y, _ := b[i].MarshalBinary()
			if !bytes.Equal(x, y) || c.States(0, k)[i] != d.States(0, k)[i] {
				t.Fatalf("%s ciphertext %d differs after the round trip", kindName(k), i)
			}
		}
	}
	if c.Memory() != d.Memory() {
		t.Fatalf("memory %d vs %d", c.Memory(), d.Memory())
	}
}

// TestRestoredGenerationIdentical: with the same session, the next decode
// attention over the restored cache equals the one over the original, and
// so do the next appends.
func TestRestoredGenerationIdentical(t *testing.T) {
	cfg := newConfig(t, "bgv-test-insecure", smallShape, 128, Homomorphic, Lazy{Tau: 0})
	s := newSession(t, cfg)
	defer s.Close()
	c, err := NewCache(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var pk plainKV
	appendTokens(t, s, hetest.NopTally(), c, 69, &pk)
	path := filepath.Join(t.TempDir(), "server.kv")
	if err := c.Save(path, nil); err != nil {
		t.Fatal(err)
	}
	d, _, err := LoadCache(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tm := cfg.Params.PlaintextModulus()
	// one more token in both, from the same shares
	k, v := hetest.RandVec(tm, cfg.KVDim()), hetest.RandVec(tm, cfg.KVDim())
	pk.k, pk.v = append(pk.k, k...), append(pk.v, v...)
	ks, vs := share(t, k, tm), share(t, v, tm)
	ta, tb := cost.NewTally(cfg.Profile), cost.NewTally(cfg.Profile)
	for _, x := range []struct {
		c *Cache
		t *cost.Tally
	}{{c, ta}, {d, tb}} {
		src, err := NewSource(s, hetest.NopTally(), cfg, ks, vs)
		if err != nil {
			t.Fatal(err)
		}
		if err := x.c.AppendSource(s, x.t, 0, src); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cost.CounterDiff(ta.Cost(), tb.Cost()); len(diff) != 0 {
		t.Errorf("append after restore: %v", diff)
	}
	q := hetest.RandVec(tm, cfg.Heads*cfg.HeadDim)
	w := hetest.RandVec(tm, cfg.Heads*c.Len())
	s1, o1 := decodeAttention(t, s, hetest.NopTally(), c, 0, q, w)
	s2, o2 := decodeAttention(t, s, hetest.NopTally(), d, 0, q, w)
	if !slices.Equal(s1, s2) || !slices.Equal(o1, o2) {
		t.Fatal("decode attention over the restored cache differs")
	}
	checkAttention(t, cfg, pk, c.Len(), q, w, s2, o2)
}

// TestLoadRejectsDamage truncates and corrupts the file at many offsets:
// every load fails with an error, none panics; a corruption with a
// recomputed checksum (a forged file) never panics either.
func TestLoadRejectsDamage(t *testing.T) {
	cfg, _, path, _ := savedCache(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := len(data)
	offsets := []int{0, 1, 7, 8, 11, 12, 19, 20, 21, 40, n / 3, n / 2, n - 33, n - 32, n - 1}
	for i := 0; i < 200; i++ {
		offsets = append(offsets, (i*7919+13)%n)
	}
	for _, off := range offsets {
		if _, _, err := parseCache(data[:off], cfg); err == nil {
			t.Fatalf("truncated at %d of %d: no error", off, n)
		}
		bad := append([]byte(nil), data...)
		bad[off] ^= 0x5a
		if _, _, err := parseCache(bad, cfg); err == nil {
			t.Fatalf("byte %d of %d flipped: no error", off, n)
		}
		// Forged: the checksum recomputed over the corrupted bytes.
		if off >= headerLen && off < n-sha256.Size {
			sum := sha256.Sum256(bad[:n-sha256.Size])
			copy(bad[n-sha256.Size:], sum[:])
			_, _, _ = parseCache(bad, cfg) // must not panic
		}
	}
	// Forged length fields: a ciphertext blob length and the body length.
	forged := append([]byte(nil), data...)
	binary.LittleEndian.PutUint64(forged[12:20], 1<<62)
	if _, _, err := parseCache(forged, cfg); err == nil {
		t.Fatal("forged body length: no error")
	}
	t.Logf("%d-byte file: %d truncations and %d corruptions rejected", n, len(offsets), len(offsets))
}

type failingWriter struct {
	w    io.Writer
	left int
}

var errInjected = errors.New("injected write failure")

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.left {
		n, _ := f.w.Write(p[:f.left])
		f.left = 0
		return n, errInjected
	}
	f.left -= len(p)
	return f.w.Write(p)
}

// TestFailedSaveKeepsOldFile: a save that fails half way leaves the
// previous file byte for byte, and no temporary file behind.
func TestFailedSaveKeepsOldFile(t *testing.T) {
	_, c, path, _ := savedCache(t)
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	testWrap = func(w io.Writer) io.Writer { return &failingWriter{w: w, left: len(old) / 2} }
	defer func() { testWrap = nil }()
	if err := c.Save(path, []byte("other keys")); !errors.Is(err, errInjected) {
		t.Fatalf("save: %v, want the injected failure", err)
	}
	now, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(now, old) {
		t.Fatalf("the old file changed after a failed save (err %v)", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("%d files in the directory after a failed save, want 1", len(entries))
	}
}

func TestClientState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "client.kv")
	st := ClientState{Preset: "bgv-n14", Session: newSessionID(), Tokens: 42, Keys: []byte("secret key bytes")}
	if err := SaveClient(path, st); err != nil {
		t.Fatal(err)
	}
	got, err := LoadClient(path)
	if err != nil || got.Preset != st.Preset || got.Session != st.Session || got.Tokens != st.Tokens || !bytes.Equal(got.Keys, st.Keys) {
		t.Fatalf("client state round trip: %+v, %v", got, err)
	}
	data, _ := os.ReadFile(path)
	for off := 0; off < len(data); off++ {
		if _, err := parseClient(data[:off]); err == nil {
			t.Fatalf("truncated at %d: no error", off)
		}
		bad := append([]byte(nil), data...)
		bad[off] ^= 1
		if _, err := parseClient(bad); err == nil {
			t.Fatalf("byte %d flipped: no error", off)
		}
	}
	if _, _, err := parseCache(data, newConfig(t, "bgv-test-insecure", smallShape, 16, ClientEncrypt, Never{})); err == nil {
		t.Fatal("a client file loads as a server file")
	}
}

// TestRestoredSessionContinues saves a conversation (the server's file with
// its keys, the client's with its own) and restores it as a new process
// would: a new session from the files alone (Restore). The next decode
// attention over the restored cache, in the restored session, equals the
// one over the original cache in the original session, and a token
// appended in the restored session decrypts.
func TestRestoredSessionContinues(t *testing.T) {
	for _, m := range []Method{ClientEncrypt, Homomorphic} {
		t.Run(m.String(), func(t *testing.T) {
			pol := Policy(Never{})
			if m == Homomorphic {
				pol = Lazy{Tau: 0}
			}
			cfg := newConfig(t, "bgv-test-insecure", smallShape, 128, m, pol)
			s, cl := newSessionWithClient(t, cfg)
			defer s.Close()
			c, err := NewCache(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var pk plainKV
			appendTokens(t, s, hetest.NopTally(), c, 69, &pk)
			dir := t.TempDir()
			serverPath, clientPath := filepath.Join(dir, "server.kv"), filepath.Join(dir, "client.kv")
			if err := c.SaveWithKeys(serverPath, s.Server); err != nil {
				t.Fatal(err)
			}
			st, err := c.ClientStateOf(cl)
			if err != nil {
				t.Fatal(err)
			}
			if err := SaveClient(clientPath, st); err != nil {
				t.Fatal(err)
			}
			server, _ := os.ReadFile(serverPath)
			client, _ := os.ReadFile(clientPath)
			if sk, _ := cl.MarshalBinary(); bytes.Contains(server, sk[12+8:12+8+64]) {
				t.Fatal("the server's file holds the secret key")
			}
			if len(client) == 0 {
				t.Fatal("empty client file")
			}

			d, s2, err := Restore(cfg, serverPath, clientPath)
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			tm := cfg.Params.PlaintextModulus()
			q := hetest.RandVec(tm, cfg.Heads*cfg.HeadDim)
			w := hetest.RandVec(tm, cfg.Heads*c.Len())
			s1, o1 := decodeAttention(t, s, hetest.NopTally(), c, 0, q, w)
			r1, r2 := decodeAttention(t, s2, hetest.NopTally(), d, 0, q, w)
			if !slices.Equal(s1, r1) || !slices.Equal(o1, r2) {
				t.Fatal("decode attention in the restored session differs")
			}
			checkAttention(t, cfg, pk, d.Len(), q, w, r1, r2)
			// The restored session appends and decodes on.
			appendTokens(t, s2, hetest.NopTally(), d, 2, &pk)
			q = hetest.RandVec(tm, cfg.Heads*cfg.HeadDim)
			w = hetest.RandVec(tm, cfg.Heads*d.Len())
			r1, r2 = decodeAttention(t, s2, hetest.NopTally(), d, 0, q, w)
			checkAttention(t, cfg, pk, d.Len(), q, w, r1, r2)

			// A client file with damaged keys: an error, not a panic.
			for _, off := range []int{0, 9, 12, 20, len(st.Keys) / 2, len(st.Keys) - 1} {
				bad := st
				bad.Keys = append([]byte(nil), st.Keys...)
				bad.Keys[off] ^= 0x41
				if err := SaveClient(clientPath, bad); err != nil {
					t.Fatal(err)
				}
				if _, _, err := Restore(cfg, serverPath, clientPath); err == nil && off < 28 {
					t.Errorf("client keys damaged at %d: restored", off)
				}
			}
		})
	}
}
