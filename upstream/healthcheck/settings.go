package healthcheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"mosn.dev/proxy/config"
)

// Protocols of health_check.protocol. "http1" is accepted as a spelling of
// ProtocolHTTP1.
const (
	ProtocolTCP   = "tcp"
	ProtocolHTTP1 = "Http1"
	ProtocolBolt  = "bolt"
	ProtocolDubbo = "dubbo"
)

// httpCheckConfigKey is the check_config key under which MOSN reads the
// HTTP settings.
const httpCheckConfigKey = "http_check_config"

// settings is a health_check config with every default applied and every
// value checked.
type settings struct {
	// protocol is one of the Protocol constants; Http1 without any HTTP
	// setting becomes tcp, as in MOSN.
	protocol           string
	timeout            time.Duration
	interval           time.Duration
	jitter             time.Duration
	initialDelay       time.Duration
	healthyThreshold   uint32
	unhealthyThreshold uint32
	serviceName        string
	eventLogPath       string
	// httpFallback is set when Http1 was asked for without HTTP settings.
	httpFallback bool
	http         *httpSettings
}

// httpSettings are the Http1 check_config fields.
type httpSettings struct {
	// port replaces the host's port when non-zero.
	port int
	// target holds the request path and query; Scheme and Host are filled
	// per host.
	target url.URL
	method string
	scheme string
	// domain is the Host header; empty means the address dialed.
	domain string
	// timeout, when non-zero, bounds the request together with the
	// health_check timeout (the shorter wins).
	timeout time.Duration
	codes   []codeRange
}

// codeRange is an inclusive range of HTTP status codes, as MOSN's
// CodeRange{Start, End}.
type codeRange struct{ lo, hi int }

// defaultCodes is MOSN's default: exactly 200.
var defaultCodes = []codeRange{{200, 200}}

func (s *httpSettings) accepts(code int) bool {
	for _, r := range s.codes {
		if code >= r.lo && code <= r.hi {
			return true
		}
	}
	return false
}

func (s *httpSettings) codesString() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, r := range s.codes {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(r.lo))
		if r.hi != r.lo {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(r.hi))
		}
	}
	b.WriteByte(']')
	return b.String()
}

// Validate reports whether Start would accept hc: a known protocol and,
// for Http1, a well-formed check_config. The error names the field.
func Validate(hc *config.HealthCheck) error {
	_, err := parseSettings(hc)
	return err
}

func parseSettings(hc *config.HealthCheck) (settings, error) {
	if hc == nil {
		return settings{}, errors.New("no health_check config")
	}
	s := settings{
		timeout:            hc.TimeoutOrDefault(),
		interval:           hc.IntervalOrDefault(),
		jitter:             hc.IntervalJitterOrDefault(),
		initialDelay:       hc.InitialDelaySeconds.D(),
		healthyThreshold:   hc.HealthyThresholdOrDefault(),
		unhealthyThreshold: hc.UnhealthyThresholdOrDefault(),
		serviceName:        hc.ServiceName,
		eventLogPath:       hc.EventLogPath,
	}
	switch p := hc.ProtocolOrDefault(); p {
	case ProtocolTCP, ProtocolBolt, ProtocolDubbo:
		s.protocol = p
	case ProtocolHTTP1, "http1":
		hs, err := parseHTTPConfig(hc.CheckConfig)
		if err != nil {
			return settings{}, fmt.Errorf("check_config: %w", err)
		}
		if hs == nil {
			s.protocol, s.httpFallback = ProtocolTCP, true
		} else {
			s.protocol, s.http = ProtocolHTTP1, hs
		}
	default:
		return settings{}, fmt.Errorf("protocol: unknown health check protocol %q (want tcp, Http1, bolt or dubbo)", p)
	}
	return s, nil
}

// httpKeys are the HTTP settings, lower-cased: like MOSN (Go's JSON
// decoding into a struct) the keys match case-insensitively.
var httpKeys = []string{"port", "path", "method", "domain", "timeout", "codes", "scheme"}

