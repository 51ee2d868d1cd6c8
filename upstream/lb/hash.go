package lb

// The consistent-hash balancers need hashes that are the same in every
// process (so that a fleet of proxies agrees on where a key goes), hence
// FNV-1a rather than hash/maphash, finished with a 64-bit mixer because
// FNV's high bits are weak for short, similar inputs such as addresses.

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
	// golden is 2^64 / phi, the usual odd constant for spreading a
	// counter over 64 bits.
	golden = 0x9e3779b97f4a7c15
)

// hashString returns the mixed FNV-1a hash of s.
func hashString(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return mix64(h)
}

// mix64 is the MurmurHash3 finaliser: a bijection with full avalanche.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
