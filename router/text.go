package router

import "strings"

// The router folds case in ASCII only: hosts are ASCII (IDNA names arrive
// as punycode) and paths are compared as the bytes the client sent, so a
// Unicode fold would only add surprises and cost.

func hasUpperASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}

// lowerASCII returns s with ASCII letters lowered; it allocates only when s
// has an upper-case letter.
func lowerASCII(s string) string {
	if !hasUpperASCII(s) {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// hasPrefixFold reports whether s starts with prefix, ignoring ASCII case;
// prefix must already be lower case.
func hasPrefixFold(s, lowerPrefix string) bool {
	if len(s) < len(lowerPrefix) {
		return false
	}
	for i := 0; i < len(lowerPrefix); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lowerPrefix[i] {
			return false
		}
	}
	return true
}

// equalFold reports whether s equals lower ignoring ASCII case; lower must
// already be lower case.
func equalFold(s, lower string) bool {
	return len(s) == len(lower) && hasPrefixFold(s, lower)
}

// splitHostPort splits "host:port", "[v6]:port", "host" and "[v6]". A bare
// IPv6 address (several colons, no brackets) is all host. The port is
// returned without checking that it is numeric.
func splitHostPort(s string) (host, port string) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return s, ""
		}
		if end+1 < len(s) && s[end+1] == ':' {
			return s[:end+1], s[end+2:]
		}
		return s, ""
	}
	i := strings.IndexByte(s, ':')
	if i < 0 || strings.IndexByte(s[i+1:], ':') >= 0 {
		return s, ""
	}
	return s[:i], s[i+1:]
}

// FNV-1a, 64 bits: stable across processes and releases, so that hash-based
// balancing keeps its mapping over restarts and across a fleet.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

func fnv1a(s string) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

// cookieValue finds a cookie in a Cookie header ("a=1; b=2"). A value in
// double quotes is returned without them.
func cookieValue(header, name string) (string, bool) {
	for header != "" {
		var part string
		if i := strings.IndexByte(header, ';'); i >= 0 {
			part, header = header[:i], header[i+1:]
		} else {
			part, header = header, ""
		}
		part = strings.TrimSpace(part)
		eq := strings.IndexByte(part, '=')
		if eq < 0 || strings.TrimSpace(part[:eq]) != name {
			continue
		}
		v := strings.TrimSpace(part[eq+1:])
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		return v, true
	}
	return "", false
}
