package exec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/big"
	"sync"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/ring/ringqp"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
	"github.com/cgsim/cgsim/net"
)

// Validation of lattigo payloads. A net frame (length and CRC) only proves
// that the bytes arrived as they were sent; lattigo's parsers trust what
// they read: a short polynomial makes buffer.ReadUint64Slice recurse until
// the stack overflows (no recover catches that), a length field allocates
// whatever it says, and a malformed scale in the metadata dereferences a
// nil pointer. Every lattigo object that comes from the network or a file
// is therefore checked against the exact layout lattigo would produce for
// the parameters before lattigo parses it, and checked again after
// (every polynomial row N coefficients, each below its prime):
//
//   - a ciphertext: metadata flag 1, the metadata of a BGV ciphertext of
//     these parameters (only the scale may differ, and it must be an
//     integer in [1, t)), degree 1 or 2, level at most MaxLevel, every
//     polynomial level+1 rows of N words, and exactly the byte length
//     lattigo's BinarySize gives for that degree and level;
//   - a public key, a relinearization key, a Galois key: exactly the
//     template's length, and every byte that is not a coefficient (length
//     fields, decomposition parameters, Galois element, root) equal to
//     the template's (a template is the zero key of the parameters,
//     marshalled; its structural bytes are those that do not change when
//     every coefficient is set to all ones);
//   - the evaluation keys travel as one message per key after a bounded
//     list of Galois elements (at most N distinct odd elements below 2N),
//     so each key is checked against its template.
//
// UnmarshalCiphertext, UnmarshalPublicKey, UnmarshalRelinearizationKey and
// UnmarshalGaloisKey are the only ways this package turns received bytes
// into lattigo objects; package kv uses them for its files.

// CiphertextBinarySize is the length of a marshalled BGV ciphertext of the
// given degree and level (lattigo's BinarySize): metadata flag, metadata,
// polynomial count, and degree+1 polynomials of level+1 rows of N words,
// every count a uint64.
func CiphertextBinarySize(p bgv.Parameters, degree, level int) int {
	return int(CiphertextSize(p.LogN(), degree, level))
}

// CiphertextSize is the marshalled size of a degree-degree ciphertext at a
// level over a ring of degree 2^logN (the layout above): a metadata flag,
// the metadata, the polynomial count, and per polynomial its row count and
// (level+1) rows of a length prefix and N words. It is the one size
// formula of cgsim: the wire checks, the estimates of what is sent
// (plus net.FrameOverhead) and the cache's memory use it.
func CiphertextSize(logN, degree, level int) int64 {
	poly := 8 + int64(level+1)*(8+8*(int64(1)<<logN))
	return 1 + int64(rlwe.MetaData{}.BinarySize()) + 8 + int64(degree+1)*poly
}

// ctMetaTemplate is the marshalled metadata of a fresh BGV ciphertext of
// p, split around its scale's value string.
type ctMetaTemplate struct {
	prefix, suffix []byte
	valueLen       int
}

var scaleValueKey = []byte(`"Scale":{"Value":"`)

// ciphertextMeta is the template of p's ciphertexts whose message is in
// the slots (batched) or in the coefficients (not batched).
func ciphertextMeta(p bgv.Parameters, batched bool) (ctMetaTemplate, error) {
	ct := bgv.NewCiphertext(p, 1, 0)
	ct.IsBatched = batched
	b, err := ct.MetaData.MarshalBinary()
	if err != nil {
		return ctMetaTemplate{}, err
	}
	i := bytes.Index(b, scaleValueKey)
	if i < 0 {
		return ctMetaTemplate{}, fmt.Errorf("exec: internal error: unexpected lattigo metadata %q", b)
	}
	start := i + len(scaleValueKey)
	end := bytes.IndexByte(b[start:], '"')
	if end < 0 {
		return ctMetaTemplate{}, fmt.Errorf("exec: internal error: unexpected lattigo metadata %q", b)
	}
	return ctMetaTemplate{prefix: b[:start], suffix: b[start+end:], valueLen: end}, nil
}

