// Package calibrate measures, on this machine, the seconds of every
// operation a cost.Profile prices: each homomorphic operation of a BGV or
// CKKS parameter set at every level (encode and decode, in the slots and,
// for BGV, in the coefficients, public- and secret-key encryption,
// decryption, addition, ct-pt and ct-ct products, rotations, hoisted
// rotations, rescale, serialization, a seed's expansion), one modular
// operation on a share (in a tight loop and as the two-party protocols
// make them), a round's own work, one level of a comparison key, and the
// dealer's work of the two-party protocols (dealing and expanding
// triples, truncation masks and comparison keys). It is what cgsim
// calibrate runs; the estimate engine prices everything with the profile
// it writes. It depends on lattigo, cost, net (the transport a
// serialization crosses), params, exec/mpc and internal/seedprg (the
// client's PRG, whose encryptions it times) only: the primitives of
// package exec are priced through the profile, not measured here.
package calibrate

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/ring/ringqp"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
	"github.com/tuneinsight/lattigo/v5/schemes/ckks"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/internal/seedprg"
	"github.com/cgsim/cgsim/params"
)

// Version is the version of the calibration and of the code it measures,
// recorded in every profile (cost.Profile.Calibration). It changes when
// either does: 2 when each op got an output of its own, seeds and
// comparison levels their own prices; 3 when a comparison level's
// evaluation stopped allocating; 4 when decoding, the coefficient
// encodings and the protocols' share operations got prices of their own,
// the operations on ciphertexts found their operands out of the caches
// (evict.go) and a serialization became half a crossing of the transport
// (crossing.go); 5 when the protocols' steps kept their message buffers
// (cheaper share operations) and profiles recorded the CPU's family; 6
// when the transport wrote ciphertexts straight into recycled frames
// (cheaper serializations and share operations).
const Version = 6

// Options controls how long a calibration measures.
type Options struct {
	// Repetitions are the timed calls of one round of one operation at one
	// level; a round keeps their median. Zero means 15.
	Repetitions int
	// Rounds is the least number of interleaved rounds, MaxRounds the
	// most, and Tolerance the spread of the round medians at which an
	// operation above a millisecond is stable (see measure.go). Zero means
	// 3, 8 and 0.03.
	Rounds, MaxRounds int
	Tolerance         float64
	// Hoisted is how many rotations share one hoisted decomposition when the
	// price of a hoisted rotation is measured: the batch's time less the
	// decomposition's, divided by Hoisted (the marginal rotation of a
	// batch; its first rotation is priced as a plain one). Zero means 8.
	Hoisted int
	// Progress, if not nil, is called after each measurement with the number
	// done and the total.
	Progress func(done, total int)
	// Machine is a free-text description stored in the profile.
	Machine string
	// FixedPoint is the preset's share ring (params.Preset.FixedPoint).
	// When set (T != 0), BGV also measures the dealer's operations
	// (cost.OfflineOps and cost.OpDealLookup), a round, the protocols'
	// share operations, a comparison level and a lookup table's entry at
	// its modulus, which must be the parameters'
	// plaintext modulus (see Dealing); when zero, the profile has none
	// of them and prices the dealer's seconds at zero.
	FixedPoint params.FixedPoint
}

func (o Options) withDefaults() Options {
	if o.Repetitions <= 0 {
		o.Repetitions = 15
	}
	if o.Hoisted <= 0 {
		o.Hoisted = 8
	}
	if o.Rounds <= 0 {
		o.Rounds = defaultRounds
	}
	if o.MaxRounds < o.Rounds {
		o.MaxRounds = max(o.Rounds, defaultMaxRounds)
	}
	if !(o.Tolerance > 0) {
		o.Tolerance = defaultTolerance
	}
	if o.Machine == "" {
		o.Machine = cost.ThisMachine().String()
	}
	return o
}

// scheme is what Calibrate needs of a scheme: fresh operands at a level and
// the operations to time, each a closure that does one operation.
type scheme struct {
	name   string
	params rlwe.Parameters
	// newPlaintext is the scheme's plaintext at a level, as its primitives
	// allocate it (batched: values in the slots, encoded through the
	// slot transform), and encode encodes the same values into it.
	newPlaintext func(level int) *rlwe.Plaintext
	encode       func(pt *rlwe.Plaintext) error
	// decode decodes a batched plaintext into the slot values; with a
	// coefficient domain (BGV), encodeCoeffs and decodeCoeffs do the same
	// for a plaintext whose message is its coefficients (nil without).
	decode                     func(pt *rlwe.Plaintext) error
	encodeCoeffs, decodeCoeffs func(pt *rlwe.Plaintext) error
	eval                       schemeEvaluator
	plainT                     uint64 // modulus of share operations: t for BGV, a 61-bit prime for CKKS
}

