package exec

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
)

// pad is what the server adds to a ciphertext before returning it: z, an
// encryption under the client's public key of -r for r uniform modulo t
// (the server's share of the result), with the flooding error of the
// return path in its first component. A pad depends on no input: only on
// the client's public key, the level, scale and domain of the ciphertext
// it pads (which the circuit fixes) and the flooding width (which the
// declared session fixes). The server can therefore make it before the
// input exists: it is priced as offline work (padCost), and a run makes
// it just before it is needed (Server.makePads).
//
// A pad is used once. A pad added to two ciphertexts would give the
// client the difference of their messages, with the same flooding error
// in both.
type pad struct {
	z *rlwe.Ciphertext
	r []uint64
}

// padCost is the server making the pads of k ciphertexts returned
// through sp (Server.makePads), offline work: each mask sampled and laid
// out, its encoding, one public-key encryption of it and the flooding
// error.
func padCost(prof *cost.Profile, logN int, sp returnPath, dom Domain, k int64) cost.Cost {
	return cost.Sum(
		layoutCost(prof, logN, k),
		prof.Charge(dom.encodeOp(), sp.from, k),
		prof.Charge(cost.OpEncrypt, sp.from, k),
		prof.Charge(cost.OpShare, 0, k*floodOps(logN, sp.from, sp.floodInt())),
	).Offline()
}

// workSeconds is what a planner choosing among ways to compute the same
// thing minimizes: the online seconds and the offline ones. Offline work
// is not free: the server that makes the pads of the ciphertexts it
// returns is the one that computes, and a way that returns more
// ciphertexts makes more pads.
func workSeconds(c cost.Cost) float64 { return c.Seconds() + c.OfflineSeconds }

// makePads makes one pad per ciphertext of cts, for its level, scale and
// domain, and records them as offline work: their counters (padCost) and
// the process's CPU time while it made them as offline seconds (as the
// mpc session times the dealer's), which a caller timing the run takes out
// of its online compute. A client decrypting earlier results meanwhile (a
// send does not wait for the client to read) would be counted with them:
// a run measured on one thread (sim.OneThread) lets it run only when the
// scheduler preempts this goroutine. Timing the pads by their own thread's
// CPU time instead (runtime.LockOSThread) costs more in the scheduler's
// hand-offs than it takes out (measured in the notes).
func (s *Server) makePads(tally *cost.Tally, cts []*rlwe.Ciphertext, sp returnPath) ([]pad, error) {
	start := cost.CPUSeconds()
	fl, err := newFlooder()
	if err != nil {
		return nil, err
	}
	t, bits := s.params.PlaintextModulus(), sp.floodInt()
	work := cost.NewTally(tally.Profile())
	pads := make([]pad, len(cts))
	for i, ct := range cts {
		r := fl.mask(t, s.params.MaxSlots())
		neg := make([]uint64, len(r))
		for j, x := range r {
			if x != 0 {
				neg[j] = t - x
			}
		}
		work.Op(cost.OpShare, 0, int64(len(r)))
		pt := bgv.NewPlaintext(s.params, ct.Level())
		*pt.MetaData = *ct.MetaData // its scale and domain: Encode and Encrypt follow them
		if err := s.ecd.Encode(neg, pt); err != nil {
			return nil, fmt.Errorf("exec: server: encoding a mask: %w", err)
		}
		work.Op(Domain(ct.IsBatched).encodeOp(), ct.Level(), 1)
		z := bgv.NewCiphertext(s.params, 1, ct.Level())
		if err := s.enc.Encrypt(pt, z); err != nil {
			return nil, fmt.Errorf("exec: server: encrypting a mask: %w", err)
		}
		work.Op(cost.OpEncrypt, ct.Level(), 1)
		if err := fl.flood(s.params.RingQ(), z, bits); err != nil {
			return nil, err
		}
		work.Op(cost.OpShare, 0, floodOps(s.params.LogN(), ct.Level(), bits))
		pads[i] = pad{z: z, r: r}
	}
	c := work.Cost()
	c.ComputeSeconds, c.OfflineSeconds = 0, cost.CPUSeconds()-start
	tally.Add(c)
	return pads, nil
}

// addPad adds the pad z to ct (at sp.from) and rescales ct to sp.to: the
// parallel part of sendOutputs.
func (s *Server) addPad(tally *cost.Tally, ct, z *rlwe.Ciphertext, sp returnPath) error {
	if err := s.eval.Add(ct, z, ct); err != nil {
		return fmt.Errorf("exec: server: adding a pad: %w", err)
	}
	tally.Op(cost.OpAdd, ct.Level(), 1)
	for ct.Level() > sp.to {
		lvl := ct.Level()
		if err := s.eval.Rescale(ct, ct); err != nil {
			return fmt.Errorf("exec: server: rescaling: %w", err)
		}
		tally.Op(cost.OpRescale, lvl, 1)
	}
	return nil
}
