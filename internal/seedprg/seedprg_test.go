package seedprg

import (
	"bytes"
	"crypto/aes"
	"encoding/hex"
	"testing"
)

// TestKeystream: the generator is AES-256 in counter mode from a zero
// counter: its first block is the encryption of the zero block, its
// second that of the block 1 (checked against crypto/aes directly), reads
// of any sizes continue one stream, and two seeds give two streams.
func TestKeystream(t *testing.T) {
	seed, _ := hex.DecodeString("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
	g, err := New(seed)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(seed)
	var want [64]byte
	for i := range 4 {
		var ctr [16]byte
		ctr[15] = byte(i)
		block.Encrypt(want[16*i:], ctr[:])
	}
	got := make([]byte, 64)
	for _, cut := range [][2]int{{0, 3}, {3, 16}, {16, 17}, {17, 64}} {
		if _, err := g.Read(got[cut[0]:cut[1]]); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, want[:]) {
		t.Errorf("keystream\n%x\nwant\n%x", got, want)
	}
	other := append([]byte(nil), seed...)
	other[0] ^= 1
	h, _ := New(other)
	again := make([]byte, 64)
	h.Read(again)
	if bytes.Equal(again, got) {
		t.Error("two seeds gave one stream")
	}
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("a %d-byte seed accepted", n)
		}
	}
}
