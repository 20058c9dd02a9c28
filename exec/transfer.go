package exec

import (
	"fmt"
	"slices"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/net"
)

// The transfers every primitive is made of, priced and performed: the
// client sending its encrypted share (sendInputCost; Client.sendInputs,
// Server.recvInputs), the server adding its plaintext share (plainCost;
// Server.addPlain) and the server returning masked, flooded results
// (returnCost; Server.sendOutputs, Client.recvOutputs).

// Work that is not a homomorphic operation is priced through the existing
// cost.Op kinds, with these conventions (Run records the same events at
// the same places, so the counters stay exact):
//
//   - receiving a ciphertext (framing check and unmarshalling) is one
//     OpSerialize at its level, like sending it: a ciphertext that
//     crosses costs two serializations, one per party;
//   - laying out a slot vector (a party's share of an input, a diagonal,
//     the server's share added to a cache ciphertext, the mask of a
//     returned ciphertext, sampled and negated) is N OpShare, one per
//     slot (measured: 0.7 to 1.0 times that at log N 13 and 14);
//   - the flooding error of a ciphertext at level l whose coefficients
//     take w 64-bit words is N·(l+1)·(w+2) OpShare: sampling, w modular
//     multiply-adds per coefficient and prime to reduce it, and its NTT at
//     about two share operations per coefficient and prime (measured:
//     within 25% at log N 13 and 14).
//
// OpShare is priced per element and is the same at every level; these
// events are recorded at level 0. Expanding the seed of a client's
// ciphertext at level l into its c1 (Server.recvInput) is N·(l+1)
// cost.OpExpand, one per coefficient and prime, also at level 0.

// layoutCost is the layout of k slot vectors of 2^logN slots.
func layoutCost(prof *cost.Profile, logN int, k int64) cost.Cost {
	return prof.Charge(cost.OpShare, 0, k<<logN)
}

// floodOps is the OpShare count of the flooding error of one ciphertext at
// level with the given bound.
func floodOps(logN, level, bits int) int64 {
	words := int64(bits+1+63) / 64
	return int64(level+1) * (words + 2) << logN
}

// sendInputCost is both sides of sending k fresh ciphertexts at a level,
// their messages in dom, from the client: layout, encode, encrypt,
// serialize, the bytes, and the server's deserialization and expansion of
// the seed. The client prepares them (everything before the bytes) on
// clientCores (Client.sendEach).
func sendInputCost(prof *cost.Profile, logN, level int, dom Domain, k int64, clientCores int) cost.Cost {
	c := cost.Sum(
		layoutCost(prof, logN, k),
		prof.Charge(dom.encodeOp(), level, k),
		prof.Charge(cost.OpEncryptSecret, level, k),
		prof.Charge(cost.OpSerialize, level, 2*k),
		cost.Cost{BytesC2S: k * seededBytes(logN, level)},
		// the server expands each seed into c1: one uniform coefficient
		// per slot and prime
		prof.Charge(cost.OpExpand, 0, k*int64(level+1)<<logN),
	)
	return onCores(c, k, clientCores, func() cost.Cost {
		return cost.Sum(
			layoutCost(prof, logN, k),
			prof.Charge(dom.encodeOp(), level, k),
			prof.Charge(cost.OpEncryptSecret, level, k),
			prof.Charge(cost.OpSerialize, level, k),
		)
	})
}

// plainCost is the server adding k laid-out plaintext vectors to
// ciphertexts at a level whose messages are in dom (Server.addPlain):
// layout, encode, add.
func plainCost(prof *cost.Profile, logN, level int, dom Domain, k int64) cost.Cost {
	return cost.Sum(
		layoutCost(prof, logN, k),
		prof.Charge(dom.encodeOp(), level, k),
		prof.Charge(cost.OpAdd, level, k),
	)
}

// returnCost is both sides of returning k ciphertexts through sp: the
// server's pads (padCost, offline), adding them (one add each),
// rescales, serialization, bytes, deserialization, decryption and
// decoding on the client.
//
// The server adds the pads and rescales (everything between the pads and
// the serialization) on cores (Server.sendOutputs; see onCores), the
// client decrypts and decodes on clientCores (Client.recvBatches).
func returnCost(prof *cost.Profile, logN int, sp returnPath, dom Domain, k int64, cores, clientCores int) cost.Cost {
	return returnCostBatched(prof, logN, sp, dom, k, k, cores, clientCores)
}