// parseHTTPConfig reads the HTTP settings from check_config, either nested
// under "http_check_config" as MOSN reads them or directly in check_config.
// It returns nil when neither holds any, in which case MOSN falls back to a
// TCP dial.
func parseHTTPConfig(cc map[string]any) (*httpSettings, error) {
	var inner map[string]any
	innerKey := ""
	var topHTTP []string
	for _, k := range sortedKeys(cc) {
		lk := strings.ToLower(k)
		switch {
		case lk == httpCheckConfigKey:
			m, ok := cc[k].(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: want an object, got %s", k, describe(cc[k]))
			}
			if innerKey != "" {
				return nil, fmt.Errorf("%s: given twice (keys match case-insensitively)", k)
			}
			inner, innerKey = m, k
		case slices.Contains(httpKeys, lk):
			topHTTP = append(topHTTP, k)
		default:
			return nil, fmt.Errorf("%s: unknown key (known: %s, %s)", k, httpCheckConfigKey, strings.Join(httpKeys, ", "))
		}
	}
	src, prefix := cc, ""
	if innerKey != "" {
		if len(topHTTP) > 0 {
			return nil, fmt.Errorf("%s: set either %s.%s or %s, not both", topHTTP[0], innerKey, topHTTP[0], topHTTP[0])
		}
		src, prefix = inner, innerKey+"."
	} else if len(topHTTP) == 0 {
		return nil, nil
	}
	vals := make(map[string]any, len(src))
	for _, k := range sortedKeys(src) {
		lk := strings.ToLower(k)
		if !slices.Contains(httpKeys, lk) {
			return nil, fmt.Errorf("%s%s: unknown key (known: %s)", prefix, k, strings.Join(httpKeys, ", "))
		}
		if _, dup := vals[lk]; dup {
			return nil, fmt.Errorf("%s%s: given twice (keys match case-insensitively)", prefix, k)
		}
		vals[lk] = src[k]
	}

	hs := &httpSettings{method: "GET", scheme: "http", codes: defaultCodes}
	if v, ok := vals["port"]; ok {
		n, err := toInt(v)
		if err != nil || n < 0 || n > math.MaxUint16 {
			return nil, fmt.Errorf("%sport: want a port number 1..65535 (0 for the host's port), got %s", prefix, describe(v))
		}
		hs.port = n
	}
	path := "/"
	if v, ok := vals["path"]; ok {
		p, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%spath: want a string, got %s", prefix, describe(v))
		}
		if p != "" {
			path = p
		}
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u, err := url.ParseRequestURI(path)
	if err != nil || u.Scheme != "" || u.Host != "" || strings.ContainsFunc(path, badPathRune) {
		return nil, fmt.Errorf("%spath: %q is not a request path (want a form like \"/health?full=1\")", prefix, path)
	}
	hs.target = *u
	if v, ok := vals["method"]; ok {
		m, isStr := v.(string)
		switch {
		case !isStr || (m != "" && !validToken(m)):
			return nil, fmt.Errorf("%smethod: want an HTTP method such as \"GET\", got %s", prefix, describe(v))
		case m != "":
			hs.method = m
		}
	}
	if v, ok := vals["scheme"]; ok {
		sc, ok := v.(string)
		switch {
		case !ok:
			return nil, fmt.Errorf("%sscheme: want \"http\" or \"https\", got %s", prefix, describe(v))
		case sc == "" || strings.EqualFold(sc, "http"):
			hs.scheme = "http"
		case strings.EqualFold(sc, "https"):
			hs.scheme = "https"
		default:
			return nil, fmt.Errorf("%sscheme: want \"http\" or \"https\", got %q", prefix, sc)
		}
	}
	if v, ok := vals["domain"]; ok {
		d, ok := v.(string)
		if !ok || strings.ContainsAny(d, " \t\r\n/") {
			return nil, fmt.Errorf("%sdomain: want a host name for the Host header, got %s", prefix, describe(v))
		}
		hs.domain = d
	}
	if v, ok := vals["timeout"]; ok {
		d, err := toDuration(v)
		if err != nil {
			return nil, fmt.Errorf("%stimeout: %v", prefix, err)
		}
		hs.timeout = d
	}
	if v, ok := vals["codes"]; ok {
		codes, err := parseCodes(v)
		if err != nil {
			return nil, fmt.Errorf("%scodes: %v", prefix, err)
		}
		if len(codes) > 0 {
			hs.codes = codes
		}
	}
	return hs, nil
}