// CheckCiphertextBytes checks that b is the marshalling of a BGV
// ciphertext of p (see the layout above) whose message is in the slots,
// without letting lattigo parse it, and returns its degree and level.
func CheckCiphertextBytes(p bgv.Parameters, b []byte) (degree, level int, err error) {
	return checkCiphertextBytes(p, b, Slots)
}

// Domain is where a ciphertext's message lies: in the N slots (batched,
// the default of lattigo's encoder) or in the N coefficients of the
// plaintext polynomial (the rotation-free linear layers). A party that
// receives a ciphertext knows which it expects and refuses the other.
type Domain bool

const (
	Slots        Domain = true
	Coefficients Domain = false
)

// encodeOp and decodeOp are the profile's operations of encoding a vector
// into a plaintext in d and of decoding one from it.
func (d Domain) encodeOp() cost.Op {
	if d == Slots {
		return cost.OpEncode
	}
	return cost.OpEncodeCoeffs
}

func (d Domain) decodeOp() cost.Op {
	if d == Slots {
		return cost.OpDecode
	}
	return cost.OpDecodeCoeffs
}

func (d Domain) String() string {
	if d == Slots {
		return "slots"
	}
	return "coefficients"
}

func checkCiphertextBytes(p bgv.Parameters, b []byte, dom Domain) (degree, level int, err error) {
	return checkCiphertextDegree(p, b, dom, 1, 2)
}

// checkCiphertextDegree is checkCiphertextBytes for a ciphertext of degree
// lo to hi (0: c0 alone, a seeded ciphertext's body).
func checkCiphertextDegree(p bgv.Parameters, b []byte, dom Domain, lo, hi int) (degree, level int, err error) {
	md := rlwe.MetaData{}.BinarySize()
	head := 1 + md + 8 + 8
	if len(b) < head {
		return 0, 0, fmt.Errorf("exec: ciphertext of %d bytes, shorter than a header (%d)", len(b), head)
	}
	if b[0] != 1 {
		return 0, 0, fmt.Errorf("exec: ciphertext without metadata")
	}
	if err := checkCiphertextMeta(p, b[1:1+md], dom); err != nil {
		return 0, 0, err
	}
	d := &reader{b: b[1+md:]}
	polys := d.u64()
	if polys < uint64(lo+1) || polys > uint64(hi+1) {
		return 0, 0, fmt.Errorf("exec: ciphertext of %d polynomials, want %d to %d (degree %d to %d)", polys, lo+1, hi+1, lo, hi)
	}
	rows := binary.LittleEndian.Uint64(d.b)
	if rows < 1 || rows > uint64(p.MaxLevel()+1) {
		return 0, 0, fmt.Errorf("exec: ciphertext polynomial of %d rows, the parameters have levels 0..%d", rows, p.MaxLevel())
	}
	degree, level = int(polys)-1, int(rows)-1
	if want := CiphertextBinarySize(p, degree, level); len(b) != want {
		return 0, 0, fmt.Errorf("exec: ciphertext of %d bytes, a degree-%d ciphertext at level %d has %d", len(b), degree, level, want)
	}
	n := uint64(p.N())
	for i := 0; i <= degree; i++ {
		if r := d.u64(); r != rows {
			return 0, 0, fmt.Errorf("exec: ciphertext polynomial %d of %d rows, want %d", i, r, rows)
		}
		for j := uint64(0); j < rows; j++ {
			if c := d.u64(); c != n {
				return 0, 0, fmt.Errorf("exec: ciphertext polynomial row of %d coefficients, want %d", c, n)
			}
			d.skip(8 * n)
		}
	}
	if d.err != nil || len(d.b) != 0 {
		return 0, 0, fmt.Errorf("exec: malformed ciphertext")
	}
	return degree, level, nil
}