// returnCostBatched is returnCost for ciphertexts returned in batches of
// at most batch (sendOutputs once per batch).
func returnCostBatched(prof *cost.Profile, logN int, sp returnPath, dom Domain, k, batch int64, cores, clientCores int) cost.Cost {
	prep := func() cost.Cost {
		c := prof.Charge(cost.OpAdd, sp.from, k)
		for lvl := sp.from; lvl > sp.to; lvl-- {
			c = c.Add(prof.Charge(cost.OpRescale, lvl, k))
		}
		return c
	}
	c := onCoresBatched(prep(), k, batch, cores, prep)
	c = c.Add(cost.Sum(
		padCost(prof, logN, sp, dom, k),
		prof.Charge(cost.OpSerialize, sp.to, 2*k),
		cost.Cost{BytesS2C: k * ctBytes(logN, sp.to)},
		prof.Charge(cost.OpDecrypt, sp.to, k),
		prof.Charge(dom.decodeOp(), sp.to, k),
	))
	return onCores(c, k, clientCores, func() cost.Cost {
		return cost.Sum(prof.Charge(cost.OpDecrypt, sp.to, k), prof.Charge(dom.decodeOp(), sp.to, k))
	})
}

// sendInputs encodes, encrypts at level and sends one ciphertext per slot
// vector.
func (c *Client) sendInputs(tally *cost.Tally, level int, vecs [][]uint64) error {
	return c.sendInputsIn(tally, level, Slots, vecs)
}

// sendInputsIn is sendInputs with the vectors encoded in dom (slots, or
// the coefficients of the plaintext polynomial).
func (c *Client) sendInputsIn(tally *cost.Tally, level int, dom Domain, vecs [][]uint64) error {
	for i, v := range vecs {
		if len(v) > c.params.MaxSlots() {
			return fmt.Errorf("exec: client: input vector %d has %d slots, a ciphertext %d", i, len(v), c.params.MaxSlots())
		}
	}
	return c.sendEach(tally, level, len(vecs), dom, func(i int, v []uint64) { copy(v, vecs[i]) })
}

// inputBacklog is the most input ciphertexts the client lets wait unread
// before it sends another (net.Pace): a server that consumes a long
// flight as it arrives (the values kernel) then never holds more than
// this many beside its own batch, whatever the flight's length.
const inputBacklog = 128

// sendInputsEach is sendInputs for k slot vectors that fill(i, v) writes
// into v (zeroed, MaxSlots long), a batch at a time (Client.batch, one per
// client core; fill may run on several goroutines at once): the client
// never holds more than a batch, and it waits while more than
// inputBacklog ciphertexts wait unread.
func (c *Client) sendInputsEach(tally *cost.Tally, level, k int, fill func(i int, v []uint64)) error {
	return c.sendEach(tally, level, k, Slots, fill)
}

// sendEach is sendInputsEach with the vectors encoded in dom.
func (c *Client) sendEach(tally *cost.Tally, level, k int, dom Domain, fill func(i int, v []uint64)) error {
	slots := c.params.MaxSlots()
	tally.Op(cost.OpShare, 0, int64(k)*int64(slots)) // the layout of the vectors
	window := inputBacklog * seededBytes(c.params.LogN(), level)
	vecs := make([][]uint64, c.batch())
	msgs := make([][]byte, c.batch()) // framed
	for start := 0; start < k; start += len(msgs) {
		n := min(len(msgs), k-start)
		if err := forPieces(n, c.cores, c.worker, func(j int, w *Client) error {
			if vecs[j] == nil {
				vecs[j] = make([]uint64, slots)
			}
			v := vecs[j]
			clear(v)
			fill(start+j, v)
			pt, buf := w.uploadBuffers(level)
			pt.IsBatched = bool(dom)
			if err := w.ecd.Encode(v, pt); err != nil {
				return fmt.Errorf("exec: client: encoding: %w", err)
			}
			tally.Op(dom.encodeOp(), level, 1)
			ct, err := w.encryptSeededInto(pt, buf)
			if err != nil {
				return err
			}
			tally.Op(cost.OpEncryptSecret, level, 1)
			if msgs[j], err = net.Frame(ct); err != nil {
				return fmt.Errorf("exec: client: marshalling: %w", err)
			}
			tally.Op(cost.OpSerialize, level, 1)
			return nil
		}); err != nil {
			return err
		}
		for j, m := range msgs[:n] {
			if err := net.Pace(c.conn, window); err != nil {
				return fmt.Errorf("exec: client: sending: %w", err)
			}
			if err := net.SendFrame(c.conn, m); err != nil {
				return fmt.Errorf("exec: client: sending: %w", err)
			}
			msgs[j] = nil // handed over
		}
	}
	return nil
}

