package exec

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
)

// checkKeyPair checks that sk is the secret key of pk. A public key is an
// encryption of zero, pk = (b, a) with b = -a·s + e for the error e of
// the parameters' error distribution, so b + a·s is e, whose coefficients
// lie within p.NoiseBound() (lattigo truncates its Gaussian there). With
// another secret s', b + a·s' = e + a·(s' - s) is uniform modulo each
// prime, and each of its N coefficients lands within the bound with
// probability about 2·bound/q_i (below 2^-20 for the smallest prime of any
// preset): a wrong key fails on the first prime already. The check works
// prime by prime on the centered residues of b + a·s (no CRT needed: a
// small integer has the same small centered residue modulo every prime).
// Cost: one product and one inverse NTT per prime, once per restore.
func checkKeyPair(p bgv.Parameters, sk *rlwe.SecretKey, pk *rlwe.PublicKey) error {
	if sk == nil || pk == nil || len(pk.Value) != 2 {
		return fmt.Errorf("exec: checking the key pair: missing key")
	}
	rq := p.RingQ().AtLevel(pk.LevelQ())
	if sk.LevelQ() < pk.LevelQ() {
		return fmt.Errorf("exec: the secret key has level %d, the public key %d", sk.LevelQ(), pk.LevelQ())
	}
	e := rq.NewPoly()
	rq.MulCoeffsMontgomery(pk.Value[1].Q, sk.Value.Q, e) // a·s (NTT, Montgomery)
	rq.Add(e, pk.Value[0].Q, e)                          // + b
	rq.IMForm(e, e)
	rq.INTT(e, e)
	bound := p.NoiseBound()
	if !(bound > 0) {
		bound = 6 * math.Max(p.NoiseFreshSK(), 1)
	}
	b := uint64(math.Ceil(bound))
	for i, q := range rq.ModuliChain()[:rq.Level()+1] {
		for j, c := range e.Coeffs[i] {
			if c > b && q-c > b {
				return fmt.Errorf("exec: the secret key does not belong to the public key: coefficient %d of b + a·s is %d modulo prime %d (%d bits), beyond the error bound %d", j, centered(c, q), i, bits.Len64(q), b)
			}
		}
	}
	return nil
}

func centered(c, q uint64) int64 {
	if c > q/2 {
		return -int64(q - c)
	}
	return int64(c)
}
