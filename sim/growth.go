package sim

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat"
)

// GrowthExponent returns the exponent k of the power law y ≈ a·x^k that
// fits the points best in the least-squares sense on a log-log scale: the
// slope of ln y against ln x, by gonum's stat.LinearRegression. It is 1 for
// a cost linear in x, 2 for a quadratic one and 0 for a flat one; a cost
// with a fixed part, such as a decode step whose linear layers do not depend
// on the context, has an exponent below its asymptotic one over a short
// range.
//
// It is an error if xs and ys differ in length, if a value is not positive
// and finite, or if fewer than two distinct x are given.
func GrowthExponent(xs, ys []float64) (float64, error) {
	k, err := growthExponent(xs, ys)
	if err != nil {
		return 0, fmt.Errorf("sim: growth exponent: %w", err)
	}
	return k, nil
}

func growthExponent(xs, ys []float64) (float64, error) {
	if len(xs) != len(ys) {
		return 0, fmt.Errorf("%d x and %d y values", len(xs), len(ys))
	}
	lx, ly := make([]float64, len(xs)), make([]float64, len(ys))
	distinct := false
	for i := range xs {
		if !(xs[i] > 0 && ys[i] > 0) || math.IsInf(xs[i], 0) || math.IsInf(ys[i], 0) {
			return 0, fmt.Errorf("point (%g, %g) is not positive and finite", xs[i], ys[i])
		}
		lx[i], ly[i] = math.Log(xs[i]), math.Log(ys[i])
		distinct = distinct || xs[i] != xs[0]
	}
	if !distinct {
		return 0, fmt.Errorf("want at least two distinct x, got %v", xs)
	}
	_, k := stat.LinearRegression(lx, ly, nil, false)
	return k, nil
}

// Growth returns the growth exponent (see GrowthExponent) of a strategy's
// seconds per token against the context over the plan's points at which it
// was costed.
func (r *PlanReport) Growth(s Strategy) (float64, error) {
	var xs, ys []float64
	for _, pt := range r.Points {
		if _, ok := pt.Costs[s]; ok && pt.Errors[s] == "" {
			xs, ys = append(xs, float64(pt.Context)), append(ys, pt.Seconds(s))
		}
	}
	k, err := growthExponent(xs, ys)
	if err != nil {
		return 0, fmt.Errorf("sim: growth exponent of %s in the plan of %s: %w", s, r.Model, err)
	}
	return k, nil
}
