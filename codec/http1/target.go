package http1

import "net/netip"

// targetInfo holds the parts of a request-target, as offsets into it.
type targetInfo struct {
	form             TargetForm
	pathOff, pathLen int
	queryOff         int
	queryLen         int
	authOff, authLen int
	hasQuery         bool
}

// parseTarget classifies a request-target whose bytes are all in targetTab
// and checks its syntax (RFC 9112 §3.2):
//   - origin-form: "/" path with valid percent-encoding, optional "?" query;
//   - asterisk-form: "*";
//   - absolute-form: "http://" or "https://" (scheme case-insensitive),
//     an authority without userinfo and with a non-empty host, then an
//     optional path and query;
//   - authority-form: host ":" port.
//
// Queries are not checked for percent-encoding, like most servers do.
func parseTarget(t []byte) (ti targetInfo, ok bool) {
	if len(t) == 0 {
		return ti, false
	}
	if t[0] == '/' {
		ti.form = FormOrigin
		return ti, splitPathQuery(t, 0, &ti)
	}
	if len(t) == 1 && t[0] == '*' {
		ti.form = FormAsterisk
		ti.pathLen = 1
		return ti, true
	}
	rest := -1
	switch {
	case len(t) >= 7 && equalFoldLower(t[:7], "http://"):
		rest = 7
	case len(t) >= 8 && equalFoldLower(t[:8], "https://"):
		rest = 8
	}
	if rest < 0 {
		ti.form = FormAuthority
		ti.authLen = len(t)
		return ti, validAuthority(t, true)
	}
	ti.form = FormAbsolute
	end := rest
	for end < len(t) && t[end] != '/' && t[end] != '?' {
		end++
	}
	if !validAuthority(t[rest:end], false) {
		return ti, false
	}
	ti.authOff, ti.authLen = rest, end-rest
	return ti, splitPathQuery(t, end, &ti)
}

// splitPathQuery records the path starting at t[start] and the query after
// the first '?', and checks the percent-encoding of the path.
func splitPathQuery(t []byte, start int, ti *targetInfo) bool {
	end := start
	for end < len(t) && t[end] != '?' {
		if t[end] == '%' {
			if end+2 >= len(t) || hexVal[t[end+1]] == 0xff || hexVal[t[end+2]] == 0xff {
				return false
			}
			end += 2
		}
		end++
	}
	ti.pathOff, ti.pathLen = start, end-start
	if end < len(t) {
		ti.hasQuery = true
		ti.queryOff, ti.queryLen = end+1, len(t)-end-1
	}
	return true
}

// validAuthority checks uri-host [":" port] (RFC 3986 §3.2) in the strict
// subset this codec accepts: a reg-name made of unreserved characters (which
// covers IPv4 addresses) or a bracketed IPv6 address without zone; no
// userinfo, no percent-encoding; a port of 1 to 5 digits not above 65535,
// required when portRequired.
func validAuthority(a []byte, portRequired bool) bool {
	if len(a) == 0 {
		return false
	}
	i := 0
	if a[0] == '[' {
		i = 1
		for i < len(a) && (hexVal[a[i]] != 0xff || a[i] == ':' || a[i] == '.') {
			i++
		}
		if i == len(a) || a[i] != ']' || i == 1 {
			return false
		}
		addr, err := netip.ParseAddr(string(a[1:i]))
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return false
		}
		i++
	} else {
		for i < len(a) && regNameTab[a[i]] {
			i++
		}
		if i == 0 {
			return false
		}
	}
	if i == len(a) {
		return !portRequired
	}
	if a[i] != ':' {
		return false
	}
	return validPort(a[i+1:])
}

func validPort(p []byte) bool {
	if len(p) == 0 || len(p) > 5 {
		return false
	}
	n := 0
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}
