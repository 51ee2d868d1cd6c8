package accesslog

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultFormat is MOSN's default access-log format, used for an empty
// log_format.
const DefaultFormat = "%start_time% %request_received_duration% %response_received_duration% %bytes_sent% " +
	"%bytes_received% %protocol% %response_code% %duration% %response_flag% %response_code% " +
	"%upstream_local_address% %downstream_local_address% %downstream_remote_address% %upstream_host%"

// StartTimeLayout is the time.Format layout of %start_time% (MOSN's).
const StartTimeLayout = "2006/01/02 15:04:05.000"

// kind says how a segment renders.
type kind uint8

const (
	kText kind = iota
	kLookup
	kStartTime
	kRequestReceivedDuration
	kResponseReceivedDuration
	kRequestFinishedDuration
	kProcessTimeDuration
	kDuration
	kBytesSent
	kBytesReceived
	kProtocol
	kResponseCode
	kResponseFlag
	kFailureReason
	kUpstreamLocalAddress
	kUpstreamHost
	kUpstreamCluster
	kDownstreamLocalAddress
	kDownstreamRemoteAddress
	kListenerName
	kRouteName
	kRequestedServerName
	kConnectionID
	kUpstreamConnectionID
	kStreamID
	kTraceID
)

var builtins = map[string]kind{
	"start_time":                        kStartTime,
	"request_received_duration":         kRequestReceivedDuration,
	"response_received_duration":        kResponseReceivedDuration,
	"request_finished_duration":         kRequestFinishedDuration,
	"process_time_duration":             kProcessTimeDuration,
	"duration":                          kDuration,
	"bytes_sent":                        kBytesSent,
	"bytes_received":                    kBytesReceived,
	"protocol":                          kProtocol,
	"response_code":                     kResponseCode,
	"response_flag":                     kResponseFlag,
	"response_flags":                    kResponseFlag,
	"upstream_transport_failure_reason": kFailureReason,
	"upstream_local_address":            kUpstreamLocalAddress,
	"upstream_host":                     kUpstreamHost,
	"upstream_cluster":                  kUpstreamCluster,
	"downstream_local_address":          kDownstreamLocalAddress,
	"downstream_remote_address":         kDownstreamRemoteAddress,
	"listener_name":                     kListenerName,
	"route_name":                        kRouteName,
	"requested_server_name":             kRequestedServerName,
	"connection_id":                     kConnectionID,
	"upstream_connection_id":            kUpstreamConnectionID,
	"stream_id":                         kStreamID,
	"trace_id":                          kTraceID,
}

// lookupNames are the fixed names resolved through Info.Lookup.
var lookupNames = map[string]bool{
	"listener_port": true, "listener_type": true,
	"downstream_protocol": true, "upstream_protocol": true,
	"authority":   true,
	"x-mosn-host": true, "x-mosn-path": true, "x-mosn-path-original": true,
	"x-mosn-method": true, "x-mosn-querystring": true, "x-mosn-scheme": true,
	"x-mosn-status": true, "x-mosn-direction": true,
	"x-mosn-rpc-service": true, "x-mosn-rpc-method": true,
	"proxy_try_timeout": true, "proxy_global_timeout": true, "proxy_hijack_status": true,
	"proxy_gzip_switch": true, "proxy_direct_response": true, "proxy_disable_retry": true,
}

// protocolNames are MOSN's per-protocol request variables; each is valid bare
// and as "<Proto>_<name>".
var protocolNames = map[string]bool{
	"request_scheme": true, "request_method": true, "request_length": true,
	"request_path": true, "request_path_original": true, "request_arg": true,
	"request_uri": true, "request_use_stream": true, "response_use_stream": true,
}

// prefixFamilies are valid bare and as "<Proto>_<prefix>", followed by a
// non-empty key. (MOSN registers no <Proto>_response_header_ family.)
var prefixFamilies = []string{"request_header_", "response_header_", "request_arg_", "cookie_"}

