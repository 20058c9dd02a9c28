package kv

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/cgsim/cgsim/exec"
)

// File format (version 1), little-endian, for both the server's file
// (magic "CGSIMKVS") and the client's (magic "CGSIMKVC"):
//
//	magic    8 bytes
//	version  uint32
//	length   uint64    bytes of the body
//	body     length bytes (below)
//	sha256   32 bytes  of everything before it
//
// Server body: preset (uint16 length + bytes), session id (16 bytes),
// layers, heads, KV heads, head dim, max context (uint32 each), method
// (uint8), policy (uint8: 1 eager, 2 lazy, 3 never) and tau (float64),
// source level (uint32) and bits (float64), tokens (uint32); then per
// layer, keys then values: the number of ciphertexts (uint32), per
// ciphertext its noise state (level uint32, msgs, fresh, extra float64)
// and its lattigo marshalling (uint64 length + bytes), then the server's
// shares (uint64 count + uint64 words); finally the evaluation keys
// section (uint64 length + bytes: exec.Server.MarshalBinary, the public
// and evaluation keys; empty if saved without them).
//
// Client body: preset, session id, tokens, and the client's key section
// (uint64 length + bytes: exec.Client.MarshalBinary, the secret and public
// key). The secret key is never in the server's file.
//
// Loading checks the length and the checksum before parsing, every length
// against what the configuration implies, and every ciphertext's and key's
// structure (exec.UnmarshalCiphertext and exec.RestoreSession check the
// layout lattigo would produce before lattigo sees the bytes): a truncated
// or corrupted file is an error, never a panic.
//
// Version 2: the BGV presets' plaintext moduli changed (t = 1 mod 2^31 and
// 2^47, for lookup tables on shares); a file of version 1 holds shares and
// ciphertexts modulo the old t, which would load and decrypt to garbage,
// so it is refused by its version.
const (
	fileVersion = 2
	magicServer = "CGSIMKVS"
	magicClient = "CGSIMKVC"
	headerLen   = 8 + 4 + 8
	// maxFile bounds what Load reads (64 GiB).
	maxFile = 1 << 36
)

// SessionID ties a server file to the client file of the same
// conversation.
type SessionID [16]byte

func newSessionID() SessionID {
	var id SessionID
	_, _ = rand.Read(id[:]) // crypto/rand never fails on supported platforms
	return id
}

// Session is the id of the conversation the cache belongs to.
func (c *Cache) Session() SessionID { return c.id }

type enc struct{ bytes.Buffer }

func (e *enc) u8(v uint8)    { e.WriteByte(v) }
func (e *enc) u16(v uint16)  { _ = binary.Write(e, binary.LittleEndian, v) }
func (e *enc) u32(v int)     { _ = binary.Write(e, binary.LittleEndian, uint32(v)) }
func (e *enc) u64(v uint64)  { _ = binary.Write(e, binary.LittleEndian, v) }
func (e *enc) f64(v float64) { e.u64(math.Float64bits(v)) }
func (e *enc) str(s string)  { e.u16(uint16(len(s))); e.WriteString(s) }
func (e *enc) blob(b []byte) { e.u64(uint64(len(b))); e.Write(b) }

// dec reads a body, failing (never panicking) on overrun.
type dec struct {
	b   []byte
	err error
}

func (d *dec) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("truncated: %d bytes wanted, %d left", n, len(d.b))
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}
func (d *dec) u8() uint8 {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}
func (d *dec) u16() uint16 {
	if b := d.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}
func (d *dec) u32() int {
	if b := d.take(4); b != nil {
		return int(binary.LittleEndian.Uint32(b))
	}
	return 0
}
func (d *dec) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}
func (d *dec) f64() float64 { return math.Float64frombits(d.u64()) }
func (d *dec) str() string  { return string(d.take(uint64(d.u16()))) }
func (d *dec) blob() []byte { return d.take(d.u64()) }

// frame wraps a body in the header and checksum.
func frame(magic string, body []byte) []byte {
	var e enc
	e.WriteString(magic)
	e.u32(fileVersion)
	e.u64(uint64(len(body)))
	e.Write(body)
	sum := sha256.Sum256(e.Bytes())
	e.Write(sum[:])
	return e.Bytes()
}

