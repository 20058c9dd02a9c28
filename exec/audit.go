package exec

import (
	"math"
	"math/big"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
)

// ReturnPlan is what the server planned for a batch of ciphertexts it
// returns to the client (an H2S and every primitive's return), the public
// view of their return path: the level they are formed at, the bound of
// their payload before the mask (the flooding is sized for it, with the
// mask and the encryption of zero added), the flooding exponent f (E
// uniform in [-2^f, 2^f)), the statistical security each is flooded for
// and the level they are sent at.
type ReturnPlan struct {
	Level        int
	Payload      float64
	FloodBits    int
	StatSecurity int
	SendLevel    int
}

func (sp returnPath) public() ReturnPlan {
	return ReturnPlan{Level: sp.from, Payload: sp.nu, FloodBits: sp.floodInt(), StatSecurity: sp.kappa, SendLevel: sp.to}
}

// InspectReturns has the session's server call f, before it masks, floods
// and sends them, with every batch of ciphertexts it returns to the
// client and the plan of that return (nil: no inspection). It is an audit
// seam on the server's side: the ciphertexts are the server's own; with
// the client's key (Client.PayloadBits) a test checks that each payload is
// within the plan its flooding was sized for. f runs on the server's
// goroutine and must not keep or modify the ciphertexts.
func (s *Session) InspectReturns(f func(cts []*rlwe.Ciphertext, plan ReturnPlan)) {
	s.Server.inspect = f
}

// PayloadBits is the payload of ct (see NoiseModel): log2 of the infinity
// norm of t·(c0 + c1·s) mod Q_level lifted to (-Q/2, Q/2], that is of
// m + t·e, measured with the client's secret key. It is a diagnostic of
// the client's side (the server has no key to measure it with). It uses a
// decryptor of its own, so it may run beside the client's half of a
// primitive (from Session.InspectReturns' callback).
func (c *Client) PayloadBits(ct *rlwe.Ciphertext) float64 {
	pt := rlwe.NewDecryptor(c.params, c.sk).DecryptNew(ct)
	rq := c.params.RingQ().AtLevel(ct.Level())
	if pt.IsNTT {
		rq.INTT(pt.Value, pt.Value)
	}
	rq.MulScalar(pt.Value, c.params.PlaintextModulus(), pt.Value)
	coeffs := make([]*big.Int, c.params.N())
	for i := range coeffs {
		coeffs[i] = new(big.Int)
	}
	rq.PolyToBigintCentered(pt.Value, 1, coeffs)
	hi := new(big.Int)
	for _, x := range coeffs {
		if x.CmpAbs(hi) > 0 {
			hi.Abs(x)
		}
	}
	f, _ := new(big.Float).SetInt(hi).Float64()
	return math.Log2(f)
}