// isLookupName reports whether name is resolved through Info.Lookup.
func isLookupName(name string) bool {
	if lookupNames[name] || protocolNames[name] || hasFamilyPrefix(name, true) {
		return true
	}
	// <Proto>_<protocol variable or family>, Proto being a word such as Http1.
	i := strings.IndexByte(name, '_')
	if i <= 0 || !isWord(name[:i]) {
		return false
	}
	rest := name[i+1:]
	return protocolNames[rest] || hasFamilyPrefix(rest, false)
}

func hasFamilyPrefix(name string, withResponse bool) bool {
	for _, p := range prefixFamilies {
		if !withResponse && p == "response_header_" {
			continue
		}
		if len(name) > len(p) && strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func isWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return s != ""
}

// isNameChar reports whether c may appear in a variable name: an HTTP token
// character (RFC 9110) other than '%', or ':' for pseudo-headers.
func isNameChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&'*+-.^_`|~:", c) >= 0
}

// UnknownVariableError reports a %name% token naming no known variable.
type UnknownVariableError struct {
	Name   string // the name between the percent signs
	Offset int    // byte offset of the opening '%' in the format
}

func (e *UnknownVariableError) Error() string {
	return fmt.Sprintf("accesslog: unknown variable %%%s%% at offset %d", e.Name, e.Offset)
}

type segment struct {
	kind kind
	text string // literal text for kText; the variable name otherwise
}

// Format is a compiled access-log format. It is safe for concurrent use.
type Format struct {
	src  string
	segs []segment

	// stamp caches the whole-second part of the last start_time printed:
	// entries of one second share it, and formatting it is most of the cost
	// of a line.
	stamp atomic.Pointer[stamp]
}

type stamp struct {
	sec  int64
	loc  *time.Location
	text [19]byte // "2006/01/02 15:04:05"
}

// Compile parses format; see the package documentation for the syntax. The
// empty format compiles DefaultFormat.
func Compile(format string) (*Format, error) {
	return CompileWith(format, nil)
}

// CompileWith is Compile that also accepts the variable names for which
// extra returns true (variables registered by filters or protocols, say);
// they are resolved through Info.Lookup. extra may be nil.
func CompileWith(format string, extra func(name string) bool) (*Format, error) {
	if format == "" {
		format = DefaultFormat
	}
	f := &Format{src: format}
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			f.segs = append(f.segs, segment{kind: kText, text: text.String()})
			text.Reset()
		}
	}
	for i := 0; i < len(format); {
		c := format[i]
		if c != '%' || (i > 0 && format[i-1] == '\\') {
			text.WriteByte(c)
			i++
			continue
		}
		j := strings.IndexByte(format[i+1:], '%')
		if j == 0 { // "%%"
			text.WriteByte('%')
			i += 2
			continue
		}
		if j < 0 || !validName(format[i+1:i+1+j]) {
			text.WriteByte('%')
			i++
			continue
		}
		name := format[i+1 : i+1+j]
		seg := segment{text: name}
		if k, ok := builtins[name]; ok {
			seg.kind = k
		} else if isLookupName(name) || (extra != nil && extra(name)) {
			seg.kind = kLookup
		} else {
			return nil, &UnknownVariableError{Name: name, Offset: i}
		}
		flush()
		f.segs = append(f.segs, seg)
		i += j + 2
	}
	flush()
	return f, nil
}

func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return s != ""
}

// String returns the source format (DefaultFormat for an empty one).
func (f *Format) String() string { return f.src }

// UsesLookup reports whether the format has variables resolved through
// Info.Lookup, which a caller may then leave nil.
func (f *Format) UsesLookup() bool {
	for _, s := range f.segs {
		if s.kind == kLookup {
			return true
		}
	}
	return false
}

// Variables returns the variable names the format uses, in order of first
// use, so callers can tell which Lookup values they must provide.
func (f *Format) Variables() []string {
	var out []string
	seen := make(map[string]bool)
	for _, s := range f.segs {
		if s.kind != kText && !seen[s.text] {
			seen[s.text] = true
			out = append(out, s.text)
		}
	}
	return out
}

