package net_test

import (
	"fmt"

	"github.com/cgsim/cgsim/net"
)

// A request and its response cost one round; bytes are counted per
// direction, once, by the sender.
func ExamplePipe() {
	client, server, meter, closePipe := net.Pipe()
	defer closePipe()
	start := meter.Begin()
	client.Send(make([]byte, 1000))
	server.Recv()
	server.Send(make([]byte, 200))
	client.Recv()
	c := meter.Since(start)
	fmt.Println(c.BytesC2S, c.BytesS2C, c.Rounds)
	// Output: 1000 200 1
}

// Network time is rounds × RTT plus the bytes of each direction over its
// bandwidth.
func ExampleNetwork_Seconds() {
	wan, _ := net.Parse("wan")
	fmt.Printf("%.3f s\n", wan.Seconds(50e6, 0, 10)) // 10 × 40 ms + 400 Mbit at 400 Mbps
	custom, _ := net.Parse("100Mbps/10ms")
	fmt.Println(custom)
	// Output:
	// 1.400 s
	// 100Mbps/10ms (100 Mbps, RTT 10ms)
}