// checkCiphertextMeta accepts the metadata of a BGV ciphertext of p with
// its message in dom and any integer scale in [1, t).
func checkCiphertextMeta(p bgv.Parameters, b []byte, dom Domain) error {
	key := metaKey{fingerprint(p), dom}
	v, ok := metaCache.Load(key)
	if !ok {
		mt, err := ciphertextMeta(p, bool(dom))
		if err != nil {
			return err
		}
		v, _ = metaCache.LoadOrStore(key, mt)
	}
	mt := v.(ctMetaTemplate)
	if len(b) != len(mt.prefix)+mt.valueLen+len(mt.suffix) || !bytes.Equal(b[:len(mt.prefix)], mt.prefix) ||
		!bytes.Equal(b[len(mt.prefix)+mt.valueLen:], mt.suffix) {
		return fmt.Errorf("exec: ciphertext metadata is not that of a BGV ciphertext of these parameters with its message in the %v", dom)
	}
	sv, ok := new(big.Float).SetPrec(256).SetString(string(b[len(mt.prefix) : len(mt.prefix)+mt.valueLen]))
	if !ok || !sv.IsInt() || sv.Sign() <= 0 {
		return fmt.Errorf("exec: ciphertext scale is not a positive integer")
	}
	if u, acc := sv.Uint64(); acc != big.Exact || u >= p.PlaintextModulus() {
		return fmt.Errorf("exec: ciphertext scale out of range [1, t)")
	}
	return nil
}

// UnmarshalCiphertext parses a ciphertext of p that came from the network
// or a file: CheckCiphertextBytes, lattigo's UnmarshalBinary, then every
// polynomial row N coefficients below its prime. Malformed bytes are an
// error, never a panic.
func UnmarshalCiphertext(p bgv.Parameters, b []byte) (*rlwe.Ciphertext, error) {
	return unmarshalCiphertext(p, b, Slots)
}

// unmarshalCiphertext is UnmarshalCiphertext for a message in dom.
func unmarshalCiphertext(p bgv.Parameters, b []byte, dom Domain) (*rlwe.Ciphertext, error) {
	if _, _, err := checkCiphertextBytes(p, b, dom); err != nil {
		return nil, err
	}
	ct := &rlwe.Ciphertext{}
	if err := ct.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("exec: unmarshalling a ciphertext: %w", err)
	}
	if ct.MetaData == nil || ct.Degree() < 1 || ct.Degree() > 2 || ct.Level() > p.MaxLevel() {
		return nil, fmt.Errorf("exec: malformed ciphertext")
	}
	for _, pol := range ct.Value {
		if err := checkPoly(pol, p.RingQ(), ct.Level()); err != nil {
			return nil, err
		}
	}
	return ct, nil
}

// checkPoly checks that pol has level+1 rows of N coefficients, each below
// the prime of its row.
func checkPoly(pol ring.Poly, r *ring.Ring, level int) error {
	if r == nil {
		if len(pol.Coeffs) != 0 {
			return fmt.Errorf("exec: polynomial where none is expected")
		}
		return nil
	}
	if len(pol.Coeffs) != level+1 {
		return fmt.Errorf("exec: polynomial of %d rows, want %d", len(pol.Coeffs), level+1)
	}
	for i, row := range pol.Coeffs {
		if len(row) != r.N() {
			return fmt.Errorf("exec: polynomial row of %d coefficients, want %d", len(row), r.N())
		}
		q := r.SubRings[i].Modulus
		for _, c := range row {
			if c >= q {
				return fmt.Errorf("exec: polynomial coefficient not reduced modulo its prime")
			}
		}
	}
	return nil
}

// recvCiphertext receives one framed ciphertext of p with its message in
// dom.
func recvCiphertext(p bgv.Parameters, conn net.Conn, dom Domain) (*rlwe.Ciphertext, error) {
	msg, err := conn.Recv()
	if err != nil {
		return nil, err
	}
	payload, err := net.Unframe(msg)
	if err != nil {
		return nil, err
	}
	ct, err := unmarshalCiphertext(p, payload, dom)
	net.Recycle(msg) // ct holds copies
	return ct, err
}

// reader reads little-endian words, failing (never panicking) on overrun.
type reader struct {
	b   []byte
	err error
}

func (d *reader) u64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.err = fmt.Errorf("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *reader) skip(n uint64) {
	if d.err != nil || uint64(len(d.b)) < n {
		d.err = fmt.Errorf("truncated")
		return
	}
	d.b = d.b[n:]
}

// template is the layout of a marshalled key: its length and the runs of
// structural bytes (everything but coefficients) with their values.
type template struct {
	size int
	runs []templateRun
}

type templateRun struct {
	off  int
	want []byte
}

