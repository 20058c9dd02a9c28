package net

import (
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"

	"github.com/cgsim/cgsim/cost"
)

// TestNetworkSeconds checks the model on cases computed by hand.
func TestNetworkSeconds(t *testing.T) {
	tests := []struct {
		name             string
		net              Network
		c2s, s2c, rounds int64
		want             float64
	}{
		// 1 round × 0.5 ms + 125,000 bytes = 1e6 bits at 1 Gbps = 1 ms.
		{"lan", LAN, 125_000, 0, 1, 0.0005 + 0.001},
		// 3 rounds × 40 ms + (50e6 + 50e6) bytes × 8 / 400e6 = 0.12 + 2 s.
		{"wan", WAN, 50_000_000, 50_000_000, 3, 0.12 + 2},
		// Nothing sent: latency only; 2 × 80 ms.
		{"wan100 latency", WAN100, 0, 0, 2, 0.16},
		// 5 Gbps: 625,000,000 bytes = 5e9 bits = 1 s, no rounds.
		{"lan5g bandwidth", LAN5G, 0, 625_000_000, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.net.Seconds(tt.c2s, tt.s2c, tt.rounds)
			if math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("Seconds = %v, want %v", got, tt.want)
			}
			c := tt.net.Price(cost.Cost{BytesC2S: tt.c2s, BytesS2C: tt.s2c, Rounds: tt.rounds, ComputeSeconds: 1})
			if c.NetworkSeconds != got || c.Seconds() != 1+got {
				t.Errorf("Price: %+v", c)
			}
			if again := tt.net.Price(c); again != c {
				t.Errorf("pricing twice changed the cost")
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		bits float64
		rtt  time.Duration
	}{
		{"lan", 1e9, 500 * time.Microsecond},
		{"WAN", 400e6, 40 * time.Millisecond},
		{"lan5g", 5e9, 200 * time.Microsecond},
		{"wan100", 100e6, 80 * time.Millisecond},
		{"200Mbps/10ms", 200e6, 10 * time.Millisecond},
		{"2.5Gbps/100us", 2.5e9, 100 * time.Microsecond},
		{"64kbps/1s", 64e3, time.Second},
		{"1kbps/0s", MinBitsPerSecond, 0},           // the slowest link accepted
		{"100000Gbps/1m", MaxBitsPerSecond, MaxRTT}, // the fastest link, the longest round trip
	}
	for _, tt := range tests {
		n, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if n.BitsPerSecond != tt.bits || n.RTT != tt.rtt {
			t.Errorf("Parse(%q) = %v, want %g bps / %v", tt.in, n, tt.bits, tt.rtt)
		}
	}
	for _, bad := range []string{"", "moon", "100/10ms", "0Mbps/1ms", "-5Mbps/1ms", "100Mbps/soon", "100Mbps/-1ms", "NaNMbps/1ms",
		// Out of range: prices would be +Inf (JSON cannot hold them) or vanish.
		"1e-300bps/1ms", "999bps/1ms", "1e308Gbps/1ms", "100001Gbps/1ms", "InfGbps/1ms", "100Mbps/61s", "100Mbps/2562047h"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", bad)
		}
	}
}

// TestMeterFlights checks bytes per direction and rounds over message
// patterns of the protocols.
func TestMeterFlights(t *testing.T) {
	const (
		c = ClientToServer
		s = ServerToClient
	)
	tests := []struct {
		name   string
		msgs   []Direction
		rounds int64
	}{
		{"request/response", []Direction{c, s}, 1},
		{"one way", []Direction{c}, 1},
		{"batched request", []Direction{c, c, c, s}, 1},
		{"two exchanges", []Direction{c, s, c, s}, 2},
		{"server first", []Direction{s, c}, 1},
		{"three flights", []Direction{c, s, c}, 2},
		{"none", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server, meter, closePipe := Pipe()
			defer closePipe()
			var want [2]int64
			start := meter.Begin()
			for i, d := range tt.msgs {
				msg := make([]byte, 10+i) // distinct sizes catch a swap of directions
				want[d] += int64(len(msg))
				from, to := client, server
				if d == s {
					from, to = server, client
				}
				if err := from.Send(msg); err != nil {
					t.Fatal(err)
				}
				if got, err := to.Recv(); err != nil || len(got) != len(msg) {
					t.Fatalf("Recv: %d bytes, %v", len(got), err)
				}
			}
			got := meter.Since(start)
			if got.BytesC2S != want[c] || got.BytesS2C != want[s] || got.Rounds != tt.rounds {
				t.Errorf("got c2s=%d s2c=%d rounds=%d, want %d %d %d",
					got.BytesC2S, got.BytesS2C, got.Rounds, want[c], want[s], tt.rounds)
			}
		})
	}
}