// schemeEvaluator is the part of bgv.Evaluator and ckks.Evaluator that
// Calibrate times.
type schemeEvaluator interface {
	Add(op0 *rlwe.Ciphertext, op1 rlwe.Operand, opOut *rlwe.Ciphertext) error
	Mul(op0 *rlwe.Ciphertext, op1 rlwe.Operand, opOut *rlwe.Ciphertext) error
	MulRelin(op0 *rlwe.Ciphertext, op1 rlwe.Operand, opOut *rlwe.Ciphertext) error
	Rescale(op0, opOut *rlwe.Ciphertext) error
	Automorphism(ctIn *rlwe.Ciphertext, galEl uint64, opOut *rlwe.Ciphertext) error
	AutomorphismHoisted(level int, ctIn *rlwe.Ciphertext, c1DecompQP []ringqp.Poly, galEl uint64, opOut *rlwe.Ciphertext) error
	DecomposeNTT(levelQ, levelP, nbPi int, c2 ring.Poly, c2IsNTT bool, decompQP []ringqp.Poly)
	GetBuffDecompQP() []ringqp.Poly
}

// BGV measures a cost.Profile for BGV parameters on this machine.
// name is the preset name stored in the profile.
func BGV(name string, p bgv.Parameters, opt Options) (*cost.Profile, error) {
	ecd := bgv.NewEncoder(p)
	values, decoded := make([]uint64, p.MaxSlots()), make([]uint64, p.MaxSlots())
	for i := range values {
		values[i] = rand.Uint64N(p.PlaintextModulus())
	}
	keys, err := calibrationKeys(*p.GetRLWEParameters())
	if err != nil {
		return nil, err
	}
	s := scheme{
		name:         "BGV",
		params:       *p.GetRLWEParameters(),
		newPlaintext: func(level int) *rlwe.Plaintext { return bgv.NewPlaintext(p, level) },
		encode:       func(pt *rlwe.Plaintext) error { return ecd.Encode(values, pt) },
		decode:       func(pt *rlwe.Plaintext) error { return ecd.Decode(pt, decoded) },
		encodeCoeffs: func(pt *rlwe.Plaintext) error { pt.IsBatched = false; return ecd.Encode(values, pt) },
		decodeCoeffs: func(pt *rlwe.Plaintext) error { pt.IsBatched = false; return ecd.Decode(pt, decoded) },
		eval:         bgv.NewEvaluator(p, keys.evk),
		plainT:       p.PlaintextModulus(),
	}
	if opt.FixedPoint.T == 0 {
		return calibrate(name, s, keys, opt)
	}
	if t := p.PlaintextModulus(); opt.FixedPoint.T != t {
		return nil, fmt.Errorf("exec: calibrate %s: the fixed point's modulus %d is not the plaintext modulus %d", name, opt.FixedPoint.T, t)
	}
	// The dealing is one more step of the progress.
	progress, last := opt.Progress, 0
	if progress != nil {
		opt.Progress = func(done, total int) { last = total + 1; progress(done, total+1) }
	}
	prof, err := calibrate(name, s, keys, opt)
	if err != nil {
		return nil, err
	}
	// What the homomorphic operations allocated is garbage now: returned
	// to the system before the two-party work is timed, which the runtime
	// would otherwise do while it runs, on the CPU time it is measured by.
	debug.FreeOSMemory()
	deal, err := Dealing(opt.FixedPoint, opt)
	if err != nil {
		return nil, fmt.Errorf("exec: calibrate %s: %w", name, err)
	}
	for op, secs := range deal {
		setFlat(prof, op, secs)
	}
	debug.FreeOSMemory() // the comparison keys dealt, likewise
	round, err := Round(opt.FixedPoint, prof, opt)
	if err != nil {
		return nil, fmt.Errorf("exec: calibrate %s: %w", name, err)
	}
	setFlat(prof, cost.OpRound, round)
	shareSecs, err := ShareProtocol(opt.FixedPoint, prof, opt)
	if err != nil {
		return nil, fmt.Errorf("exec: calibrate %s: %w", name, err)
	}
	setFlat(prof, cost.OpShareProtocol, shareSecs)
	dcf, err := DCF(opt.FixedPoint, prof, opt)
	if err != nil {
		return nil, fmt.Errorf("exec: calibrate %s: %w", name, err)
	}
	setFlat(prof, cost.OpDCF, dcf)
	lut, err := LUT(opt.FixedPoint, prof, opt)
	if err != nil {
		return nil, fmt.Errorf("exec: calibrate %s: %w", name, err)
	}
	setFlat(prof, cost.OpLUT, lut)
	if progress != nil {
		progress(last, last)
	}
	if err := prof.Validate(); err != nil {
		return nil, fmt.Errorf("exec: calibrate %s: %w", name, err)
	}
	return prof, nil
}

