// Package cost is the accounting record of cgsim: what a secure primitive, a
// phase or a whole generation costs, and how counts become seconds.
//
// # The Cost record
//
// A [Cost] holds three kinds of quantity:
//
//   - additive counters, summed by [Cost.Add] and multiplied by [Cost.Scale]:
//     homomorphic operations (ct_pt_mul, ct_ct_mul, rotations, rescales, adds,
//     encryptions, decryptions, refreshes, bootstraps, encodes,
//     serializations), local work (share_ops, dcf_levels, seed_coeffs),
//     2PC material (triples), communication (bytes_c2s, bytes_s2c, rounds), offline
//     communication (offline_bytes) and seconds (compute_seconds,
//     network_seconds, seconds);
//   - non-additive quantities, combined by maximum: peak_memory_bytes and
//     levels_consumed;
//   - nothing else: a Cost never holds a ciphertext, a key or a share.
//
// Online and offline work are kept apart: everything a dealer prepares before
// the prompt is known is counted in the offline fields (offline_bytes,
// offline_seconds) and never in bytes_c2s, bytes_s2c or seconds.
// offline_seconds is the time to deal the material and expand it at both
// parties; sending it is not included (offline_bytes says how much there
// is, over a link that is not the parties').
//
// Bytes are counted once, by the sender, per direction. A round is one round
// trip between the parties (see package net for how a transport counts them).
//
// The JSON form (see [Cost.MarshalJSON]) uses the field names of DESIGN.md,
// which scripts rely on; they are listed in [FieldNames].
//
// # Profiles
//
// A [Profile] gives the seconds one homomorphic operation takes for one
// parameter preset, per ciphertext level: it is measured once on a machine
// (cgsim calibrate) and then used by every Estimate. [Profile.Charge] turns n
// operations at a level into a Cost with the counter and the compute seconds
// filled in, so that a primitive's Estimate and the meter of its Run price
// events in one place. [Default] returns the profiles embedded in the binary,
// measured on the reference machine (each records which: its CPU model,
// clock and cores; see [Machine]); [ReadProfile] loads a file written by
// cgsim calibrate.
//
// A profile also prices the trusted dealer ([OfflineOps]): one dealing
// ([OpDeal]) and each triple, truncation mask and comparison key in it,
// measured at the preset's share ring; Charge turns them into
// offline_seconds only (no counter, no online seconds). They are all
// present or all absent: a profile written before they existed (or for
// CKKS) lacks them, still loads, and prices the dealer's seconds at zero
// ([Profile.PricesOffline] tells; cgsim warns when given such a file).
//
// More ops are optional: [OpRound] (a round's own CPU work, which the
// estimate engine adds per round), [OpDCF] (a level of a comparison key's
// evaluation), [OpExpand] (a coefficient of a client ciphertext expanded
// from its seed), [OpShareProtocol] (a share operation as the two-party
// protocols make them), [OpDecode] (a decoding) and [OpEncodeCoeffs] and
// [OpDecodeCoeffs] (an encoding and a decoding in the coefficients). A
// profile measured before they existed lacks them and prices a round at
// zero, the next three as the share operations they were once counted
// as, the encodings as an [OpEncode] at the same level, so that its
// estimates do not move.
//
// Network seconds are not this package's business: package net turns bytes
// and rounds into seconds for a given network.
//
// The package imports nothing of the project.
package cost
