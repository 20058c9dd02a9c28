package net

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cgsim/cgsim/cost"
)

// Network is a link between the client and the server: the bandwidth of each
// direction and the round-trip time.
type Network struct {
	Name          string        // preset name, or the text it was parsed from
	BitsPerSecond float64       // bandwidth of each direction
	RTT           time.Duration // round-trip time
}

// The presets. LAN and WAN are the common ground of the secure-inference
// literature; LAN5G and WAN100 are the settings of peer systems.
var (
	LAN    = Network{Name: "lan", BitsPerSecond: 1e9, RTT: 500 * time.Microsecond}
	WAN    = Network{Name: "wan", BitsPerSecond: 400e6, RTT: 40 * time.Millisecond}
	LAN5G  = Network{Name: "lan5g", BitsPerSecond: 5e9, RTT: 200 * time.Microsecond}
	WAN100 = Network{Name: "wan100", BitsPerSecond: 100e6, RTT: 80 * time.Millisecond}
)

var presets = map[string]Network{LAN.Name: LAN, WAN.Name: WAN, LAN5G.Name: LAN5G, WAN100.Name: WAN100}

// PresetNames lists the network presets.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// The ranges Parse accepts for a custom network: from a 1 Kbps modem to
// 100 Tbps, and round trips up to a minute. Beyond them a link is a typo,
// and its prices would overflow to +Inf or vanish.
const (
	MinBitsPerSecond = 1e3
	MaxBitsPerSecond = 1e14
	MaxRTT           = time.Minute
)

// Parse returns the preset of that name, or the network described as
// "BANDWIDTH/RTT": a bandwidth with unit bps, Kbps, Mbps or Gbps and a
// duration in Go syntax, e.g. "200Mbps/10ms" or "10Gbps/100us". The
// bandwidth must lie in [MinBitsPerSecond, MaxBitsPerSecond] and the
// round-trip time in [0, MaxRTT].
func Parse(s string) (Network, error) {
	if n, ok := presets[strings.ToLower(s)]; ok {
		return n, nil
	}
	bw, rtt, ok := strings.Cut(s, "/")
	if !ok {
		return Network{}, fmt.Errorf("net: unknown network %q: want one of %s, or BANDWIDTH/RTT such as 200Mbps/10ms",
			s, strings.Join(PresetNames(), ", "))
	}
	bits, err := parseBandwidth(bw)
	if err != nil {
		return Network{}, fmt.Errorf("net: network %q: %w", s, err)
	}
	d, err := time.ParseDuration(strings.TrimSpace(rtt))
	if err != nil || d < 0 {
		return Network{}, fmt.Errorf("net: network %q: round-trip time %q is not a non-negative duration such as 40ms", s, rtt)
	}
	if d > MaxRTT {
		return Network{}, fmt.Errorf("net: network %q: round-trip time %v is above the limit of %v", s, d, MaxRTT)
	}
	return Network{Name: s, BitsPerSecond: bits, RTT: d}, nil
}

func parseBandwidth(s string) (float64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		scale  float64
	}{{"gbps", 1e9}, {"mbps", 1e6}, {"kbps", 1e3}, {"bps", 1}}
	lower := strings.ToLower(s)
	for _, u := range units {
		if num, ok := strings.CutSuffix(lower, u.suffix); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil || !(v > 0) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("bandwidth %q is not a positive number with a unit", s)
			}
			bits := v * u.scale
			if bits < MinBitsPerSecond || bits > MaxBitsPerSecond {
				return 0, fmt.Errorf("bandwidth %q is outside [1 Kbps, 100 Tbps]", s)
			}
			return bits, nil
		}
	}
	return 0, fmt.Errorf("bandwidth %q has no unit (bps, Kbps, Mbps, Gbps)", s)
}

// Seconds is the time to exchange bytesC2S and bytesS2C in rounds round
// trips: rounds × RTT + bytesC2S·8/bandwidth + bytesS2C·8/bandwidth.
func (n Network) Seconds(bytesC2S, bytesS2C, rounds int64) float64 {
	return float64(rounds)*n.RTT.Seconds() + float64(bytesC2S+bytesS2C)*8/n.BitsPerSecond
}

// Price returns c with NetworkSeconds set from its online bytes and rounds.
// It replaces, never adds to, what was there, so pricing twice is harmless.
// Offline bytes are not priced here: the dealer's link is not this one.
func (n Network) Price(c cost.Cost) cost.Cost {
	c.NetworkSeconds = n.Seconds(c.BytesC2S, c.BytesS2C, c.Rounds)
	return c
}

// String describes the network, e.g. "wan (400 Mbps, RTT 40ms)".
func (n Network) String() string {
	return fmt.Sprintf("%s (%g Mbps, RTT %v)", n.Name, n.BitsPerSecond/1e6, n.RTT)
}