// CKKS measures a cost.Profile for CKKS parameters on this machine.
func CKKS(name string, p ckks.Parameters, opt Options) (*cost.Profile, error) {
	ecd := ckks.NewEncoder(p)
	values, decoded := make([]float64, p.MaxSlots()), make([]float64, p.MaxSlots())
	for i := range values {
		values[i] = rand.Float64()*2 - 1
	}
	keys, err := calibrationKeys(*p.GetRLWEParameters())
	if err != nil {
		return nil, err
	}
	s := scheme{
		name:         "CKKS",
		params:       *p.GetRLWEParameters(),
		newPlaintext: func(level int) *rlwe.Plaintext { return ckks.NewPlaintext(p, level) },
		encode:       func(pt *rlwe.Plaintext) error { return ecd.Encode(values, pt) },
		decode:       func(pt *rlwe.Plaintext) error { return ecd.Decode(pt, decoded) },
		eval:         ckks.NewEvaluator(p, keys.evk),
		plainT:       0x1fffffffffe00001, // a 61-bit NTT-friendly prime: share arithmetic of the same width
	}
	return calibrate(name, s, keys, opt)
}

type calibrationKey struct {
	sk    *rlwe.SecretKey
	pk    *rlwe.PublicKey
	evk   *rlwe.MemEvaluationKeySet
	galEl []uint64 // rotations by 1, 2, ..., Hoisted-ish, enough for the hoisted batch
}

// calibrationRotations is the number of distinct rotation keys generated;
// it bounds Options.Hoisted.
const calibrationRotations = 16

func calibrationKeys(p rlwe.Parameters) (calibrationKey, error) {
	kgen := rlwe.NewKeyGenerator(p)
	sk, pk := kgen.GenKeyPairNew()
	var k calibrationKey
	k.sk, k.pk = sk, pk
	for i := 1; i <= calibrationRotations; i++ {
		k.galEl = append(k.galEl, p.GaloisElement(i))
	}
	k.evk = rlwe.NewMemEvaluationKeySet(kgen.GenRelinearizationKeyNew(sk), kgen.GenGaloisKeysNew(k.galEl, sk)...)
	return k, nil
}

var (
	_ schemeEvaluator = (*bgv.Evaluator)(nil)
	_ schemeEvaluator = (*ckks.Evaluator)(nil)
)

