package accesslog

import (
	"math/bits"
	"strconv"
	"time"
)

// Info carries what one access-log entry needs. Its fields are plain values
// so that filling it costs nothing; see the package documentation for how
// each prints.
type Info struct {
	// StartTime is when the request arrived.
	StartTime time.Time
	// RequestReceivedDuration is from StartTime until the request was sent
	// upstream.
	RequestReceivedDuration time.Duration
	// ResponseReceivedDuration is from StartTime until the upstream response
	// arrived.
	ResponseReceivedDuration time.Duration
	// RequestFinishedDuration is from StartTime until the request finished.
	RequestFinishedDuration time.Duration
	// ProcessTimeDuration is the time spent in the proxy itself (request
	// forwarding plus response forwarding), MOSN's process_time_duration.
	ProcessTimeDuration time.Duration
	// Duration is the whole request duration, measured when the entry is
	// logged.
	Duration time.Duration

	BytesSent     uint64
	BytesReceived uint64

	// Protocol is the downstream protocol name, e.g. "Http1", "bolt".
	Protocol string
	// ResponseCode is the response status (HTTP status or the protocol's
	// mapped status); 0 when there was no response.
	ResponseCode int
	// ResponseFlags is a bit set of the flag constants (NoHealthyUpstream, ...).
	ResponseFlags uint64

	UpstreamLocalAddress    string
	UpstreamHost            string // the selected host, "ip:port"
	UpstreamCluster         string
	DownstreamLocalAddress  string
	DownstreamRemoteAddress string
	ListenerName            string
	RouteName               string
	RequestedServerName     string // TLS SNI

	// ConnectionID, UpstreamConnectionID and StreamID are 0 when unknown.
	ConnectionID         uint64
	UpstreamConnectionID uint64
	StreamID             uint64
	TraceID              string

	// Lookup resolves the variables not held in fields (headers, query
	// arguments, cookies, protocol variables); it gets the full variable name
	// and reports whether the value exists. It may be nil.
	Lookup func(name string) (string, bool)
}

// Response flags, MOSN's bit values (mosn.io/api ResponseFlag).
const (
	NoHealthyUpstream             uint64 = 0x2
	UpstreamRequestTimeout        uint64 = 0x4
	UpstreamLocalReset            uint64 = 0x8
	UpstreamRemoteReset           uint64 = 0x10
	UpstreamConnectionFailure     uint64 = 0x20
	UpstreamConnectionTermination uint64 = 0x40
	UpstreamOverflow              uint64 = 0x80
	NoRouteFound                  uint64 = 0x100
	DelayInjected                 uint64 = 0x200
	FaultInjected                 uint64 = 0x400
	RateLimited                   uint64 = 0x800
	// ReqEntityTooLarge is set by the payload-limit filter (413).
	ReqEntityTooLarge uint64 = 0x1000
	// DownstreamConnectionTermination is not in MOSN: the downstream closed
	// the connection before the response was complete.
	DownstreamConnectionTermination uint64 = 0x2000
)

// flagNames is indexed by bit position.
var flagNames = [64]string{
	1:  "UH",
	2:  "UT",
	3:  "LR",
	4:  "UR",
	5:  "UF",
	6:  "UC",
	7:  "UO",
	8:  "NR",
	9:  "DI",
	10: "FI",
	11: "RL",
	12: "RETL",
	13: "DC",
}

// FlagName returns the short name of a single flag bit (e.g. "UH" for
// NoHealthyUpstream), or "" if flag is not exactly one known bit.
func FlagName(flag uint64) string {
	if flag == 0 || flag&(flag-1) != 0 {
		return ""
	}
	return flagNames[bits.TrailingZeros64(flag)]
}

// AppendFlagNames appends the short names of the bits set in flags, in bit
// order and joined by ",", or "-" when none is set. Unknown bits print as
// their hexadecimal value ("0x4000").
func AppendFlagNames(dst []byte, flags uint64) []byte {
	if flags == 0 {
		return append(dst, '-')
	}
	first := true
	for f := flags; f != 0; f &= f - 1 {
		i := bits.TrailingZeros64(f)
		if !first {
			dst = append(dst, ',')
		}
		first = false
		if n := flagNames[i]; n != "" {
			dst = append(dst, n...)
		} else {
			dst = append(dst, "0x"...)
			dst = strconv.AppendUint(dst, 1<<i, 16)
		}
	}
	return dst
}
