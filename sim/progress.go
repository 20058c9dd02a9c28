package sim

// Stage is what the run engine is doing, as reported to
// RunOptions.OnProgress.
type Stage string

// The stages of a run, in order: the key exchange when the parties are
// created, then the prefill's pass over the prompt, then the decode steps.
const (
	StageKeyExchange Stage = "key exchange"
	StagePrefill     Stage = "prefill"
	StageDecode      Stage = "decode"
)

// Progress is a progress report of the run engine: the stage, the decode
// step (StageDecode), and the layer whose attention the pass reaches, out of Layers
// (Layers is 0 for the key exchange). It is for a display only: nothing in
// it is part of the protocol or of the costs, and the estimate engine,
// which costs a whole generation in milliseconds, makes none.
type Progress struct {
	Stage  Stage
	Step   int
	Layer  int
	Layers int
}

// progress reports, if the run has a progress hook, that the current pass
// reaches the attention of layer l.
func (r *Runner) progress(l int) {
	if r.onProgress == nil {
		return
	}
	p := Progress{Stage: StagePrefill, Layer: l, Layers: len(r.ctx)}
	if ph, ok := r.current(); ok && ph.Kind == Decode {
		p.Stage, p.Step = StageDecode, ph.Step
	}
	r.onProgress(p)
}