// uploadBuffers are the plaintext and the ciphertext the client (or one of
// its workers) encodes and encrypts an upload at level into, made once
// per level and reused: a ciphertext is marshalled before the next is
// encrypted.
func (c *Client) uploadBuffers(level int) (*rlwe.Plaintext, *rlwe.Ciphertext) {
	if c.uploads == nil {
		c.uploads = make([]upload, c.params.MaxLevel()+1)
	}
	u := &c.uploads[level]
	if u.pt == nil {
		u.pt, u.ct = bgv.NewPlaintext(c.params, level), bgv.NewCiphertext(c.params, 1, level)
	}
	return u.pt, u.ct
}

// upload is one level's buffers of Client.uploadBuffers.
type upload struct {
	pt *rlwe.Plaintext
	ct *rlwe.Ciphertext
}

// recvInputs receives k ciphertexts from the client.
func (s *Server) recvInputs(tally *cost.Tally, k int) ([]*rlwe.Ciphertext, error) {
	return s.recvInputsIn(tally, k, Slots)
}

// recvInputsIn is recvInputs for ciphertexts whose message is in dom.
func (s *Server) recvInputsIn(tally *cost.Tally, k int, dom Domain) ([]*rlwe.Ciphertext, error) {
	cts := make([]*rlwe.Ciphertext, k)
	for i := range cts {
		ct, err := s.recvInput(tally, i, k, dom)
		if err != nil {
			return nil, err
		}
		cts[i] = ct
	}
	return cts, nil
}

// recvInput receives the client's ciphertext i of k, seeded (see
// seeded.go), whose message is in dom, and expands it; it records the
// deserialization and the expansion of the seed.
func (s *Server) recvInput(tally *cost.Tally, i, k int, dom Domain) (*rlwe.Ciphertext, error) {
	msg, err := s.conn.Recv()
	if err == nil {
		var payload []byte
		if payload, err = net.Unframe(msg); err == nil {
			var ct *rlwe.Ciphertext
			ct, err = unmarshalSeeded(s.params, payload, dom)
			net.Recycle(msg) // ct holds copies
			if err == nil {
				tally.Op(cost.OpSerialize, ct.Level(), 1)
				tally.Op(cost.OpExpand, 0, int64(ct.Level()+1)*int64(s.params.N()))
				return ct, nil
			}
		}
	}
	return nil, fmt.Errorf("exec: server: receiving ciphertext %d of %d: %w", i+1, k, err)
}

// recvOutput receives the server's ciphertext i of k, whose message is
// in dom: a whole degree-1 ciphertext, whose deserialization it records.
func (c *Client) recvOutput(tally *cost.Tally, i, k int, dom Domain) (*rlwe.Ciphertext, error) {
	ct, err := recvCiphertext(c.params, c.conn, dom)
	if err == nil && ct.Degree() != 1 {
		err = fmt.Errorf("exec: a ciphertext of degree %d, want 1", ct.Degree())
	}
	if err != nil {
		return nil, fmt.Errorf("exec: client: receiving ciphertext %d of %d: %w", i+1, k, err)
	}
	tally.Op(cost.OpSerialize, ct.Level(), 1)
	return ct, nil
}

// addPlain adds the encoding of v (at ct's scale and level, in its
// domain) to ct. It records the layout of v too (see plainCost).
func (s *Server) addPlain(tally *cost.Tally, ct *rlwe.Ciphertext, v []uint64) error {
	tally.Op(cost.OpShare, 0, int64(s.params.MaxSlots()))
	pt := s.buf.plaintext(s.params, ct.Level())
	pt.Scale = ct.Scale
	pt.IsBatched = ct.IsBatched
	if err := s.ecd.Encode(v, pt); err != nil {
		return fmt.Errorf("exec: server: encoding: %w", err)
	}
	tally.Op(Domain(ct.IsBatched).encodeOp(), ct.Level(), 1)
	if err := s.eval.Add(ct, pt, ct); err != nil {
		return fmt.Errorf("exec: server: adding: %w", err)
	}
	tally.Op(cost.OpAdd, ct.Level(), 1)
	return nil
}