// newTemplate compares the marshalling of a zero key (zero) with that of
// the same key with every coefficient all ones (ones): the bytes that
// agree are structural.
func newTemplate(zero, ones []byte) (template, error) {
	if len(zero) != len(ones) {
		return template{}, fmt.Errorf("exec: internal error: key templates of %d and %d bytes", len(zero), len(ones))
	}
	t := template{size: len(zero)}
	for i := 0; i < len(zero); {
		if zero[i] != ones[i] {
			i++
			continue
		}
		j := i
		for j < len(zero) && zero[j] == ones[j] {
			j++
		}
		t.runs = append(t.runs, templateRun{off: i, want: append([]byte(nil), zero[i:j]...)})
		i = j
	}
	return t, nil
}

// check reports whether b has the template's layout.
func (t template) check(what string, b []byte) error {
	if len(b) != t.size {
		return fmt.Errorf("exec: %s of %d bytes, want %d", what, len(b), t.size)
	}
	for _, r := range t.runs {
		if !bytes.Equal(b[r.off:r.off+len(r.want)], r.want) {
			return fmt.Errorf("exec: %s: malformed (byte %d: not the layout of these parameters)", what, r.off)
		}
	}
	return nil
}

// templates are the layouts of the keys and ciphertext metadata of one
// parameter set, built once.
type templates struct {
	pk      template
	evk     template // an evaluation key (relinearization, or a Galois key after its 16-byte header)
	nthRoot uint64
}

var (
	templateCache sync.Map // fingerprint -> *templates
	metaCache     sync.Map // metaKey -> ctMetaTemplate
)

// metaKey names the ciphertext template of a parameter set and a domain.
type metaKey struct {
	params string // fingerprint
	dom    Domain
}

func fingerprint(p bgv.Parameters) string {
	return fmt.Sprint(p.LogN(), p.Q(), p.P(), p.PlaintextModulus())
}

func cachedTemplates(p bgv.Parameters) (*templates, error) {
	key := fingerprint(p)
	if t, ok := templateCache.Load(key); ok {
		return t.(*templates), nil
	}
	t, err := buildTemplates(p)
	if err != nil {
		return nil, err
	}
	templateCache.Store(key, t)
	return t, nil
}

func fillQP(v []ringqp.Poly) {
	for i := range v {
		for _, pol := range []ring.Poly{v[i].Q, v[i].P} {
			for _, row := range pol.Coeffs {
				for j := range row {
					row[j] = ^uint64(0)
				}
			}
		}
	}
}

func buildTemplates(p bgv.Parameters) (*templates, error) {
	var t templates
	pk := rlwe.NewPublicKey(p)
	zero, err := pk.MarshalBinary()
	if err != nil {
		return nil, err
	}
	fillQP(pk.Value)
	ones, err := pk.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if t.pk, err = newTemplate(zero, ones); err != nil {
		return nil, err
	}
	rlk := rlwe.NewRelinearizationKey(p)
	if zero, err = rlk.MarshalBinary(); err != nil {
		return nil, err
	}
	for i := range rlk.Value {
		for j := range rlk.Value[i] {
			fillQP(rlk.Value[i][j])
		}
	}
	if ones, err = rlk.MarshalBinary(); err != nil {
		return nil, err
	}
	if t.evk, err = newTemplate(zero, ones); err != nil {
		return nil, err
	}
	t.nthRoot = rlwe.NewGaloisKey(p).NthRoot
	return &t, nil
}

// UnmarshalPublicKey parses a public key of p that came from the network
// or a file (checked against the template first).
func UnmarshalPublicKey(p bgv.Parameters, b []byte) (*rlwe.PublicKey, error) {
	t, err := cachedTemplates(p)
	if err != nil {
		return nil, err
	}
	if err := t.pk.check("public key", b); err != nil {
		return nil, err
	}
	pk := &rlwe.PublicKey{}
	if err := pk.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("exec: unmarshalling the public key: %w", err)
	}
	if err := checkQP(p, pk.Value); err != nil {
		return nil, fmt.Errorf("exec: public key: %w", err)
	}
	return pk, nil
}