// Append appends the entry for info to dst, without a trailing newline, and
// returns the extended slice. It allocates nothing for the built-in variables
// when dst has room.
func (f *Format) Append(dst []byte, info *Info) []byte {
	for i := range f.segs {
		s := &f.segs[i]
		switch s.kind {
		case kText:
			dst = append(dst, s.text...)
		case kLookup:
			var v string
			ok := false
			if info.Lookup != nil {
				v, ok = info.Lookup(s.text)
			}
			if ok {
				dst = appendValue(dst, v)
			} else {
				dst = append(dst, '-')
			}
		case kStartTime:
			dst = f.appendStartTime(dst, info.StartTime)
		case kRequestReceivedDuration:
			dst = appendDuration(dst, info.RequestReceivedDuration)
		case kResponseReceivedDuration:
			dst = appendDuration(dst, info.ResponseReceivedDuration)
		case kRequestFinishedDuration:
			dst = appendDuration(dst, info.RequestFinishedDuration)
		case kProcessTimeDuration:
			dst = appendDuration(dst, info.ProcessTimeDuration)
		case kDuration:
			dst = appendDuration(dst, info.Duration)
		case kBytesSent:
			dst = strconv.AppendUint(dst, info.BytesSent, 10)
		case kBytesReceived:
			dst = strconv.AppendUint(dst, info.BytesReceived, 10)
		case kProtocol:
			dst = appendValue(dst, info.Protocol)
		case kResponseCode:
			dst = strconv.AppendInt(dst, int64(info.ResponseCode), 10)
		case kResponseFlag:
			dst = strconv.AppendBool(dst, info.ResponseFlags != 0)
		case kFailureReason:
			dst = AppendFlagNames(dst, info.ResponseFlags)
		case kUpstreamLocalAddress:
			dst = appendValue(dst, info.UpstreamLocalAddress)
		case kUpstreamHost:
			dst = appendValue(dst, info.UpstreamHost)
		case kUpstreamCluster:
			dst = appendValue(dst, info.UpstreamCluster)
		case kDownstreamLocalAddress:
			dst = appendValue(dst, info.DownstreamLocalAddress)
		case kDownstreamRemoteAddress:
			dst = appendValue(dst, info.DownstreamRemoteAddress)
		case kListenerName:
			dst = appendValue(dst, info.ListenerName)
		case kRouteName:
			dst = appendValue(dst, info.RouteName)
		case kRequestedServerName:
			dst = appendValue(dst, info.RequestedServerName)
		case kConnectionID:
			dst = appendID(dst, info.ConnectionID)
		case kUpstreamConnectionID:
			dst = appendID(dst, info.UpstreamConnectionID)
		case kStreamID:
			dst = appendID(dst, info.StreamID)
		case kTraceID:
			dst = appendValue(dst, info.TraceID)
		}
	}
	return dst
}

// appendStartTime appends t in StartTimeLayout, or "-" for the zero time.
func (f *Format) appendStartTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, '-')
	}
	sec, loc := t.Unix(), t.Location()
	s := f.stamp.Load()
	if s == nil || s.sec != sec || s.loc != loc {
		if y := t.Year(); y < 0 || y > 9999 {
			return t.AppendFormat(dst, StartTimeLayout) // does not fit the cache
		}
		s = &stamp{sec: sec, loc: loc}
		t.AppendFormat(s.text[:0], "2006/01/02 15:04:05")
		f.stamp.Store(s)
	}
	dst = append(dst, s.text[:]...)
	ms := t.Nanosecond() / int(time.Millisecond)
	return append(dst, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
}

func appendID(dst []byte, id uint64) []byte {
	if id == 0 {
		return append(dst, '-')
	}
	return strconv.AppendUint(dst, id, 10)
}

// appendValue appends s, "-" when empty, with control bytes escaped as \xHH
// so that no value can end the line early or forge another one.
func appendValue(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '-')
	}
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != 0x7f {
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		start = i + 1
	}
	return append(dst, s[start:]...)
}

const hexDigits = "0123456789abcdef"
