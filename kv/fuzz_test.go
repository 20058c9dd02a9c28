package kv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cgsim/cgsim/internal/hetest"
)

// FuzzParseCache checks that no server cache file makes parseCache panic or
// allocate beyond what the file holds, and that a cache it accepts fits
// its configuration. A file is checksummed, so the fuzzer mostly varies the
// body inside a valid frame (framed true); the seeds are the bodies of
// saved caches of 0 and 5 tokens (client appends) and their whole files.
func FuzzParseCache(f *testing.F) {
	cfg := newConfig(f, "bgv-test-insecure", smallShape, 16, ClientEncrypt, Never{})
	s := newSession(f, cfg)
	defer s.Close()
	for _, n := range []int{0, 5} {
		c, err := NewCache(cfg)
		if err != nil {
			f.Fatal(err)
		}
		var pk plainKV
		appendTokens(f, s, hetest.NopTally(), c, n, &pk)
		path := filepath.Join(f.TempDir(), "server.kv")
		if err := c.Save(path, []byte("keys")); err != nil {
			f.Fatal(err)
		}
		addFileSeeds(f, magicServer, path)
	}
	f.Fuzz(func(t *testing.T, b []byte, framed bool) {
		if framed {
			b = frame(magicServer, b)
		}
		c, _, err := parseCache(b, cfg)
		if err != nil {
			return
		}
		if c.Len() > cfg.MaxContext {
			t.Fatalf("accepted %d tokens, the configuration holds %d", c.Len(), cfg.MaxContext)
		}
	})
}

// FuzzParseClient is FuzzParseCache for the client's state file.
func FuzzParseClient(f *testing.F) {
	path := filepath.Join(f.TempDir(), "client.kv")
	if err := SaveClient(path, ClientState{Preset: "bgv-n14", Session: newSessionID(), Tokens: 42, Keys: []byte("secret key bytes")}); err != nil {
		f.Fatal(err)
	}
	addFileSeeds(f, magicClient, path)
	f.Fuzz(func(t *testing.T, b []byte, framed bool) {
		if framed {
			b = frame(magicClient, b)
		}
		st, err := parseClient(b)
		if err == nil && len(st.Keys) > len(b) {
			t.Fatalf("%d key bytes from a %d-byte file", len(st.Keys), len(b))
		}
	})
}

// addFileSeeds adds the saved file at path to f's seeds twice: its body
// (to be framed) and the whole file.
func addFileSeeds(f *testing.F, magic, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	body, err := unframe(magic, data)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(body, true)
	f.Add(data, false)
}