// TestBeginSeparatesStretches checks that a stretch's rounds do not depend
// on the direction of the message before it.
func TestBeginSeparatesStretches(t *testing.T) {
	client, server, meter, closePipe := Pipe()
	defer closePipe()
	client.Send([]byte{1}) // a previous stretch ends client->server
	server.Recv()
	start := meter.Begin()
	client.Send([]byte{2}) // same direction, but a new stretch: a new flight
	server.Recv()
	server.Send([]byte{3})
	client.Recv()
	if r := meter.Since(start).Rounds; r != 1 {
		t.Errorf("rounds = %d, want 1", r)
	}
}

// TestSimultaneousExchange has both parties send at once, in goroutines, as
// an opening of shares does: one round whatever the scheduling.
func TestSimultaneousExchange(t *testing.T) {
	for i := 0; i < 50; i++ {
		client, server, meter, closePipe := Pipe()
		start := meter.Begin()
		var wg sync.WaitGroup
		for _, conn := range []Conn{client, server} {
			wg.Add(1)
			go func(conn Conn) {
				defer wg.Done()
				conn.Send(make([]byte, 8))
				conn.Recv()
			}(conn)
		}
		wg.Wait()
		closePipe()
		if c := meter.Since(start); c.Rounds != 1 || c.BytesC2S != 8 || c.BytesS2C != 8 {
			t.Fatalf("exchange cost %+v, want 1 round and 8 bytes each way", c)
		}
	}
}

func TestClosed(t *testing.T) {
	client, server, _, closePipe := Pipe()
	client.Send([]byte("queued"))
	closePipe()
	// A message queued before the close is still delivered, then ErrClosed.
	if m, err := server.Recv(); err != nil || string(m) != "queued" {
		t.Errorf("Recv = %q, %v", m, err)
	}
	if _, err := server.Recv(); err != ErrClosed {
		t.Errorf("Recv after close = %v, want ErrClosed", err)
	}
	if err := client.Send(nil); err != ErrClosed {
		t.Errorf("Send after close = %v, want ErrClosed", err)
	}
}

