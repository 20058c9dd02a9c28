package mpc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/model"
)

// sampledDraft is a draft's side of AcceptSampled in the clear: its
// tokens, the client's uniforms r_i, its distributions q_i and the
// server's uniform u.
type sampledDraft struct {
	tokens []int
	r      []float64
	q      [][]float64
	u      float64
}

// inputs shares the draft as AcceptSampled.Run takes it: the one-hot
// rows, v, q (with g fractional bits) as the client's (the server's
// zeros), u as the server's.
func (sd sampledDraft) inputs(r *Ring, n, g int) (hot, v, q, u Pair) {
	d := len(sd.tokens)
	client := func(x []uint64) Pair { return Pair{{Mod: r.t, V: x}, {Mod: r.t, V: make([]uint64, len(x))}} }
	h, vv, qq := make([]uint64, d*n), make([]uint64, d), make([]uint64, d*n)
	for i, tok := range sd.tokens {
		h[i*n+tok] = 1
		vv[i] = uint64(math.Ceil(math.Ldexp(sd.r[i]*sd.q[i][tok], g))) // rounded up
		for j, x := range sd.q[i] {
			qq[i*n+j] = r.encodeAt(x, g)
		}
	}
	return client(h), client(vv), client(qq), Pair{{Mod: r.t, V: []uint64{0}}, {Mod: r.t, V: []uint64{r.Encode(sd.u)}}}
}

// speculate is speculative sampling in the clear on rows of logits: the
// accepted count and the token after them.
func speculate(rows [][]float64, temp float64, sd sampledDraft) (int, int) {
	a := 0
	for a < len(sd.tokens) && model.Accepts(model.Probabilities(rows[a], temp), sd.q[a], sd.tokens[a], sd.r[a]) {
		a++
	}
	return a, model.InverseCDF(sd.residual(rows, temp, a), sd.u)
}

// residual is the weights the token after a accepted draft tokens is
// drawn from: max(0, p_a - q_a), or p_a after the whole draft.
func (sd sampledDraft) residual(rows [][]float64, temp float64, a int) []float64 {
	var q []float64
	if a < len(sd.tokens) {
		q = sd.q[a]
	}
	return model.Residual(model.Probabilities(rows[a], temp), q)
}

// TestAcceptSampled: for each count of accepted draft tokens, the
// protocol accepts exactly those and draws the residual's token that the
// computation in the clear draws. The uniforms are placed far from every
// boundary (an accepted token's r·q(x) is half of p(x), with p(x) >=
// 1/(2N); the rejected one is the least likely, with r·q(x) = 0.45 >=
// p(x) + 1/4; u at the middle of a token's interval holding at least 5%
// of the residual, which is most of p), so
// the fixed point's error cannot change a decision; Run == Estimate.
func TestAcceptSampled(t *testing.T) {
	for _, preset := range testPresets {
		for _, nl := range []Nonlinear{Iterative, LUT} {
			cfg := testConfig(t, preset)
			cfg.Nonlinear = nl
			r := cfg.Ring
			for _, tc := range []struct {
				rows, n int
				temp    float64
			}{{2, 5, 1}, {5, 9, 0.7}, {4, 33, 1.6}} {
				for agree := 0; agree < tc.rows; agree++ {
					t.Run(fmt.Sprintf("%s/%v/rows=%d/n=%d/agree=%d", preset, nl, tc.rows, tc.n, agree), func(t *testing.T) {
						rng := rand.New(rand.NewPCG(uint64(tc.rows*100+tc.n), uint64(agree)))
						flat := make([]float64, tc.rows*tc.n)
						rows := make([][]float64, tc.rows)
						for i := range rows {
							for j := range tc.n {
								flat[i*tc.n+j] = r.Decode(r.Encode(3 * rng.NormFloat64()))
							}
							rows[i] = flat[i*tc.n : (i+1)*tc.n]
						}
						sd := sampledDraft{}
						for i := range tc.rows - 1 {
							p := model.Probabilities(rows[i], tc.temp)
							q := make([]float64, tc.n)
							var tok int
							if i == agree { // the least likely token, q(x) = 1/2, r = 0.9: r·q(x) >= p(x) + 1/4
								for j := range p {
									if p[j] < p[tok] {
										tok = j
									}
								}
								for j := range q { // the rest uniform: the residual is most of p
									q[j] = 0.5 / float64(tc.n-1)
								}
								q[tok] = 0.5
								sd.tokens, sd.q, sd.r = append(sd.tokens, tok), append(sd.q, q), append(sd.r, 0.9)
								continue
							}
							tok = rng.IntN(tc.n)
							for p[tok] < 0.5/float64(tc.n) { // p(x) well above the resolution
								tok = (tok + 1) % tc.n
							}
							q[tok] = 0.5 * (1 + rng.Float64()) * p[tok] // r = p(x)/(2q(x)) below 1
							for j := range q {                          // the rest of q spread like p
								if j != tok {
									q[j] = (1 - q[tok]) * p[j] / max(1-p[tok], 1e-9)
								}
							}
							sd.tokens, sd.q, sd.r = append(sd.tokens, tok), append(sd.q, q), append(sd.r, 0.5*p[tok]/q[tok])
						}
						// u at the middle of a token's interval of the residual.
						sd.u = 0.5
						wantA, _ := speculate(rows, tc.temp, sd)
						w := sd.residual(rows, tc.temp, wantA)
						total, c := 0.0, 0.0
						for _, x := range w {
							total += x
						}
						pick := rng.IntN(tc.n)
						for w[pick] < 0.05*total {
							pick = (pick + 1) % tc.n
						}
						for _, x := range w[:pick] {
							c += x
						}
						sd.u = (c + w[pick]/2) / total
						a, tok := speculate(rows, tc.temp, sd)
						if a != agree || tok != pick {
							t.Fatalf("the reference accepts %d and draws %d; the test meant %d and %d", a, tok, agree, pick)
						}
						logits, err := r.Split(flat)
						if err != nil {
							t.Fatal(err)
						}
						p := AcceptSampled{Config: cfg, Rows: tc.rows, N: tc.n, Temperature: tc.temp}
						hot, v, q, u := sd.inputs(r, tc.n, p.InputBits())
						var gotA, gotTok int
						got := measure(t, cfg, func(s *Session) error { gotA, gotTok, err = p.Run(s, logits, hot, v, q, u); return err })
						if gotA != a || gotTok != tok {
							t.Errorf("accepted %d, token %d; want %d, %d", gotA, gotTok, a, tok)
						}
						if d := cost.CounterDiff(got, p.Estimate()); len(d) != 0 {
							t.Errorf("Run vs Estimate: %v", d)
						}
					})
				}
			}
		}
	}
}

