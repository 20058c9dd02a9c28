package exec

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/internal/hetest"
	"github.com/cgsim/cgsim/net"
)

// validCiphertext is a real encryption at level under a fresh key,
// marshalled.
func validCiphertext(t testing.TB, p bgv.Parameters, level int) []byte {
	t.Helper()
	sk := bgv.NewKeyGenerator(p).GenSecretKeyNew()
	pt := bgv.NewPlaintext(p, level)
	if err := bgv.NewEncoder(p).Encode(make([]uint64, p.MaxSlots()), pt); err != nil {
		t.Fatal(err)
	}
	ct, err := bgv.NewEncryptor(p, sk).EncryptNew(pt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ct.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != CiphertextBinarySize(p, 1, level) {
		t.Fatalf("CiphertextBinarySize %d, lattigo marshals %d", CiphertextBinarySize(p, 1, level), len(b))
	}
	return b
}

// malformed lists corruptions of a marshalled ciphertext b: truncations,
// extensions, absurd counts, bit flips over the header and a sample of
// the body. Those whose name starts with "coefficient" may still be valid
// ciphertexts (a flipped coefficient bit can stay below its prime).
func malformed(b []byte) map[string][]byte {
	md := rlwe.MetaData{}.BinarySize()
	out := map[string][]byte{
		"empty":     {},
		"one byte":  b[:1],
		"header":    b[:1+md],
		"oversized": append(append([]byte(nil), b...), 0, 0, 0, 0, 0, 0, 0, 0),
		"doubled":   append(append([]byte(nil), b...), b...),
	}
	for _, n := range []int{1 + md + 4, 1 + md + 8, 1 + md + 16, 1 + md + 24, len(b) / 2, len(b) - 8, len(b) - 1} {
		out[fmt.Sprintf("truncated to %d", n)] = b[:n]
	}
	set := func(name string, off int, v uint64) {
		x := append([]byte(nil), b...)
		binary.LittleEndian.PutUint64(x[off:], v)
		out[name] = x
	}
	polys := 1 + md
	set("polynomial count 1<<40", polys, 1<<40)
	set("polynomial count 0", polys, 0)
	set("polynomial count 3", polys, 3)
	set("rows 1<<62", polys+8, 1<<62)
	set("rows 0", polys+8, 0)
	set("rows 99", polys+8, 99)
	set("row length 1<<62", polys+16, 1<<62)
	set("row length 1", polys+16, 1)
	flip := func(name string, off int) {
		x := append([]byte(nil), b...)
		x[off] ^= 0x10
		out[name] = x
	}
	for off := 0; off < polys+24; off++ {
		flip(fmt.Sprintf("header bit flip at %d", off), off)
	}
	for i := 0; i < 64; i++ {
		off := polys + 24 + (i*7919)%(len(b)-polys-24)
		flip(fmt.Sprintf("coefficient bit flip at %d", off), off)
	}
	// The scale: not a number, negative, zero, t, fractional, and a
	// malformed modulus (lattigo dereferences a nil pointer on that one).
	meta := string(b[1 : 1+md])
	i := strings.Index(meta, `"Value":"`) + len(`"Value":"`)
	j := strings.Index(meta[i:], `"`)
	val := meta[i : i+j]
	for name, v := range map[string]string{
		"scale not a number": strings.Repeat("z", len(val)),
		"scale negative":     "-" + val[1:],
		"scale zero":         "0x0" + val[3:],
		"scale huge":         val[:len(val)-2] + "99",
		"scale fractional":   "0x1.8" + val[5:],
	} {
		x := append([]byte(nil), b...)
		copy(x[1+i:], v)
		out[name] = x
	}
	k := strings.Index(meta, `"Mod":"`) + len(`"Mod":"`)
	x := append([]byte(nil), b...)
	copy(x[1+k:], "zz")
	out["modulus not a number"] = x
	return out
}

// TestMalformedCiphertexts: every malformed ciphertext is an error of
// UnmarshalCiphertext, and of the server and the client receiving it in a
// valid frame; none crashes. A flipped coefficient bit may leave a valid
// ciphertext: then it must parse to a well-formed one.
func TestMalformedCiphertexts(t *testing.T) {
	e := hetest.ForTest(t, "bgv-test-insecure")
	p := e.Params
	for _, level := range []int{0, 2} {
		b := validCiphertext(t, p, level)
		if _, err := UnmarshalCiphertext(p, b); err != nil {
			t.Fatalf("valid ciphertext at level %d rejected: %v", level, err)
		}
		for name, bad := range malformed(b) {
			ct, err := UnmarshalCiphertext(p, bad)
			if err == nil {
				if !strings.HasPrefix(name, "coefficient") {
					t.Errorf("level %d, %s: accepted", level, name)
				} else if ct.Degree() != 1 || ct.Level() != level {
					t.Errorf("level %d, %s: accepted as degree %d level %d", level, name, ct.Degree(), ct.Level())
				}
				continue
			}
			if strings.HasPrefix(name, "coefficient") {
				continue
			}
			// The same bytes in a valid frame, to both parties.
			for _, side := range []string{"server", "client"} {
				cc, sc, _, closePipe := net.Pipe()
				msg := make([]byte, net.FrameOverhead+len(bad))
				binary.LittleEndian.PutUint32(msg, uint32(len(bad)))
				binary.LittleEndian.PutUint32(msg[4:], crc32.ChecksumIEEE(bad))
				copy(msg[net.FrameOverhead:], bad)
				var err error
				if side == "server" {
					_ = cc.Send(msg)
					sv := &Server{params: p, conn: sc}
					_, err = sv.recvInputs(hetest.NopTally(), 1)
				} else {
					_ = sc.Send(msg)
					cl := &Client{params: p, conn: cc}
					_, err = cl.recvOutputs(hetest.NopTally(), 1)
				}
				closePipe()
				if err == nil {
					t.Errorf("level %d, %s: the %s accepted it", level, name, side)
				}
			}
		}
	}
}

// TestCiphertextDomain: a ciphertext whose message is in the
// coefficients is refused where one in the slots is expected (files, and
// every primitive but a coefficient-packed linear layer), and the other
// way round; each is accepted where it is expected.
func TestCiphertextDomain(t *testing.T) {
	e := hetest.ForTest(t, "bgv-test-insecure")
	p := e.Params
	slots := validCiphertext(t, p, 1)
	ct := &rlwe.Ciphertext{}
	if err := ct.UnmarshalBinary(slots); err != nil {
		t.Fatal(err)
	}
	ct.IsBatched = false
	coeffs, err := ct.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		b    []byte
		dom  Domain
		want bool
	}{{slots, Slots, true}, {coeffs, Coefficients, true}, {coeffs, Slots, false}, {slots, Coefficients, false}} {
		got, err := unmarshalCiphertext(p, c.b, c.dom)
		if (err == nil) != c.want {
			t.Errorf("expecting the %v: accepted %v, want %v (%v)", c.dom, err == nil, c.want, err)
		}
		if err == nil && got.IsBatched != bool(c.dom) {
			t.Errorf("expecting the %v: parsed IsBatched = %v", c.dom, got.IsBatched)
		}
	}
	if _, err := UnmarshalCiphertext(p, coeffs); err == nil {
		t.Error("UnmarshalCiphertext (the files' parser) accepted a coefficient-domain ciphertext")
	}
}

