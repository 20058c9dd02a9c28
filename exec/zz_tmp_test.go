package exec

import (
	"testing"

	"github.com/cgsim/cgsim/internal/hetest"
)

func TestTmpPlan(t *testing.T) {
	for _, preset := range []string{"bgv-n13", "bgv-n14"} {
		e := hetest.ForTest(t, preset)
		for _, fb := range []int{40, 55} {
			pl, _ := PlannerFor(e.Preset, e.Profile)
			pl.StatSecurity = fb
			for _, ctx := range []int{128, 129} {
				sh := AttentionShape{Heads: 12, KVHeads: 12, HeadDim: 64, Context: ctx}
				cl := MaxFeatureClasses(e.Params.MaxSlots(), 12, 64)
				sc, err := pl.FeatureScores(sh, cl)
				if err != nil {
					t.Log(err)
					continue
				}
				vk, err := pl.FeatureValues(sh, cl)
				if err != nil {
					t.Log(err)
					continue
				}
				c := sc.Estimate().Add(vk.Estimate())
				t.Logf("%s flood %d ctx %d: scores L%d b%d g%d; values L%d b%d g%d per %d; ctpt %d rot %d", preset, fb, ctx, sc.Level, sc.prod.baby, sc.prod.giant, vk.Level, vk.prod.baby, vk.prod.giant, vk.perResult, c.CtPtMul, c.Rotations)
			}
		}
	}
}