func calibrate(name string, s scheme, keys calibrationKey, opt Options) (*cost.Profile, error) {
	opt = opt.withDefaults()
	if opt.Hoisted > calibrationRotations {
		return nil, fmt.Errorf("exec: calibrate: at most %d hoisted rotations, got %d", calibrationRotations, opt.Hoisted)
	}
	p := s.params
	maxLevel := p.MaxLevel()
	host := cost.ThisMachine()
	prof := &cost.Profile{
		Params: name, Scheme: s.name, LogN: p.LogN(), MaxLevel: maxLevel,
		Machine: opt.Machine, CPU: host.CPU, Family: host.Family, MHz: host.MHz, Cores: host.Cores, GoVersion: host.GoVersion,
		Calibration: Version,
		Date:        time.Now().UTC().Format(time.RFC3339),
		Seconds:     map[cost.Op][]float64{},
	}
	measured := append(cost.Ops(), cost.OpExpand, cost.OpDecode)
	if s.encodeCoeffs != nil {
		measured = append(measured, cost.OpEncodeCoeffs, cost.OpDecodeCoeffs)
	}
	for _, op := range measured {
		prof.Seconds[op] = make([]float64, maxLevel+1)
	}
	enc := rlwe.NewEncryptor(p, keys.pk)
	encSK := rlwe.NewEncryptor(p, keys.sk)
	seed := make([]byte, seedprg.SeedBytes) // a seed's bytes do not change its price
	dec := rlwe.NewDecryptor(p, keys.sk)
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	type timed struct {
		op    cost.Op
		level int
		m     *measurement
	}
	var all []timed
	decomps := make([]*measurement, maxLevel+1)
	ev := newEvictor()
	pipe, closePipe := newLoopback()
	defer closePipe()
	hoisted := keys.galEl[:opt.Hoisted]
	for level := maxLevel; level >= 0; level-- {
		// A batched plaintext, as the primitives encode theirs: an
		// unbatched rlwe.Plaintext skips the slot transform (an inverse NTT
		// modulo t for BGV) and prices an encode 20-50% low.
		pt := s.newPlaintext(level)
		keep(s.encode(pt))
		ct0, ct1 := rlwe.NewCiphertext(p, 1, level), rlwe.NewCiphertext(p, 1, level)
		keep(enc.Encrypt(pt, ct0))
		keep(enc.Encrypt(pt, ct1))
		if firstErr != nil {
			return nil, fmt.Errorf("exec: calibrate %s: preparing level %d: %w", name, level, firstErr)
		}
		// Each closure writes into an output of its own, checked to stay
		// at its level: lattigo's evaluators work at the least level of
		// the operands and the output, so an output shared with the
		// rescale (which leaves it a level lower) would price every later
		// operation a level low.
		ptEnc, ptDec := s.newPlaintext(level), s.newPlaintext(level)
		out := func() *rlwe.Ciphertext { return rlwe.NewCiphertext(p, 1, level) }
		outEnc, outEncSK, outAdd, outMul, outRelin, outRot, outHoist := out(), out(), out(), out(), out(), out(), out()
		timings := []timing{
			{cost.OpEncode, 1, atLevel(ptEnc, level, func() error { return s.encode(ptEnc) })},
			{cost.OpEncrypt, 1, atLevel(outEnc, level, func() error { return enc.Encrypt(pt, outEnc) })},
			// As the client encrypts what it sends: c1 from a seed of its
			// own (exec's seeded uploads).
			{cost.OpEncryptSecret, 1, atLevel(outEncSK, level, func() error {
				prng, err := seedprg.New(seed)
				if err != nil {
					return err
				}
				return encSK.WithPRNG(prng).Encrypt(pt, outEncSK)
			})},
			{cost.OpDecrypt, 1, atLevel(ptDec, level, func() error { dec.Decrypt(ct0, ptDec); return nil })},
			// A decrypted plaintext, decoded as the client does.
			{cost.OpDecode, 1, func() error { return s.decode(ptDec) }},
			{cost.OpAdd, 1, atLevel(outAdd, level, func() error { return s.eval.Add(ct0, ct1, outAdd) })},
			{cost.OpMulPlain, 1, atLevel(outMul, level, func() error { return s.eval.Mul(ct0, pt, outMul) })},
			{cost.OpMulCipher, 1, atLevel(outRelin, level, func() error { return s.eval.MulRelin(ct0, ct1, outRelin) })},
			{cost.OpRotate, 1, atLevel(outRot, level, func() error { return s.eval.Automorphism(ct0, keys.galEl[0], outRot) })},
			// A batch of hoisted rotations, less its decomposition (timed
			// apart below): the marginal rotation of a batch. The first
			// rotation of a batch pays the decomposition and is priced as
			// an OpRotate (see Linear).
			{cost.OpRotateHoisted, len(hoisted), atLevel(outHoist, level, func() error {
				buf := s.eval.GetBuffDecompQP()
				s.eval.DecomposeNTT(level, p.MaxLevelP(), p.PCount(), ct0.Value[1], ct0.IsNTT, buf)
				for _, g := range hoisted {
					if err := s.eval.AutomorphismHoisted(level, ct0, buf, g, outHoist); err != nil {
						return err
					}
				}
				return nil
			})},
			// Half of a crossing: marshalled, framed and sent by one
			// party, received, unframed and unmarshalled into a new
			// ciphertext by the other.
			{cost.OpSerialize, 2, func() error { return cross(pipe, ct0) }},
			{cost.OpShare, p.N(), shareOps(p.N(), s.plainT)},
		}
		// The expansion of a seed into a uniform c1 costs the same per
		// coefficient and prime at every level: measured at the top one.
		if level == maxLevel {
			c1 := p.RingQ().AtLevel(level).NewPoly()
			timings = append(timings, timing{cost.OpExpand, (level + 1) * p.N(), func() error {
				prng, err := seedprg.New(seed)
				if err != nil {
					return err
				}
				ringqp.NewUniformSampler(prng, *p.RingQP()).AtLevel(level, -1).Read(ringqp.Poly{Q: c1})
				return nil
			}})
		}
		// A rescale needs a level to drop: at level 0 the entry is the
		// level-1 price (see below).
		if level > 0 {
			outRescale := rlwe.NewCiphertext(p, 1, level-1)
			timings = append(timings, timing{cost.OpRescale, 1, atLevel(outRescale, level-1, func() error { return s.eval.Rescale(ct0, outRescale) })})
		}
		if s.encodeCoeffs != nil {
			ptCoeffs := s.newPlaintext(level)
			timings = append(timings,
				timing{cost.OpEncodeCoeffs, 1, atLevel(ptCoeffs, level, func() error { return s.encodeCoeffs(ptCoeffs) })},
				timing{cost.OpDecodeCoeffs, 1, func() error { return s.decodeCoeffs(ptCoeffs) }})
		}
		for _, tm := range timings {
			m := &measurement{name: fmt.Sprintf("%s at level %d", tm.op, level), per: float64(tm.per), run: tm.run}
			if fromMemory(tm.op) {
				m.prepare = ev.evict
			}
			all = append(all, timed{tm.op, level, m})
		}
		decomps[level] = &measurement{name: fmt.Sprintf("decomposition at level %d", level), per: 1, prepare: ev.evict, run: func() error {
			s.eval.DecomposeNTT(level, p.MaxLevelP(), p.PCount(), ct0.Value[1], ct0.IsNTT, s.eval.GetBuffDecompQP())
			return nil
		}}
	}
	ms := make([]*measurement, 0, len(all)+len(decomps))
	for _, t := range all {
		ms = append(ms, t.m)
	}
	ms = append(ms, decomps...)
	rounds, err := meter{clock: cost.CPUSeconds, opt: opt}.measure(ms, opt.Progress)
	if err != nil {
		return nil, fmt.Errorf("exec: calibrate %s: %w", name, err)
	}
	prof.Rounds = rounds
	for _, t := range all {
		prof.Seconds[t.op][t.level] = t.m.best()
		spreadOf(prof, t.op, t.m)
		if t.op == cost.OpRotateHoisted {
			if h := t.m.best() - decomps[t.level].best()/float64(len(hoisted)); h > 0 {
				prof.Seconds[t.op][t.level] = h
			}
		}
	}
	for lvl := range maxLevel {
		prof.Seconds[cost.OpExpand][lvl] = prof.Seconds[cost.OpExpand][maxLevel]
	}
	// No rescale happens at level 0; price it as at level 1 so that the
	// profile is complete (or as an addition, for a single-level chain,
	// which has no rescale to measure).
	if maxLevel > 0 {
		prof.Seconds[cost.OpRescale][0] = prof.Seconds[cost.OpRescale][1]
	} else {
		prof.Seconds[cost.OpRescale][0] = prof.Seconds[cost.OpAdd][0]
		prof.Spread[cost.OpRescale] = 0
	}
	if err := prof.Validate(); err != nil {
		return nil, fmt.Errorf("exec: calibrate %s: %w", name, err)
	}
	return prof, nil
}