func checkQP(p bgv.Parameters, v []ringqp.Poly) error {
	for _, qp := range v {
		if err := checkPoly(qp.Q, p.RingQ(), p.MaxLevelQ()); err != nil {
			return err
		}
		if err := checkPoly(qp.P, p.RingP(), p.MaxLevelP()); err != nil {
			return err
		}
	}
	return nil
}

func checkGadget(p bgv.Parameters, g rlwe.GadgetCiphertext) error {
	for i := range g.Value {
		for j := range g.Value[i] {
			if err := checkQP(p, g.Value[i][j]); err != nil {
				return err
			}
		}
	}
	return nil
}

// UnmarshalRelinearizationKey parses a relinearization key of p that came
// from the network or a file (checked against the template first).
func UnmarshalRelinearizationKey(p bgv.Parameters, b []byte) (*rlwe.RelinearizationKey, error) {
	t, err := cachedTemplates(p)
	if err != nil {
		return nil, err
	}
	if err := t.evk.check("relinearization key", b); err != nil {
		return nil, err
	}
	rlk := &rlwe.RelinearizationKey{}
	if err := rlk.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("exec: unmarshalling the relinearization key: %w", err)
	}
	if err := checkGadget(p, rlk.GadgetCiphertext); err != nil {
		return nil, fmt.Errorf("exec: relinearization key: %w", err)
	}
	return rlk, nil
}

// UnmarshalGaloisKey parses the Galois key of element galEl of p that came
// from the network or a file (checked against the template first).
func UnmarshalGaloisKey(p bgv.Parameters, galEl uint64, b []byte) (*rlwe.GaloisKey, error) {
	t, err := cachedTemplates(p)
	if err != nil {
		return nil, err
	}
	if len(b) < 16 {
		return nil, fmt.Errorf("exec: Galois key of %d bytes", len(b))
	}
	if g, r := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:]); g != galEl || r != t.nthRoot {
		return nil, fmt.Errorf("exec: Galois key for element %d (root %d), want %d (root %d)", g, r, galEl, t.nthRoot)
	}
	if err := t.evk.check("Galois key", b[16:]); err != nil {
		return nil, err
	}
	gk := &rlwe.GaloisKey{}
	if err := gk.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("exec: unmarshalling a Galois key: %w", err)
	}
	if err := checkGadget(p, gk.GadgetCiphertext); err != nil {
		return nil, fmt.Errorf("exec: Galois key %d: %w", galEl, err)
	}
	return gk, nil
}

// checkGaloisList checks a list of Galois elements of p received from
// the other party or a file: at most N distinct odd elements in (1, 2N),
// strictly increasing (as dedupGalois leaves them).
func checkGaloisList(p bgv.Parameters, galEls []uint64) error {
	twoN := uint64(2 * p.N())
	if len(galEls) > p.N() {
		return fmt.Errorf("exec: %d Galois elements, at most %d exist", len(galEls), p.N())
	}
	for i, g := range galEls {
		if g <= 1 || g >= twoN || g%2 == 0 || (i > 0 && g <= galEls[i-1]) {
			return fmt.Errorf("exec: invalid Galois element list (element %d: %d)", i, g)
		}
	}
	return nil
}

// galoisList is a list of Galois elements on the wire: a uint32 count,
// then the elements as uint64.
type galoisList []uint64

func (g galoisList) MarshalBinary() ([]byte, error) {
	b := make([]byte, 4+8*len(g))
	binary.LittleEndian.PutUint32(b, uint32(len(g)))
	for i, e := range g {
		binary.LittleEndian.PutUint64(b[4+8*i:], e)
	}
	return b, nil
}

func parseGaloisList(p bgv.Parameters, b []byte) ([]uint64, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("exec: truncated Galois element list")
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(n) > uint64(p.N()) || len(b) != 4+8*int(n) {
		return nil, fmt.Errorf("exec: Galois element list of %d bytes announcing %d elements", len(b), n)
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(b[4+8*i:])
	}
	return out, checkGaloisList(p, out)
}

// recvPayload receives one framed message and returns its payload.
func recvPayload(conn net.Conn) ([]byte, error) {
	msg, err := conn.Recv()
	if err != nil {
		return nil, err
	}
	return net.Unframe(msg)
}
