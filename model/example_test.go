package model_test

import (
	"bytes"
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

// ExampleWriteLlama2C writes a random llama model and a tokenizer in the
// llama2.c formats (as files for cgsim run --model and --tokenizer would
// be) and reads them back.
func ExampleWriteLlama2C() {
	// Grouped-query attention (2 kv heads for 4 query heads of 6), a
	// separate classifier, 300 tokens: the 259 special and byte pieces and
	// 41 more.
	cfg := model.Config{
		Name: "tiny", Arch: model.ArchLlama,
		Dim: 24, HiddenDim: 33, NumLayers: 2, NumHeads: 4, NumKVHeads: 2,
		VocabSize: 300, SeqLen: 16, NormEps: 1e-5, RopeTheta: 10000,
	}
	var mf bytes.Buffer
	if err := model.WriteLlama2C(&mf, model.NewRandom(cfg, 1)); err != nil {
		log.Fatal(err)
	}
	size := int64(mf.Len()) // a 28-byte header and 22,824 float32
	m, err := model.ReadLlama2C(&mf, size)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d bytes: %d layers, %d heads over %d kv heads, vocabulary %d, shared classifier %v\n",
		size, m.Config.NumLayers, m.Config.NumHeads, m.Config.NumKVHeads, m.Config.VocabSize, m.Config.SharedClassifier)

	pieces := []string{"<unk>", "\n<s>\n", "\n</s>\n"}
	for b := range 256 {
		pieces = append(pieces, fmt.Sprintf("<0x%02X>", b))
	}
	for i := len(pieces); i < cfg.VocabSize; i++ {
		pieces = append(pieces, fmt.Sprintf(" w%d", i))
	}
	tok, err := model.NewTokenizer(pieces, make([]float64, len(pieces)))
	if err != nil {
		log.Fatal(err)
	}
	var tf bytes.Buffer
	if err := model.WriteLlama2CTokenizer(&tf, tok); err != nil {
		log.Fatal(err)
	}
	back, err := model.ReadLlama2CTokenizer(&tf, m.Config.VocabSize)
	if err != nil {
		log.Fatal(err)
	}
	// No piece is "h" or "i" (nor the dummy prefix " "): byte fallback,
	// id = byte + 3.
	ids, _ := back.Encode("hi", true, false)
	fmt.Println(back.VocabSize(), ids)
	// Output:
	// 91324 bytes: 2 layers, 4 heads over 2 kv heads, vocabulary 300, shared classifier false
	// 300 [1 35 107 108]
}