// TestAcceptSampledDistribution is speculative sampling's guarantee on
// shares: a draft whose distribution q differs from the model's p (here
// q puts 0.45 on the token p gives 0.06, and little where p is high)
// proposes a token from q, and the token the protocol yields (the
// proposal if accepted, else the residual's draw) is distributed as p.
// Over 1500 draws (the client's and the server's uniforms from fixed
// seeds), Pearson's chi-square of the yielded tokens against p stays below
// its 0.999 quantile, and the acceptance rate is within 4 standard
// deviations of Σ min(p, q). A protocol that kept every proposal would
// yield q (chi-square in the hundreds); one that drew the correction
// from p instead of the residual overweights the draft's favourites.
func TestAcceptSampledDistribution(t *testing.T) {
	cfg := testConfig(t, "bgv-n13")
	cfg.Nonlinear = LUT
	r := cfg.Ring
	const draws, temp = 1500, 0.8
	logits := []float64{1.2, 0.4, -0.5, 0.9, -1.0, 0.1} // and a second row for the token after
	q := []float64{0.05, 0.1, 0.45, 0.15, 0.15, 0.1}
	flat := append(append([]float64(nil), logits...), logits...)
	x, err := r.Split(flat)
	if err != nil {
		t.Fatal(err)
	}
	for i := range logits {
		logits[i] = r.Decode(r.Encode(logits[i]))
	}
	p := model.Probabilities(logits, temp)
	proto := AcceptSampled{Config: cfg, Rows: 2, N: len(logits), Temperature: temp}
	s := NewSession(cfg, TrustedDealer{})
	defer s.Close()
	rng := rand.New(rand.NewPCG(3, 5))
	count := make([]float64, len(p))
	accepted := 0
	for range draws {
		tok := model.InverseCDF(q, rng.Float64()) // the draft's proposal
		sd := sampledDraft{tokens: []int{tok}, r: []float64{rng.Float64()}, q: [][]float64{q}, u: rng.Float64()}
		hot, v, qq, u := sd.inputs(r, len(p), proto.InputBits())
		a, next, err := proto.Run(s, x, hot, v, qq, u)
		if err != nil {
			t.Fatal(err)
		}
		accepted += a
		if a == 1 {
			count[tok]++
		} else {
			count[next]++
		}
	}
	exp := make([]float64, len(p))
	rate := 0.0
	for i := range p {
		exp[i] = p[i] * draws
		rate += min(p[i], q[i])
	}
	chi2 := stat.ChiSquare(count, exp)
	limit := distuv.ChiSquared{K: float64(len(p) - 1)}.Quantile(0.999)
	sd := math.Sqrt(rate * (1 - rate) / draws)
	got := float64(accepted) / draws
	t.Logf("chi-square %.2f (0.999 quantile %.2f); acceptance %.3f, Σ min(p, q) = %.3f", chi2, limit, got, rate)
	if !(chi2 < limit) {
		t.Errorf("yielded tokens %v against p·draws %v: chi-square %.2f above %.2f", count, exp, chi2, limit)
	}
	if math.Abs(got-rate) > 4*sd {
		t.Errorf("acceptance %.3f, want %.3f ± %.3f", got, rate, 4*sd)
	}
}