// sendOutputs returns cts to the client through sp: adds to each a pad
// (an encryption of a fresh uniform mask's opposite, flooded; see pad),
// rescales it, sends it. It returns the masks: the server's shares.
//
// It goes through cts in chunks of padChunk per core: the pads of a chunk
// (made serially, offline work), then the chunk padded and rescaled on
// the server's cores and sent in order as each piece is ready, so that
// the client decrypts the first ones while the server prepares the next,
// and no more than a chunk of pads is held at once.
func (s *Server) sendOutputs(tally *cost.Tally, cts []*rlwe.Ciphertext, sp returnPath) ([][]uint64, error) {
	if s.inspect != nil {
		s.inspect(cts, sp.public())
	}
	for _, ct := range cts {
		if ct.Level() != sp.from {
			return nil, fmt.Errorf("exec: server: ciphertext at level %d, planned %d", ct.Level(), sp.from)
		}
	}
	masks := make([][]uint64, len(cts))
	step := padChunk * max(s.cores, 1)
	for from := 0; from < len(cts); from += step {
		to := min(len(cts), from+step)
		pads, err := s.makePads(tally, cts[from:to], sp)
		if err != nil {
			return nil, err
		}
		if err := s.padAndSend(tally, cts[from:to], pads, sp, masks[from:to]); err != nil {
			return nil, err
		}
	}
	return masks, nil
}

// padChunk is the pads made at once per server core (see sendOutputs): a
// few, so that the cores have work to share, and their memory (a
// ciphertext each) stays small.
const padChunk = 4

// padAndSend adds pads[i] to cts[i] and rescales it on the server's
// cores, sends each in order as it is ready and sets masks[i] to its
// pad's mask.
func (s *Server) padAndSend(tally *cost.Tally, cts []*rlwe.Ciphertext, pads []pad, sp returnPath, masks [][]uint64) error {
	ready := make([]chan struct{}, len(cts))
	for i := range ready {
		ready[i] = make(chan struct{})
	}
	prepared := make(chan error, 1)
	go func() {
		prepared <- s.forEach(len(cts), func(i int, w *Server) error {
			err := w.addPad(tally, cts[i], pads[i].z, sp)
			if err == nil {
				masks[i] = pads[i].r
				close(ready[i])
			}
			return err
		})
	}()
	all := false // every piece prepared
	for i, ct := range cts {
		if !all {
			select {
			case <-ready[i]:
			case err := <-prepared:
				if err != nil {
					return err
				}
				all = true
			}
		}
		tally.Op(cost.OpSerialize, ct.Level(), 1)
		if err := net.SendObject(s.conn, ct); err != nil {
			if !all {
				<-prepared
			}
			return fmt.Errorf("exec: server: sending: %w", err)
		}
	}
	if !all {
		return <-prepared
	}
	return nil
}

// recvOutputs receives k ciphertexts and decrypts them.
func (c *Client) recvOutputs(tally *cost.Tally, k int) ([][]uint64, error) {
	return c.recvOutputsIn(tally, k, Slots)
}

// recvOutputsIn is recvOutputs for ciphertexts whose message is in dom:
// the vectors are the slots or the coefficients.
func (c *Client) recvOutputsIn(tally *cost.Tally, k int, dom Domain) ([][]uint64, error) {
	out := make([][]uint64, k)
	err := c.recvBatches(tally, k, dom, func(i int, v []uint64) { out[i] = slices.Clone(v) })
	return out, err
}

// recvOutputsEach is recvOutputs handing each decrypted vector to f (i,
// v) in order, v reused once f returns: the client never holds more than
// a batch.
func (c *Client) recvOutputsEach(tally *cost.Tally, k int, f func(i int, v []uint64)) error {
	return c.recvBatches(tally, k, Slots, f)
}

// recvBatches receives k ciphertexts whose message is in dom, a batch at
// a time (Client.batch), decrypts and decodes each batch on the client's
// cores and hands the vectors to f in order.
func (c *Client) recvBatches(tally *cost.Tally, k int, dom Domain, f func(i int, v []uint64)) error {
	cts := make([]*rlwe.Ciphertext, c.batch())
	vecs := make([][]uint64, c.batch())
	for start := 0; start < k; start += len(cts) {
		n := min(len(cts), k-start)
		for j := range n {
			ct, err := c.recvOutput(tally, start+j, k, dom)
			if err != nil {
				return err
			}
			cts[j] = ct
		}
		if err := forPieces(n, c.cores, c.worker, func(j int, w *Client) error {
			if vecs[j] == nil {
				vecs[j] = make([]uint64, w.params.MaxSlots())
			}
			pt := w.buf.plaintext(w.params, cts[j].Level())
			w.dec.Decrypt(cts[j], pt)
			tally.Op(cost.OpDecrypt, cts[j].Level(), 1)
			if err := w.ecd.Decode(pt, vecs[j]); err != nil {
				return fmt.Errorf("exec: client: decoding: %w", err)
			}
			tally.Op(dom.decodeOp(), cts[j].Level(), 1)
			return nil
		}); err != nil {
			return err
		}
		for j := range n {
			f(start+j, vecs[j])
		}
	}
	return nil
}

// chunk splits v into slot vectors of n elements (the last one zero-padded).