// parseCodes reads a list whose items are a status code (200 or "200"), an
// inclusive range as a string ("200-299") or MOSN's object
// {"start": 200, "end": 299}.
func parseCodes(v any) ([]codeRange, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("want a list of codes, got %s", describe(v))
	}
	out := make([]codeRange, 0, len(list))
	for i, item := range list {
		r, err := parseCodeRange(item)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %v", i, err)
		}
		if r.lo < 100 || r.hi > 599 || r.lo > r.hi {
			return nil, fmt.Errorf("[%d]: %d-%d is not a range of status codes within 100..599", i, r.lo, r.hi)
		}
		out = append(out, r)
	}
	return out, nil
}

func parseCodeRange(item any) (codeRange, error) {
	switch x := item.(type) {
	case string:
		lo, hi, isRange := strings.Cut(strings.TrimSpace(x), "-")
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.Atoi(strings.TrimSpace(hi))
		}
		if err1 != nil || err2 != nil {
			return codeRange{}, fmt.Errorf("%q is not a code or a range like \"200-299\"", x)
		}
		return codeRange{a, b}, nil
	case map[string]any:
		var r codeRange
		var haveLo, haveHi bool
		for k, v := range x {
			n, err := toInt(v)
			if err != nil {
				return codeRange{}, fmt.Errorf("%s: want a status code, got %s", k, describe(v))
			}
			switch strings.ToLower(k) {
			case "start":
				r.lo, haveLo = n, true
			case "end":
				r.hi, haveHi = n, true
			default:
				return codeRange{}, fmt.Errorf("%s: unknown key (want start and end)", k)
			}
		}
		if !haveLo || !haveHi {
			return codeRange{}, errors.New("a range needs both start and end")
		}
		return r, nil
	default:
		n, err := toInt(item)
		if err != nil {
			return codeRange{}, fmt.Errorf("want a code, a \"lo-hi\" string or {\"start\", \"end\"}, got %s", describe(item))
		}
		return codeRange{n, n}, nil
	}
}

// toInt accepts the integer forms a decoded JSON number can take, and a
// decimal string.
func toInt(v any) (int, error) {
	switch x := v.(type) {
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<31 {
			return 0, errors.New("not an integer")
		}
		return int(x), nil
	case int:
		return x, nil
	case int64:
		if x > 1<<31 || x < -(1<<31) {
			return 0, errors.New("out of range")
		}
		return int(x), nil
	case json.Number:
		n, err := strconv.Atoi(string(x))
		return n, err
	case string:
		return strconv.Atoi(strings.TrimSpace(x))
	}
	return 0, errors.New("not a number")
}

// toDuration reads a duration the way config.Duration does: "5s" or a
// number of seconds.
func toDuration(v any) (time.Duration, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	var d config.Duration
	if err := d.UnmarshalJSON(b); err != nil {
		return 0, err
	}
	return d.D(), nil
}

// badPathRune reports runes a request target must not hold unescaped:
// controls, spaces and the fragment mark.
func badPathRune(r rune) bool { return r <= ' ' || r == 0x7f || r == '#' }

// validToken reports whether s is an HTTP token (RFC 9110), as a method
// must be.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// sortedKeys returns the keys of m in order, so that the first problem
// reported does not depend on map iteration.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// describe renders a decoded JSON value for an error message.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprint(v)
}
