// Package net carries messages between the client and the server of cgsim
// and prices them.
//
// # Network model
//
// A [Network] is a bandwidth per direction and a round-trip time. Its
// [Network.Seconds] prices communication as
//
//	rounds × RTT + bytes_c2s / bandwidth + bytes_s2c / bandwidth
//
// which is DESIGN.md's "time = rounds × RTT + bytes / bandwidth, per
// direction": every round trip pays the latency once, and every byte crosses
// its link once (messages of the two directions are not assumed to overlap).
// Presets are the common ground of the literature (lan, wan) and the networks
// of the systems cgsim compares with (lan5g, wan100); [Parse] also accepts a
// user's own "BANDWIDTH/RTT", such as "200Mbps/10ms".
//
// # Transport
//
// [Pipe] returns two connected in-process [Conn] endpoints, one for the
// client and one for the server, and the [Meter] that counts what crosses:
// bytes and messages per direction, counted once by the sender, and flights.
// A flight is a maximal run of messages in one direction; a round trip is two
// flights, so a stretch of protocol with F flights costs ceil(F/2) rounds
// ([Counters.Rounds]). A secure primitive brackets its Run with
// [Meter.Begin] and [Meter.Since], so that its rounds do not depend on what
// ran before it and add up exactly to what its Estimate predicts.
//
// When both parties send at the same time (an exchange of shares), each
// must send its part of the exchange as one message, so that the exchange
// counts two flights whatever the scheduling.
//
// Send never blocks (the queue is unbounded), so one goroutine may play both
// parties in turn; Recv blocks until a message arrives or the pipe is closed.
// A sender whose peer consumes a long flight as it arrives may bound what
// waits between them with [Pace] (a [Paced] endpoint's WaitBacklog), as a
// TCP window would. Endpoints are safe for concurrent use.
//
// A message belongs to one party at a time. Send copies what it is given;
// a message Recv returns is the receiver's, which hands it back with
// [Recycle] once it has decoded it (an unmarshalled ciphertext holds
// copies), for the transport to write a later message of the same size
// into. [Frame] marshals an object straight into such a buffer with its
// frame (a length and a CRC-32, which [Unframe] checks before anything
// parses the payload), and [SendFrame] hands the frame over: on the pipe
// the receiver gets it without a copy. A generation step moves hundreds of
// megabytes of ciphertexts between the parties; this keeps them from
// being garbage the collector chases and fresh pages the kernel faults in.
package net