// validSeeded is a client's seeded encryption of v at level, marshalled,
// and the client.
func validSeeded(t testing.TB, p bgv.Parameters, level int, v []uint64) ([]byte, *Client) {
	t.Helper()
	cl := NewClient(p, nil)
	pt := bgv.NewPlaintext(p, level)
	if err := cl.ecd.Encode(v, pt); err != nil {
		t.Fatal(err)
	}
	sc, err := cl.encryptSeeded(pt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sc.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b, cl
}

// TestSeededCiphertext: a seeded upload is SeededCiphertextSize bytes,
// about half a whole ciphertext, and the server's expansion decrypts to
// what the client encrypted; damaged ones (the seed or the body
// truncated, the body's header or metadata corrupted, a whole ciphertext
// where a seeded one is expected, the other domain) are errors, and a
// flipped seed bit expands to another c1, which no longer decrypts to the
// message.
func TestSeededCiphertext(t *testing.T) {
	e := hetest.ForTest(t, "bgv-test-insecure")
	p := e.Params
	tm := p.PlaintextModulus()
	// Levels 1 and the top (level 0 holds too few bits above t to decrypt
	// a fresh encryption at this preset).
	for _, level := range []int{1, p.MaxLevel()} {
		v := hetest.RandVec(tm, p.MaxSlots())
		b, cl := validSeeded(t, p, level, v)
		if got, want := int64(len(b)), SeededCiphertextSize(p.LogN(), level); got != want {
			t.Fatalf("level %d: %d bytes, SeededCiphertextSize %d", level, got, want)
		}
		if whole := CiphertextSize(p.LogN(), 1, level); 2*int64(len(b)) > whole+2*SeedBytes+2*int64(rlwe.MetaData{}.BinarySize())+64 {
			t.Errorf("level %d: %d bytes seeded, %d whole: not about half", level, len(b), whole)
		}
		decrypt := func(ct *rlwe.Ciphertext) []uint64 {
			out := make([]uint64, p.MaxSlots())
			if err := cl.ecd.Decode(cl.dec.DecryptNew(ct), out); err != nil {
				t.Fatal(err)
			}
			return out
		}
		ct, err := unmarshalSeeded(p, b, Slots)
		if err != nil {
			t.Fatalf("level %d: %v", level, err)
		}
		if ct.Degree() != 1 || ct.Level() != level || !slices.Equal(decrypt(ct), v) {
			t.Fatalf("level %d: expanded to degree %d at level %d, or to another message", level, ct.Degree(), ct.Level())
		}
		flipped := append([]byte(nil), b...)
		flipped[3] ^= 1
		if ct, err := unmarshalSeeded(p, flipped, Slots); err != nil || slices.Equal(decrypt(ct), v) {
			t.Errorf("level %d: a flipped seed bit: err %v, or the same message", level, err)
		}
		if _, err := unmarshalSeeded(p, b, Coefficients); err == nil {
			t.Errorf("level %d: accepted in the coefficient domain", level)
		}
		if _, err := unmarshalSeeded(p, validCiphertext(t, p, level), Slots); err == nil {
			t.Errorf("level %d: a whole ciphertext accepted as a seeded one", level)
		}
		bad := map[string][]byte{"seed only": b[:SeedBytes], "short seed": b[:SeedBytes-1]}
		for name, x := range malformed(b[SeedBytes:]) {
			if !strings.HasPrefix(name, "coefficient") {
				bad["body "+name] = append(append([]byte(nil), b[:SeedBytes]...), x...)
			}
		}
		for name, x := range bad {
			if _, err := unmarshalSeeded(p, x, Slots); err == nil {
				t.Errorf("level %d, %s: accepted", level, name)
			}
		}
	}
}

// TestMalformedKeys feeds AcceptKeys key exchanges with one message
// damaged (valid frames around malformed lattigo bytes, or a bad Galois
// element list): each is an error, none crashes; the undamaged exchange
// builds a server.
func TestMalformedKeys(t *testing.T) {
	e := hetest.ForTest(t, "bgv-test-insecure")
	p := e.Params
	// Record a valid exchange: public key, Galois list, relinearization
	// key, two Galois keys.
	cc, sc, _, closePipe := net.Pipe()
	galEls := []uint64{p.GaloisElement(1), p.GaloisElement(2)}
	if err := NewClient(p, cc).SendKeys(galEls); err != nil {
		t.Fatal(err)
	}
	closePipe()
	var msgs [][]byte
	for {
		m, err := sc.Recv()
		if err != nil {
			break
		}
		msgs = append(msgs, m)
	}
	if len(msgs) != 5 {
		t.Fatalf("%d key messages, want 5", len(msgs))
	}
	accept := func(ms [][]byte) error {
		cc, sc, _, closePipe := net.Pipe()
		defer closePipe()
		for _, m := range ms {
			_ = cc.Send(m)
		}
		closePipe() // a short exchange ends in ErrClosed, not a wait
		_, err := AcceptKeys(p, sc)
		return err
	}
	if err := accept(msgs); err != nil {
		t.Fatalf("valid exchange rejected: %v", err)
	}
	frame := func(b []byte) []byte {
		m := make([]byte, net.FrameOverhead+len(b))
		binary.LittleEndian.PutUint32(m, uint32(len(b)))
		binary.LittleEndian.PutUint32(m[4:], crc32.ChecksumIEEE(b))
		copy(m[net.FrameOverhead:], b)
		return m
	}
	tp, err := cachedTemplates(p)
	if err != nil {
		t.Fatal(err)
	}
	// structural: offsets of bytes that are not coefficients, per message
	// (a flipped coefficient bit can leave a valid key).
	structural := func(i int, n int) []int {
		var runs []templateRun
		base := 0
		switch i {
		case 0:
			runs = tp.pk.runs
		case 1:
			return []int{0, 1, 3, 4, 5, 8, 11, 12, 13, 19}
		case 2:
			runs = tp.evk.runs
		default:
			runs, base = tp.evk.runs, 16
		}
		out := []int{}
		if base > 0 {
			out = append(out, 0, 1, 8, 9)
		}
		for _, r := range runs {
			for _, d := range []int{0, len(r.want) - 1} {
				if o := base + r.off + d; o < n && len(out) < 24 {
					out = append(out, o)
				}
			}
		}
		return out
	}
	for i, m := range msgs {
		payload := m[net.FrameOverhead:]
		cases := map[string][]byte{
			"empty":     {},
			"truncated": payload[:len(payload)/2],
			"short":     payload[:len(payload)-1],
			"oversized": append(append([]byte(nil), payload...), 0),
		}
		for _, off := range structural(i, len(payload)) {
			if off < len(payload) {
				x := append([]byte(nil), payload...)
				x[off] ^= 0x40
				cases[fmt.Sprintf("bit flip at %d", off)] = x
				y := append([]byte(nil), payload...)
				if off+8 <= len(y) && binary.LittleEndian.Uint64(y[off:]) < 1<<40 { // a count, not a coefficient
					binary.LittleEndian.PutUint64(y[off:], 1<<62)
					cases[fmt.Sprintf("absurd length at %d", off)] = y
				}
			}
		}
		for name, bad := range cases {
			ms := append([][]byte(nil), msgs...)
			ms[i] = frame(bad)
			if err := accept(ms); err == nil {
				t.Errorf("message %d, %s: accepted", i, name)
			}
		}
	}
	// Galois keys out of order, or one of them for another element.
	swapped := append([][]byte(nil), msgs...)
	swapped[3], swapped[4] = swapped[4], swapped[3]
	if err := accept(swapped); err == nil {
		t.Error("Galois keys out of order: accepted")
	}
	if err := accept(msgs[:4]); err == nil {
		t.Error("a Galois key missing: accepted")
	}
}

// FuzzUnmarshalCiphertext: no input crashes UnmarshalCiphertext, and what
// it accepts is a well-formed ciphertext of the parameters. The seeds (run
// by every go test) are valid ciphertexts at two levels and the
// corruptions of TestMalformedCiphertexts; go test -fuzz
// FuzzUnmarshalCiphertext explores from them.
func FuzzUnmarshalCiphertext(f *testing.F) {
	e := hetest.ForTest(f, "bgv-test-insecure")
	p := e.Params
	for _, level := range []int{0, 1} {
		b := validCiphertext(f, p, level)
		f.Add(b)
		for _, bad := range malformed(b) {
			f.Add(bad)
		}
	}
	for _, level := range []int{0, 1} {
		b, _ := validSeeded(f, p, level, make([]uint64, p.MaxSlots()))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// The same bytes as a whole ciphertext and as a seeded upload.
		for _, parse := range []func() (*rlwe.Ciphertext, error){
			func() (*rlwe.Ciphertext, error) { return UnmarshalCiphertext(p, b) },
			func() (*rlwe.Ciphertext, error) { return unmarshalSeeded(p, b, Slots) },
		} {
			ct, err := parse()
			if err != nil {
				continue
			}
			if ct.Degree() < 1 || ct.Degree() > 2 || ct.Level() > p.MaxLevel() {
				t.Fatalf("accepted a ciphertext of degree %d at level %d", ct.Degree(), ct.Level())
			}
			for _, pol := range ct.Value {
				if err := checkPoly(pol, p.RingQ(), ct.Level()); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// FuzzGaloisList: the Galois element list of a key exchange never crashes
// its parser, and what it accepts is a valid list.
func FuzzGaloisList(f *testing.F) {
	e := hetest.ForTest(f, "bgv-test-insecure")
	p := e.Params
	good, _ := galoisList{p.GaloisElement(1), p.GaloisElement(2)}.MarshalBinary()
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add(good[:len(good)-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := parseGaloisList(p, b)
		if err == nil && checkGaloisList(p, l) != nil {
			t.Fatal("accepted an invalid list")
		}
	})
}
