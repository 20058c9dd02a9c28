package model_test

import (
	"fmt"
	"log"

	"github.com/cgsim/cgsim/model"
)

func ExampleConfigByName() {
	c, err := model.ConfigByName("gpt2")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s (%v): %d layers, dim %d, %d heads of %d, context %d, %d parameters\n",
		c.Name, c.Arch, c.NumLayers, c.Dim, c.NumHeads, c.HeadDim(), c.SeqLen, c.ParamCount())

	_, err = model.ConfigByName("gpt3")
	fmt.Println(err)
	// Output:
	// gpt2 (gpt2): 12 layers, dim 768, 12 heads of 64, context 1024, 124439808 parameters
	// model: unknown config "gpt3" (known: gpt2, gpt2-large, gpt2-medium, gpt2-xl, llama3-8b, stories260K)
}

func ExampleLoadLlama2C() {
	m, err := model.LoadLlama2C("../../shared/data/stories260K/stories260K.bin")
	if err != nil {
		log.Fatal(err)
	}
	tok, err := model.LoadLlama2CTokenizer("../../shared/data/stories260K/tok512.bin", m.Config.VocabSize)
	if err != nil {
		log.Fatal(err)
	}
	// The empty prompt of llama2.c: just BOS.
	ids, err := model.Generate(m, []int{model.BOS}, 15)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ids[:5])
	fmt.Println(tok.DecodeAll(ids))
	// Output:
	// [403 407 261 378 432]
	// Once upon a time, there was a little girl named Lily.
}

func ExampleTokenizer_Encode() {
	tok, err := model.LoadLlama2CTokenizer("../../shared/data/stories260K/tok512.bin", 512)
	if err != nil {
		log.Fatal(err)
	}
	ids, err := tok.Encode("Once upon a time", true, false)
	if err != nil {
		log.Fatal(err)
	}
	for _, id := range ids {
		fmt.Printf("%d %q\n", id, tok.Piece(id))
	}
	fmt.Printf("%q\n", tok.DecodeAll(ids))
	// Output:
	// 1 "\n<s>\n"
	// 403 " Once"
	// 407 " upon"
	// 261 " a"
	// 378 " time"
	// "Once upon a time"
}

func ExampleModel_Forward() {
	// A small GPT-2-shaped model with random weights.
	cfg := model.Config{
		Name: "tiny", Arch: model.ArchGPT2,
		Dim: 32, HiddenDim: 128, NumLayers: 2, NumHeads: 4, NumKVHeads: 4,
		VocabSize: 100, SeqLen: 8, SharedClassifier: true, NormEps: 1e-5,
	}
	m := model.NewRandom(cfg, 1)
	st := m.NewState()
	for _, tok := range []int{10, 20, 30} {
		logits, err := m.Forward(st, tok)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(len(logits), st.Pos)
	}
	// Output:
	// 100 1
	// 100 2
	// 100 3
}