// fromMemory reports whether op is timed on operands out of the caches
// (see evict.go): the operations on ciphertexts.
func fromMemory(op cost.Op) bool {
	switch op {
	case cost.OpDecrypt, cost.OpAdd, cost.OpMulPlain, cost.OpMulCipher, cost.OpRotate, cost.OpRotateHoisted, cost.OpRescale, cost.OpSerialize:
		return true
	}
	return false
}

// timing is one operation to time at a level: run does per operations.
type timing struct {
	op  cost.Op
	per int
	run func() error
}

// leveled is a ciphertext or a plaintext: an operation's output.
type leveled interface{ Level() int }

// atLevel returns run, checked to leave its output at level: a calibration
// that timed an operation at another level than the one it prices would
// be an error, not a silently wrong profile.
func atLevel(out leveled, level int, run func() error) func() error {
	return func() error {
		if err := run(); err != nil {
			return err
		}
		if l := out.Level(); l != level {
			return fmt.Errorf("the output is at level %d, not %d", l, level)
		}
		return nil
	}
}

// shareOps returns a closure doing n multiply-adds modulo t on share
// vectors, the typical local step of a 2PC protocol.
func shareOps(n int, t uint64) func() error {
	a, b, c := make([]uint64, n), make([]uint64, n), make([]uint64, n)
	for i := range a {
		a[i], b[i] = rand.Uint64N(t), rand.Uint64N(t)
	}
	return func() error {
		for i := range c {
			hi, lo := bits.Mul64(a[i], b[i])
			_, r := bits.Div64(hi%t, lo, t)
			c[i] = (c[i] + r) % t
		}
		return nil
	}
}