// unframe checks a whole file and returns its body.
func unframe(magic string, data []byte) ([]byte, error) {
	if len(data) < headerLen+sha256.Size {
		return nil, fmt.Errorf("truncated: %d bytes, the header and checksum alone are %d", len(data), headerLen+sha256.Size)
	}
	if string(data[:8]) != magic {
		return nil, fmt.Errorf("not a %s file (magic %q)", magic, data[:8])
	}
	if v := binary.LittleEndian.Uint32(data[8:12]); v != fileVersion {
		return nil, fmt.Errorf("version %d, this build reads version %d", v, fileVersion)
	}
	n := binary.LittleEndian.Uint64(data[12:20])
	if n != uint64(len(data)-headerLen-sha256.Size) {
		return nil, fmt.Errorf("truncated or padded: the header announces %d body bytes, the file holds %d", n, len(data)-headerLen-sha256.Size)
	}
	sum := sha256.Sum256(data[:len(data)-sha256.Size])
	if !bytes.Equal(sum[:], data[len(data)-sha256.Size:]) {
		return nil, fmt.Errorf("corrupted: SHA-256 checksum mismatch")
	}
	return data[headerLen : len(data)-sha256.Size], nil
}

// testWrap, if set (tests only), wraps the writer of writeAtomic, to
// inject failures.
var testWrap func(io.Writer) io.Writer

// WriteFileAtomic is writeAtomic, for the other stores of server-side
// state (sim's prefix store).
func WriteFileAtomic(path string, data []byte) error { return writeAtomic(path, data) }

