package mpc

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cgsim/cgsim/model"
)

// planRounds is the rounds of the levels levelGroup plans for a row of
// l among rows of m candidates in all, a round worth k comparisons (a
// level's selects counted as its rows', as maxPlan does).
func planRounds(l, m, k int) (rounds int, groups []int) {
	for l > 1 {
		g := levelGroup(l, m, k)
		groups = append(groups, g)
		_, sels := levelCompares(l, g)
		rounds += 1 + boolInt(g > 2) + boolInt(!selectsPay(max(1, m/l)*sels, 1, k))
		next := ceilDiv(l, g)
		m, l = max(1, m*next/l), next
	}
	return rounds, groups
}

// TestLevelGroup: the tournaments' plans. A round worth nothing gives the
// tree (fewest comparisons); the WAN's worth (about 3500 comparisons at
// bgv-n14) gives a decode row of stories260K (8 heads of 64 scores) a tree
// level then a group of 32 (3 rounds, where two levels of 8 take 4 and
// the tree 6), and GPT-2's (12 heads of 129) three tree levels and a
// group; the
// LAN's (about 40) gives them the tree, of comparisons then products
// while a level's selects cost more than a round; a vocabulary (one row of
// 50257) takes tree levels while they are cheaper than a round, then
// groups.
func TestLevelGroup(t *testing.T) {
	for _, c := range []struct {
		name    string
		l, m, k int
		rounds  int
	}{
		{"tree", 64, 512, 0, 12}, // comparisons then products: selects never pay
		{"stories260K decode, WAN", 64, 512, 3530, 3},
		{"stories260K decode, LAN", 64, 512, 44, 8}, // selects from 64 pairs a level
		{"GPT-2 decode, WAN", 129, 1548, 3530, 5},   // three tree levels and a group of 17: 265 comparisons a row where two levels of groups make about 900
		{"GPT-2 decode, LAN", 129, 1548, 44, 12},
		{"GPT-2 vocabulary, WAN", 50257, 50257, 3530, 13},
		{"one entry", 1, 1, 3530, 0},
		{"a pair", 2, 2, 3530, 1},
	} {
		got, groups := planRounds(c.l, c.m, c.k)
		if got != c.rounds {
			t.Errorf("%s: %d rounds (groups %v), want %d", c.name, got, groups, c.rounds)
		}
	}
	if g := levelGroup(64, 512, 3530); g != 2 {
		t.Errorf("stories260K decode, WAN: first level %d, want the tree's 2", g)
	}
	if g := levelGroup(32, 256, 3530); g != 32 {
		t.Errorf("stories260K decode, WAN: second level %d, want one group of 32", g)
	}
}

// TestMaxGroupsExact: the grouped tournaments return every row's maximum
// and the argmax its first position, exactly, on ties too (values drawn
// from a few levels so that rows repeat their maximum), with the plans a
// round's worth gives: the default's (tree levels and groups), the tree
// (a round worth nothing) and the largest groups (a round worth much).
func TestMaxGroupsExact(t *testing.T) {
	for _, preset := range testPresets {
		cfg := testConfig(t, preset)
		for _, worth := range []int{0, -1, 1 << 20} {
			lut := cfg
			lut.Nonlinear, lut.RoundCompares = LUT, worth
			for _, n := range []int{1, 2, 3, 5, 64, 129, 700, 6000, 9001} {
				if worth != 0 && n > 700 {
					continue // the default's plans cover the long rows
				}
				maxExact(t, cfg, lut, n)
			}
		}
	}
}

// maxExact runs Max over two rows of n and Argmax over the first under
// lut and checks them against model.Argmax.
func maxExact(t *testing.T, cfg, lut Config, n int) {
	t.Run(fmt.Sprintf("t=%d-bit/worth=%d/n=%d", cfg.Ring.Bits(), lut.RoundCompares, n), func(t *testing.T) {
		rng := rand.New(rand.NewPCG(uint64(n), 5))
		rows := 2
		v := make([]float64, rows*n)
		for i := range v {
			v[i] = float64(rng.IntN(6)) - 3 + 0.25*float64(rng.IntN(2))
		}
		x, err := cfg.Ring.Split(v)
		if err != nil {
			t.Fatal(err)
		}
		s := NewSession(lut, TrustedDealer{})
		defer s.Close()
		mx, err := Max{Config: lut, Rows: rows, Cols: n}.Run(s, x)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cfg.Ring.Open(mx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range rows {
			row := v[i*n : (i+1)*n]
			want := row[model.Argmax(row)]
			if g := cfg.Ring.Decode(got[i]); g != want {
				t.Errorf("row %d: max %v, want %v", i, g, want)
			}
		}
		row0, err := cfg.Ring.Split(v[:n])
		if err != nil {
			t.Fatal(err)
		}
		pos, err := Argmax{Config: lut, N: n}.Run(s, row0)
		if err != nil {
			t.Fatal(err)
		}
		if want := model.Argmax(v[:n]); pos != want {
			t.Errorf("argmax %d, want %d (first of ties)", pos, want)
		}
	})
}