// TestAcceptSampledErrors: shapes, temperatures and vocabularies the
// protocol cannot take are refused before anything runs.
func TestAcceptSampledErrors(t *testing.T) {
	cfg := testConfig(t, "bgv-n13")
	r := cfg.Ring
	logits, err := r.Split(make([]float64, 6))
	if err != nil {
		t.Fatal(err)
	}
	sd := sampledDraft{tokens: []int{1}, r: []float64{0.5}, q: [][]float64{make([]float64, 3)}}
	hot, v, q, u := sd.inputs(r, 3, 20)
	for _, tc := range []struct {
		name, want string
		p          AcceptSampled
	}{
		{"no draft", "draft tokens", AcceptSampled{Config: cfg, Rows: 1, N: 6, Temperature: 1}},
		{"zero temperature", "temperature", AcceptSampled{Config: cfg, Rows: 2, N: 3, Temperature: 0}},
		{"NaN temperature", "temperature", AcceptSampled{Config: cfg, Rows: 2, N: 3, Temperature: math.NaN()}},
		{"tiny temperature", "too low", AcceptSampled{Config: cfg, Rows: 2, N: 3, Temperature: 1e-9}},
		{"scaled without lookups", "extra fractional bits", AcceptSampled{Config: cfg, Rows: 2, N: 3, Temperature: 1, Scale: 3}},
		{"vocabulary beyond the ring", "vocabulary", AcceptSampled{Config: cfg, Rows: 2, N: 1 << 20, Temperature: 1}},
	} {
		s := NewSession(cfg, TrustedDealer{})
		if _, _, err := tc.p.Run(s, logits, hot, v, q, u); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %q", tc.name, err, tc.want)
		}
		if err := tc.p.Fits(); err == nil {
			t.Errorf("%s: Fits accepts it", tc.name)
		}
		s.Close()
	}
}

// TestAcceptSampledSmall: a proposal the model gives probability e^-20/N
// (0 in the fixed point) from a draft that gives it 1/N, over a vocabulary
// of 1024 at bgv-n13 (f = 12: r·q(x) below 2^-13 for one r in eight), is
// rejected for every one of 40 uniforms r: r·q(x) is encoded with
// InputBits fractional bits and rounded up, never to 0. With f bits and
// rounding, one in eight was accepted (none of 40: probability 0.6%).
func TestAcceptSampledSmall(t *testing.T) {
	cfg := testConfig(t, "bgv-n13")
	cfg.Nonlinear = LUT
	r := cfg.Ring
	const n = 1024
	flat := make([]float64, 2*n)
	flat[7] = -20
	x, err := r.Split(flat)
	if err != nil {
		t.Fatal(err)
	}
	q := make([]float64, n)
	for j := range q {
		q[j] = 1.0 / n
	}
	proto := AcceptSampled{Config: cfg, Rows: 2, N: n, Temperature: 1}
	if proto.InputBits() <= r.Frac() {
		t.Fatalf("%d input bits, f = %d", proto.InputBits(), r.Frac())
	}
	s := NewSession(cfg, TrustedDealer{})
	defer s.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	accepted := 0
	for range 40 {
		sd := sampledDraft{tokens: []int{7}, r: []float64{rng.Float64()}, q: [][]float64{q}, u: rng.Float64()}
		hot, v, qq, u := sd.inputs(r, n, proto.InputBits())
		a, _, err := proto.Run(s, x, hot, v, qq, u)
		if err != nil {
			t.Fatal(err)
		}
		accepted += a
	}
	if accepted > 0 {
		t.Errorf("a token of probability 0 accepted %d times of 40", accepted)
	}
}