// TestPace checks that a paced sender never has more than its bound
// waiting (plus the one message it may add once below it), that it waits
// while the receiver lags, and that a close releases it.
func TestPace(t *testing.T) {
	client, server, _, closePipe := Pipe()
	defer closePipe()
	const msg, bound, n = 100, 250, 50 // bytes per message; at most 2 waiting before a send
	q := client.(*endpoint).out
	backlog := func() int64 {
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.bytes
	}
	done := make(chan error, 1)
	var most int64 // bytes waiting just after a send
	go func() {
		for i := 0; i < n; i++ {
			if err := Pace(client, bound); err != nil {
				done <- err
				return
			}
			if err := client.Send(make([]byte, msg)); err != nil {
				done <- err
				return
			}
			most = max(most, backlog())
		}
		done <- nil
	}()
	for i := 0; i < n; i++ {
		if _, err := server.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if most > bound+msg {
		t.Errorf("%d bytes waited unread, the bound is %d (+ the message sent once below it)", most, bound)
	}
	// A sender waiting on a receiver that never reads is released by a close.
	for i := 0; i < 5; i++ {
		client.Send(make([]byte, msg))
	}
	go func() { done <- Pace(client, bound) }()
	closePipe()
	if err := <-done; err != ErrClosed {
		t.Errorf("Pace after close = %v, want ErrClosed", err)
	}
}

// TestCiphertextBytes checks that sending real lattigo ciphertexts is
// metered at exactly their BinarySize plus the frame, at several levels, and that a
// truncated ciphertext is an error on receipt.
func TestCiphertextBytes(t *testing.T) {
	// Small insecure parameters: this test is about byte counts, not security.
	params, err := bgv.NewParametersFromLiteral(bgv.ParametersLiteral{
		LogN: 10, LogQ: []int{30, 30, 30}, LogP: []int{31}, PlaintextModulus: 65537,
	})
	if err != nil {
		t.Fatal(err)
	}
	sk := rlwe.NewKeyGenerator(params).GenSecretKeyNew()
	enc := rlwe.NewEncryptor(params, sk)
	eval := bgv.NewEvaluator(params, nil)
	client, server, meter, closePipe := Pipe()
	defer closePipe()
	for level := params.MaxLevel(); level >= 0; level-- {
		ct := enc.EncryptZeroNew(params.MaxLevel())
		eval.DropLevel(ct, params.MaxLevel()-level)
		start := meter.Begin()
		if err := SendObject(client, ct); err != nil {
			t.Fatal(err)
		}
		got := rlwe.NewCiphertext(params, 1, params.MaxLevel())
		if err := RecvObject(server, got); err != nil {
			t.Fatal(err)
		}
		if c := meter.Since(start); c.BytesC2S != int64(ct.BinarySize()+FrameOverhead) || c.Rounds != 1 {
			t.Errorf("level %d: metered %d bytes, want BinarySize %d + frame %d", level, c.BytesC2S, ct.BinarySize(), FrameOverhead)
		}
		if got.Level() != level {
			t.Errorf("received level %d, sent %d", got.Level(), level)
		}
	}
	// Capture one framed ciphertext, then deliver damaged copies of it.
	capture, capServer, _, closeCapture := Pipe()
	defer closeCapture()
	if err := SendObject(capture, enc.EncryptZeroNew(params.MaxLevel())); err != nil {
		t.Fatal(err)
	}
	msg, _ := capServer.Recv()
	flipped := append([]byte(nil), msg...)
	flipped[len(flipped)/2] ^= 1
	damaged := map[string][]byte{
		"empty":           nil,
		"header only":     msg[:FrameOverhead],
		"cut mid-header":  msg[:5],
		"cut in half":     msg[:len(msg)/2],
		"last byte cut":   msg[:len(msg)-1],
		"trailing byte":   append(append([]byte(nil), msg...), 0),
		"one bit flipped": flipped,
	}
	for name, m := range damaged {
		client.Send(m)
		err := RecvObject(server, rlwe.NewCiphertext(params, 1, params.MaxLevel()))
		if err == nil || !strings.Contains(err.Error(), "frame") {
			t.Errorf("%s: err = %v, want a frame error", name, err)
		}
	}
}

// BenchmarkPipe measures the in-process transport: one 64 KiB message each
// way per iteration, as a share exchange of 8192 elements does.
func BenchmarkPipe(b *testing.B) {
	client, server, _, closePipe := Pipe()
	defer closePipe()
	msg := make([]byte, 64<<10)
	b.SetBytes(2 * int64(len(msg)))
	for i := 0; i < b.N; i++ {
		client.Send(msg)
		server.Recv()
		server.Send(msg)
		client.Recv()
	}
}

// TestFlightOrderUnderRace replies as fast as possible to a two-message
// request: the reply must never be counted before the request's second
// message (the meter records before the message is visible).
func TestFlightOrderUnderRace(t *testing.T) {
	for i := 0; i < 2000; i++ {
		client, server, meter, closePipe := Pipe()
		start := meter.Begin()
		done := make(chan struct{})
		go func() {
			defer close(done)
			server.Recv()
			server.Recv()
			server.Send([]byte{1})
		}()
		client.Send([]byte{1})
		client.Send([]byte{2})
		client.Recv()
		<-done
		closePipe()
		if r := meter.Since(start).Rounds; r != 1 {
			t.Fatalf("iteration %d: %d rounds, want 1", i, r)
		}
	}
}

// FuzzParse checks that Parse never panics and that every network it
// accepts prices traffic to a finite, non-negative number of seconds (what
// the JSON outputs need).
func FuzzParse(f *testing.F) {
	for _, s := range []string{"lan", "wan", "200Mbps/10ms", "2.5Gbps/100us", "1e-300bps/1ms", "1e308Gbps/1ms",
		"100Mbps/-1ms", "NaNMbps/1ms", "/", "Mbps/", "100 Mbps / 10 ms", "1kbps/1m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			return
		}
		// The most a generation moves: far beyond any model (2^50 bytes
		// each way, 2^40 rounds).
		sec := n.Seconds(1<<50, 1<<50, 1<<40)
		if math.IsInf(sec, 0) || math.IsNaN(sec) || sec < 0 {
			t.Fatalf("Parse(%q) = %v prices to %v seconds", s, n, sec)
		}
	})
}
