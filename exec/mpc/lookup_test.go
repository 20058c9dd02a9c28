package mpc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cgsim/cgsim/params"
)

// TestLookupBits: the presets' moduli let a lookup read any index below
// 2^31 (41-bit t) and 2^47 (60-bit t), and a modulus with few trailing
// zero bits in t - 1 reads only those.
func TestLookupBits(t *testing.T) {
	for _, tt := range []struct {
		preset string
		want   int
	}{{"bgv-n13", 31}, {"bgv-n14", 47}} {
		if got := testConfig(t, tt.preset).Ring.LookupBits(); got != tt.want {
			t.Errorf("%s: LookupBits %d, want %d", tt.preset, got, tt.want)
		}
	}
	// 2^40 + 5·2^18 + 1 (bgv-n13's modulus before lookups): t - 1 has 18.
	r, err := NewRing(params.FixedPoint{FracBits: 12, IntBits: 5, StatSecurity: 40, T: 0x10000140001})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.LookupBits(); got != 18 {
		t.Errorf("t = 0x10000140001: LookupBits %d, want 18", got)
	}
}

// TestLookup reads a table of squares and the identity table at several
// windows of both rings, over values spread across each window's valid
// range and its two ends: the index read is i or a neighbour, and every
// table is read at that same index.
func TestLookup(t *testing.T) {
	for _, preset := range testPresets {
		cfg := testConfig(t, preset)
		r := cfg.Ring
		for _, w := range []struct{ shift, bits int }{
			{0, 4},                          // the lowest bits, a small table
			{r.Frac() - 2, 8},               // a quarter unit over [0, 64)
			{r.LookupBits() - 10, 10},       // the top of the readable bits
			{r.LookupBits() / 2, 1},         // two entries
			{2*r.Frac() - 4, MaxLookupBits}, // a product's fractional bits, before truncation
		} {
			if w.shift+w.bits > r.LookupBits() {
				continue
			}
			t.Run(fmt.Sprintf("%s/shift=%d/bits=%d", preset, w.shift, w.bits), func(t *testing.T) {
				squares := make([]uint64, 1<<w.bits)
				for i := range squares {
					squares[i] = r.FromInt(int64(i * i))
				}
				lo := int64(1) << w.shift
				hi := int64(1)<<(w.shift+w.bits) - int64(1)<<w.shift // exclusive
				if hi <= lo {
					hi = lo + 1
				}
				rng := rand.New(rand.NewPCG(uint64(w.shift), uint64(w.bits)))
				vals := []int64{lo, lo + 1, hi - 1, hi - 2, (lo + hi) / 2}
				for range 200 {
					vals = append(vals, lo+rng.Int64N(hi-lo))
				}
				// The values are shared as v - offset: the lookup adds it back.
				offset := r.FromInt(lo + 12345%(hi-lo))
				x := make([]uint64, len(vals))
				for i, v := range vals {
					x[i] = r.Sub(r.FromInt(v), offset)
				}
				shared, err := r.SplitElements(x)
				if err != nil {
					t.Fatal(err)
				}
				l := Lookup{Config: cfg, N: len(vals), Offset: offset, Shift: w.shift, Bits: w.bits,
					Tables: [][]uint64{IndexTable(w.bits), squares}}
				s := NewSession(cfg, TrustedDealer{})
				defer s.Close()
				out, err := l.Run(s, shared)
				if err != nil {
					t.Fatal(err)
				}
				got, err := r.Open(out)
				if err != nil {
					t.Fatal(err)
				}
				n := len(vals)
				for i, v := range vals {
					idx, sq := r.ToInt(got[i]), r.ToInt(got[n+i])
					want := v >> w.shift
					if idx < want-1 || idx > want+1 || idx < 0 || idx >= 1<<w.bits {
						t.Fatalf("v = %d: index %d, want %d or a neighbour", v, idx, want)
					}
					if sq != idx*idx {
						t.Fatalf("v = %d: read index %d but square %d", v, idx, sq)
					}
				}
			})
		}
	}
}

// TestLookupOfflineBytes: a lookup mask of a table of 2^k entries is 2^k
// elements for the server (its share of the one-hot vector; the mask and
// the client's share come from the seeds), and a Run deals exactly that.
func TestLookupOfflineBytes(t *testing.T) {
	for _, preset := range testPresets {
		cfg := testConfig(t, preset)
		r := cfg.Ring
		var n Need
		n.Lookups[10], n.Lookups[3] = 3, 5
		want := 2*SeedBytes + int64(3*1024+5*8)*int64(r.ElementBytes())
		if got := n.OfflineBytes(r); got != want {
			t.Errorf("%s: %v is %d bytes, want %d", preset, n, got, want)
		}
		l := Lookup{Config: cfg, N: 3, Bits: 10, Tables: [][]uint64{IndexTable(10)}}
		x, err := r.SplitElements([]uint64{1, 2, 3})
		if err != nil {
			t.Fatal(err)
		}
		got := measure(t, cfg, func(s *Session) error { _, err := l.Run(s, x); return err })
		if want := 2*SeedBytes + int64(3*1024*r.ElementBytes()); got.OfflineBytes != want {
			t.Errorf("%s: a Run of 3 lookups dealt %d bytes, want %d", preset, got.OfflineBytes, want)
		}
	}
}

