package exec

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/cgsim/cgsim/internal/hetest"
)

// TestRestoreChecksKeyPair restores a client from a structurally valid key
// file whose secret key is another session's: RestoreClient and
// RestoreSession refuse it with an error that says so, while the genuine
// pair restores.
func TestRestoreChecksKeyPair(t *testing.T) {
	for _, name := range hetest.Presets() {
		t.Run(name, func(t *testing.T) {
			p := hetest.ForTest(t, name).Params
			s, err := NewSessionGalois(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			other := NewClient(p, nil)
			serverKeys, err := s.Server.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			good, err := s.client.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			// The other client's secret key beside this session's public key.
			skOther, err := other.sk.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			pk, err := s.client.pk.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			bad := binary.LittleEndian.AppendUint32([]byte(magicClientK), keysVersion)
			bad = putBlob(putBlob(bad, skOther), pk)

			if _, err := RestoreClient(p, good, nil); err != nil {
				t.Fatalf("genuine keys: %v", err)
			}
			rs, err := RestoreSession(p, good, serverKeys)
			if err != nil {
				t.Fatalf("genuine session: %v", err)
			}
			rs.Close()
			if _, err := RestoreClient(p, bad, nil); err == nil || !strings.Contains(err.Error(), "does not belong to the public key") {
				t.Fatalf("mismatched secret key: error %v, want a key-pair mismatch", err)
			}
			if _, err := RestoreSession(p, bad, serverKeys); err == nil || !strings.Contains(err.Error(), "does not belong to the public key") {
				t.Fatalf("mismatched secret key in a session: error %v, want a key-pair mismatch", err)
			}
		})
	}
}

// TestKeyPairErrorBound: a fresh key pair passes checkKeyPair for every
// test preset (b + a·s within the error bound on every prime), many
// times over, so that the bound is not a flaky one.
func TestKeyPairErrorBound(t *testing.T) {
	for _, name := range hetest.Presets() {
		p := hetest.ForTest(t, name).Params
		for range 5 {
			c := NewClient(p, nil)
			if err := checkKeyPair(p, c.sk, c.pk); err != nil {
				t.Fatalf("%s: a genuine key pair: %v", name, err)
			}
		}
	}
}