// writeAtomic writes data to path through a temporary file in the same
// directory, fsynced, then renamed over path, and the directory fsynced:
// path holds either the old or the new content, never a mix, and a failed
// write leaves the old file untouched.
func writeAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("kv: creating a temporary file for %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	var w io.Writer = f
	if testWrap != nil {
		w = testWrap(f)
	}
	if _, err = w.Write(data); err != nil {
		return fmt.Errorf("kv: writing %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("kv: syncing %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("kv: closing %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("kv: renaming into %s: %w", path, err)
	}
	if d, e := os.Open(dir); e == nil {
		_ = d.Sync() // best effort: not every file system syncs directories
		d.Close()
	}
	return nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > maxFile {
		return nil, fmt.Errorf("%d bytes, more than the %d a cache file may have", st.Size(), int64(maxFile))
	}
	return io.ReadAll(f)
}

func policyCode(p Policy) (uint8, float64) {
	switch q := p.(type) {
	case Eager:
		return 1, 0
	case Lazy:
		return 2, q.Tau
	default:
		return 3, 0
	}
}

func policyOf(code uint8, tau float64) (Policy, error) {
	switch code {
	case 1:
		return Eager{}, nil
	case 2:
		return Lazy{Tau: tau}, nil
	case 3:
		return Never{}, nil
	}
	return nil, fmt.Errorf("unknown policy code %d", code)
}

// Save writes the server's state (cache ciphertexts, shares, noise
// states, configuration; serverKeys, if not nil, are stored as the
// evaluation keys section) to path atomically.
func (c *Cache) Save(path string, serverKeys []byte) error {
	if n := c.Len(); n != c.layers[0].led.tokens || c.layers[len(c.layers)-1].led.tokens != n {
		return fmt.Errorf("kv: saving in the middle of a token (layers hold different lengths)")
	}
	cfg := c.cfg
	var e enc
	e.str(cfg.Preset)
	e.Write(c.id[:])
	for _, v := range []int{cfg.Layers, cfg.Heads, cfg.KVHeads, cfg.HeadDim, cfg.MaxContext} {
		e.u32(v)
	}
	e.u8(uint8(cfg.Method))
	code, tau := policyCode(cfg.Policy)
	e.u8(code)
	e.f64(tau)
	e.u32(cfg.SourceLevel)
	e.f64(cfg.SourceBits)
	e.u32(c.Len())
	for _, l := range c.layers {
		for k := 0; k < 2; k++ {
			e.u32(len(l.cts[k]))
			for i, ct := range l.cts[k] {
				st := l.led.states[k][i]
				e.u32(st.Level)
				e.f64(st.Msgs)
				e.f64(st.Fresh)
				e.f64(st.Extra)
				b, err := ct.MarshalBinary()
				if err != nil {
					return fmt.Errorf("kv: marshalling a ciphertext: %w", err)
				}
				e.blob(b)
			}
			e.u64(uint64(len(l.shares[k])))
			for _, w := range l.shares[k] {
				e.u64(w)
			}
		}
	}
	e.blob(serverKeys)
	return writeAtomic(path, frame(magicServer, e.Bytes()))
}

// LoadCache reads a cache saved by Save. cfg must be the configuration it
// was saved with (preset, shapes, method, policy are checked against the
// file); it returns the cache and the evaluation keys section.
func LoadCache(path string, cfg Config) (*Cache, []byte, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("kv: loading %s: %w", path, err)
	}
	c, keys, err := parseCache(data, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("kv: loading %s: %w", path, err)
	}
	return c, keys, nil
}

func parseCache(data []byte, cfg Config) (*Cache, []byte, error) {
	body, err := unframe(magicServer, data)
	if err != nil {
		return nil, nil, err
	}
	c, err := NewCache(cfg)
	if err != nil {
		return nil, nil, err
	}
	d := &dec{b: body}
	if p := d.str(); d.err == nil && p != cfg.Preset {
		return nil, nil, fmt.Errorf("saved for preset %q, loading with %q", p, cfg.Preset)
	}
	copy(c.id[:], d.take(16))
	for _, want := range []int{cfg.Layers, cfg.Heads, cfg.KVHeads, cfg.HeadDim, cfg.MaxContext} {
		if got := d.u32(); d.err == nil && got != want {
			return nil, nil, fmt.Errorf("saved shape (layers, heads, KV heads, head dim, max context) differs from the configuration: %d vs %d", got, want)
		}
	}
	method, code, tau := Method(d.u8()), d.u8(), d.f64()
	srcLevel, srcBits := d.u32(), d.f64()
	if d.err == nil {
		pol, err := policyOf(code, tau)
		if err != nil {
			return nil, nil, err
		}
		if method != cfg.Method || pol != cfg.Policy || srcLevel != cfg.SourceLevel || srcBits != cfg.SourceBits {
			return nil, nil, fmt.Errorf("saved with %s/%s, source level %d bits %.2f; loading with %s/%s, %d, %.2f",
				method, pol, srcLevel, srcBits, cfg.Method, cfg.Policy, cfg.SourceLevel, cfg.SourceBits)
		}
	}
	tokens := d.u32()
	if d.err == nil && tokens > cfg.MaxContext {
		return nil, nil, fmt.Errorf("%d tokens, more than the configured %d", tokens, cfg.MaxContext)
	}
	wantCts := cfg.Layout.Cts(tokens)
	for li, l := range c.layers {
		l.led.tokens = tokens
		for k := 0; k < 2; k++ {
			if n := d.u32(); d.err == nil && n != wantCts {
				return nil, nil, fmt.Errorf("layer %d %s: %d ciphertexts, %d tokens need %d", li, kindName(k), n, tokens, wantCts)
			}
			for i := 0; i < wantCts && d.err == nil; i++ {
				st := NoiseState{Level: d.u32(), Msgs: d.f64(), Fresh: d.f64(), Extra: d.f64()}
				b := d.blob()
				if d.err != nil {
					break
				}
				if st.Level < cfg.KernelLevel[k] || st.Level > cfg.HomeLevel[k] || !(st.Msgs >= 0) || !(st.Fresh >= 0) || math.IsNaN(st.Extra) || math.IsInf(st.Extra, 1) {
					return nil, nil, fmt.Errorf("layer %d %s ciphertext %d: invalid noise state %+v", li, kindName(k), i, st)
				}
				// exec checks the structure before lattigo parses it.
				ct, err := exec.UnmarshalCiphertext(cfg.Params, b)
				if err != nil {
					return nil, nil, fmt.Errorf("layer %d %s ciphertext %d: %w", li, kindName(k), i, err)
				}
				if ct.Degree() != 1 || ct.Level() != st.Level || ct.Value[0].N() != cfg.Params.N() || ct.Value[1].Level() != st.Level ||
					ct.Scale.Uint64() != scaleAt(cfg.Params, cfg.KernelLevel[k], st.Level) {
					return nil, nil, fmt.Errorf("layer %d %s ciphertext %d: does not match its noise state", li, kindName(k), i)
				}
				if sl := cfg.model.KernelSlack(st, cfg.KernelLevel[k], cfg.sumTerms[k]); sl < 0 {
					return nil, nil, fmt.Errorf("layer %d %s ciphertext %d: %w", li, kindName(k), i, ErrBudget)
				}
				l.cts[k] = append(l.cts[k], ct)
				l.led.states[k] = append(l.led.states[k], st)
			}
			n := d.u64()
			if d.err == nil && n != uint64(tokens*cfg.KVDim()) {
				return nil, nil, fmt.Errorf("layer %d %s: %d shares, want %d", li, kindName(k), n, tokens*cfg.KVDim())
			}
			raw := d.take(8 * uint64(tokens*cfg.KVDim()))
			if d.err == nil {
				l.shares[k] = make([]uint64, tokens*cfg.KVDim())
				for i := range l.shares[k] {
					w := binary.LittleEndian.Uint64(raw[8*i:])
					if w >= cfg.Params.PlaintextModulus() {
						return nil, nil, fmt.Errorf("layer %d %s: share %d out of range", li, kindName(k), i)
					}
					l.shares[k][i] = w
				}
			}
		}
	}
	keys := d.blob()
	if d.err != nil {
		return nil, nil, d.err
	}
	if len(d.b) != 0 {
		return nil, nil, fmt.Errorf("%d trailing bytes", len(d.b))
	}
	return c, append([]byte(nil), keys...), nil
}

// ClientState is what the client keeps between the turns of a
// conversation: the session it belongs to, the number of tokens, and its
// keys (Keys: exec.Client.MarshalBinary; the secret key lives only here).
type ClientState struct {
	Preset  string
	Session SessionID
	Tokens  int
	Keys    []byte
}

// SaveClient writes the client's state to path atomically.
func SaveClient(path string, st ClientState) error {
	var e enc
	e.str(st.Preset)
	e.Write(st.Session[:])
	e.u32(st.Tokens)
	e.blob(st.Keys)
	return writeAtomic(path, frame(magicClient, e.Bytes()))
}

// LoadClient reads a client state written by SaveClient.
func LoadClient(path string) (ClientState, error) {
	data, err := readFile(path)
	if err != nil {
		return ClientState{}, fmt.Errorf("kv: loading %s: %w", path, err)
	}
	st, err := parseClient(data)
	if err != nil {
		return ClientState{}, fmt.Errorf("kv: loading %s: %w", path, err)
	}
	return st, nil
}

func parseClient(data []byte) (ClientState, error) {
	body, err := unframe(magicClient, data)
	if err != nil {
		return ClientState{}, err
	}
	d := &dec{b: body}
	var st ClientState
	st.Preset = d.str()
	copy(st.Session[:], d.take(16))
	st.Tokens = d.u32()
	st.Keys = append([]byte(nil), d.blob()...)
	if d.err != nil {
		return ClientState{}, d.err
	}
	if len(d.b) != 0 {
		return ClientState{}, fmt.Errorf("%d trailing bytes", len(d.b))
	}
	return st, nil
}

// SaveWithKeys is Save with the evaluation keys section filled with the
// server's keys (exec.Server.MarshalBinary: public and evaluation keys),
// so that Restore can continue the conversation in a new process.
func (c *Cache) SaveWithKeys(path string, sv *exec.Server) error {
	keys, err := sv.MarshalBinary()
	if err != nil {
		return err
	}
	return c.Save(path, keys)
}

// ClientStateOf is the client's state of the conversation the cache
// belongs to, with the client's keys (exec.Client.MarshalBinary): what the
// client saves with SaveClient.
func (c *Cache) ClientStateOf(cl *exec.Client) (ClientState, error) {
	keys, err := cl.MarshalBinary()
	if err != nil {
		return ClientState{}, err
	}
	return ClientState{Preset: c.cfg.Preset, Session: c.id, Tokens: c.Len(), Keys: keys}, nil
}

// Restore loads a conversation saved with SaveWithKeys (the server's file)
// and SaveClient of ClientStateOf (the client's file) and rebuilds both
// parties with the keys that encrypted the cache (exec.RestoreSession):
// decoding continues where it stopped. The files must be of the same
// conversation (session id, preset, tokens).
func Restore(cfg Config, serverPath, clientPath string) (*Cache, *exec.Session, error) {
	c, serverKeys, err := LoadCache(serverPath, cfg)
	if err != nil {
		return nil, nil, err
	}
	st, err := LoadClient(clientPath)
	if err != nil {
		return nil, nil, err
	}
	if st.Session != c.id || st.Preset != cfg.Preset || st.Tokens != c.Len() {
		return nil, nil, fmt.Errorf("kv: the client's file (session %x, %s, %d tokens) is not of the server's conversation (session %x, %s, %d tokens)",
			st.Session, st.Preset, st.Tokens, c.id, cfg.Preset, c.Len())
	}
	if len(serverKeys) == 0 || len(st.Keys) == 0 {
		return nil, nil, fmt.Errorf("kv: %s or %s was saved without keys", serverPath, clientPath)
	}
	s, err := exec.RestoreSession(cfg.Params, st.Keys, serverKeys)
	if err != nil {
		return nil, nil, fmt.Errorf("kv: restoring the session: %w", err)
	}
	return c, s, nil
}