// TestLookupSmallModulus: a ring whose t - 1 has one trailing zero bit
// (t = 2^40 + 15 = 3 mod 4) reads no table: the lookup activations and
// norms refuse it with an error, and so does the dealer, never a panic.
func TestLookupSmallModulus(t *testing.T) {
	r, err := NewRing(params.FixedPoint{FracBits: 12, IntBits: 5, StatSecurity: 40, T: 0x1000000000f})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Ring: r, Profile: testProfile(), Nonlinear: LUT}
	x, err := r.SplitElements(make([]uint64, 4))
	if err != nil {
		t.Fatal(err)
	}
	for name, run := range map[string]func(s *Session) error{
		"silu": func(s *Session) error { _, err := SiLU{Config: cfg, N: 4}.Run(s, x); return err },
		"gelu": func(s *Session) error { _, err := GELU{Config: cfg, N: 4}.Run(s, x); return err },
		"rmsnorm": func(s *Session) error {
			_, err := RMSNorm{Config: cfg, Rows: 1, Dim: 4, Eps: 1e-5}.Run(s, x)
			return err
		},
	} {
		s := NewSession(cfg, TrustedDealer{})
		if err := run(s); err == nil || !strings.Contains(err.Error(), "mpc: ") {
			t.Errorf("%s by lookups modulo 2^40 + 15: error %v, want a refusal", name, err)
		}
		s.Close()
	}
	var n Need
	n.Lookups[4] = 1
	if _, _, err := (TrustedDealer{}).Deal(r, n); err == nil {
		t.Error("the dealer dealt a lookup of 2^4 entries modulo 2^40 + 15")
	}
	other := cfg
	other.Nonlinear = Nonlinear(7)
	s := NewSession(other, TrustedDealer{})
	defer s.Close()
	if _, err := (SiLU{Config: other, N: 4}).Run(s, x); err == nil || !strings.Contains(err.Error(), "unknown non-linear method") {
		t.Errorf("an unknown method: error %v", err)
	}
}

// TestLookupErrors: a lookup refuses windows beyond the readable bits,
// tables of the wrong size or with unreduced entries, and no table.
func TestLookupErrors(t *testing.T) {
	cfg := testConfig(t, "bgv-n13")
	r := cfg.Ring
	x, err := r.SplitElements(make([]uint64, 3))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		l    Lookup
		want string
	}{
		{"window-too-high", Lookup{Shift: r.LookupBits() - 3, Bits: 4, Tables: [][]uint64{IndexTable(4)}}, "beyond"},
		{"no-bits", Lookup{Bits: 0, Tables: [][]uint64{{0}}}, "want 2^1"},
		{"too-many-bits", Lookup{Bits: MaxLookupBits + 1, Tables: [][]uint64{IndexTable(MaxLookupBits + 1)}}, "want 2^1"},
		{"short-table", Lookup{Bits: 4, Tables: [][]uint64{IndexTable(3)}}, "has 8 entries"},
		{"unreduced", Lookup{Bits: 1, Tables: [][]uint64{{0, r.Modulus()}}}, "not an element"},
		{"no-table", Lookup{Bits: 2}, "no table"},
		{"bad-offset", Lookup{Bits: 2, Offset: r.Modulus(), Tables: [][]uint64{IndexTable(2)}}, "offset"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.l
			l.Config, l.N = cfg, 3
			s := NewSession(cfg, TrustedDealer{})
			defer s.Close()
			_, err := l.Run(s, x)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestNormLUTLargeMeanSquares: at bgv-n14's fixed point the norms by
// lookup keep their accuracy up the default range (a small guess keeps
// its significant bits): RMSNorm rows of 64 and LayerNorm rows of 768
// whose mean squares reach 2^14 to 2^21, within 1e-3 of float64.
func TestNormLUTLargeMeanSquares(t *testing.T) {
	cfg := testConfig(t, "bgv-n14")
	cfg.Nonlinear = LUT
	for _, tt := range []struct {
		dim   int
		scale float64 // values uniform in ±scale: mean square scale²/3
		layer bool
	}{{64, 128, false}, {64, 1024, false}, {64, 2048, false}, {768, 256, true}, {768, 1024, true}, {768, 2048, true}} {
		t.Run(fmt.Sprintf("dim=%d/scale=%g", tt.dim, tt.scale), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tt.dim), uint64(tt.scale)))
			xs, x := randomPair(t, cfg.Ring, rng, 2*tt.dim, -tt.scale, tt.scale)
			var p interface {
				Run(*Session, Pair) (Pair, error)
			} = RMSNorm{Config: cfg, Rows: 2, Dim: tt.dim, Eps: 1e-5}
			want := rmsNormRows(tt.dim)(xs)
			if tt.layer {
				p, want = LayerNorm{Config: cfg, Rows: 2, Dim: tt.dim, Eps: 1e-5}, layerNormRows(tt.dim)(xs)
			}
			s := NewSession(cfg, TrustedDealer{})
			defer s.Close()
			out, err := p.Run(s, x)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := cfg.Ring.Reveal(out)
			worst := 0.0
			for i := range got {
				worst = math.Max(worst, math.Abs(got[i]-want[i]))
			}
			if worst > 1e-3 {
				t.Errorf("max abs error %.3g", worst)
			}
		})
	}
}
