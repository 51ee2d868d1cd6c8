// Package streamtest holds test doubles for stream filters: a recording
// fake of the callbacks a filter is handed, and a loader for the example
// configuration in a filter's README.
package streamtest

import (
	"encoding/json"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/stream"
)

// Headers is a case-insensitive header map like the HTTP adapters': names
// are stored lower-cased, so literals must use lower-case keys. Add
// replaces an existing value, as one value per name is all the filters
// under test read.
type Headers map[string]string

// Get returns the value of name and whether it is set.
func (h Headers) Get(name string) (string, bool) { v, ok := h[strings.ToLower(name)]; return v, ok }

// Set sets name to value.
func (h Headers) Set(name, value string) { h[strings.ToLower(name)] = value }

// Add sets name to value, replacing any earlier value.
func (h Headers) Add(name, value string) { h[strings.ToLower(name)] = value }

// Del removes name.
func (h Headers) Del(name string) { delete(h, strings.ToLower(name)) }

// Reply is one recorded call of Callbacks.Reply.
type Reply struct {
	Status  int
	Headers map[string]string
	Body    string
}

// Callbacks is a fake exchange implementing both stream.ReceiverCallbacks
// and stream.SenderCallbacks. The exported input fields are what the
// filter reads (their zero values read as zero, except as noted); the
// recorded fields are what it did.
type Callbacks struct {
	// Proto is the protocol name; "" reads as "HTTP1".
	Proto string
	// Remote and Local are the peer addresses; nil reads as an empty
	// *net.TCPAddr.
	Remote, Local net.Addr
	// RequestMethod and RequestPath are the HTTP method and path.
	RequestMethod, RequestPath string
	// Length is the declared request body length in bytes.
	Length int64
	// ClusterName and HostAddr are the chosen cluster and upstream host.
	ClusterName, HostAddr string
	// Request and Response are the heads; nil is created empty on first
	// use so that a filter may set headers on it.
	Request, Response Headers
	// ResponseStatus is what Status returns.
	ResponseStatus int

	// Replies records every Reply call in order.
	Replies []Reply
	// Metadata records SetMetadata calls (nil until the first).
	Metadata map[string]string
	// BodyLimit and BodyLimitStatus are the arguments of the last
	// SetBodyLimit call; BodyLimitSets counts the calls.
	BodyLimit       int64
	BodyLimitStatus int
	BodyLimitSets   int
	// Flags is the union of the Flag calls' bits.
	Flags uint64
}

var (
	_ stream.ReceiverCallbacks = (*Callbacks)(nil)
	_ stream.SenderCallbacks   = (*Callbacks)(nil)
)

// Protocol returns Proto, "HTTP1" when empty.
func (c *Callbacks) Protocol() string {
	if c.Proto == "" {
		return "HTTP1"
	}
	return c.Proto
}

// RemoteAddr returns Remote, an empty *net.TCPAddr when nil.
func (c *Callbacks) RemoteAddr() net.Addr { return addrOr(c.Remote) }

// LocalAddr returns Local, an empty *net.TCPAddr when nil.
func (c *Callbacks) LocalAddr() net.Addr { return addrOr(c.Local) }

func addrOr(a net.Addr) net.Addr {
	if a == nil {
		return &net.TCPAddr{}
	}
	return a
}

// Method returns RequestMethod.
func (c *Callbacks) Method() string { return c.RequestMethod }

// Path returns RequestPath.
func (c *Callbacks) Path() string { return c.RequestPath }

// ContentLength returns Length.
func (c *Callbacks) ContentLength() int64 { return c.Length }

// Cluster returns ClusterName.
func (c *Callbacks) Cluster() string { return c.ClusterName }

// Host returns HostAddr.
func (c *Callbacks) Host() string { return c.HostAddr }

// RequestHeaders returns Request, creating it empty when nil.
func (c *Callbacks) RequestHeaders() stream.Headers {
	if c.Request == nil {
		c.Request = Headers{}
	}
	return c.Request
}

// ResponseHeaders returns Response, creating it empty when nil.
func (c *Callbacks) ResponseHeaders() stream.Headers {
	if c.Response == nil {
		c.Response = Headers{}
	}
	return c.Response
}

// Status returns ResponseStatus.
func (c *Callbacks) Status() int { return c.ResponseStatus }

// Reply records the local answer.
func (c *Callbacks) Reply(status int, headers map[string]string, body string) {
	c.Replies = append(c.Replies, Reply{Status: status, Headers: headers, Body: body})
}

// SetMetadata records key=value in Metadata.
func (c *Callbacks) SetMetadata(key, value string) {
	if c.Metadata == nil {
		c.Metadata = map[string]string{}
	}
	c.Metadata[key] = value
}

// SetBodyLimit records the limit and status and counts the call.
func (c *Callbacks) SetBodyLimit(limit int64, status int) {
	c.BodyLimit, c.BodyLimitStatus = limit, status
	c.BodyLimitSets++
}

// Flag adds flag's bits to Flags.
func (c *Callbacks) Flag(flag uint64) { c.Flags |= flag }

// ReplyStatus returns the status of the last reply, 0 when there is none.
func (c *Callbacks) ReplyStatus() int {
	if len(c.Replies) == 0 {
		return 0
	}
	return c.Replies[len(c.Replies)-1].Status
}

// ReplyBody returns the body of the last reply, "" when there is none.
func (c *Callbacks) ReplyBody() string {
	if len(c.Replies) == 0 {
		return ""
	}
	return c.Replies[len(c.Replies)-1].Body
}

var jsonBlock = regexp.MustCompile("(?s)```json\n(.*?)```")

// READMEConfig returns the first ```json fenced block of the Markdown file
// at path, failing the test when the file cannot be read or has none.
func READMEConfig(t testing.TB, path string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := jsonBlock.FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s has no ```json block", path)
	}
	return json.RawMessage(m[1])
}

// BuildREADME decodes the stream_filters of the README example at path
// strictly into C (so unknown keys, typos included, fail the test),
// checks the first filter is of type name, and returns the built chain.
// It keeps a filter's documentation from drifting from its code.
func BuildREADME[C any](t testing.TB, path, name string) *stream.ChainFactory {
	t.Helper()
	var doc struct {
		StreamFilters []config.Filter `json:"stream_filters"`
	}
	if err := json.Unmarshal(READMEConfig(t, path), &doc); err != nil {
		t.Fatalf("%s json: %v", path, err)
	}
	if len(doc.StreamFilters) == 0 || doc.StreamFilters[0].Type != name {
		t.Fatalf("%s example does not configure a %q filter: %+v", path, name, doc.StreamFilters)
	}
	for i, f := range doc.StreamFilters {
		var c C
		warns, err := config.DecodeInto(f.Config, config.Path("stream_filters", i, "config"), &c)
		if err != nil || len(warns) > 0 {
			t.Fatalf("%s config %d: err %v, warnings %v", path, i, err, warns)
		}
	}
	cf, err := stream.Build(nil, "stream_filters", doc.StreamFilters)
	if err != nil {
		t.Fatalf("stream.Build(%s example): %v", path, err)
	}
	return cf
}
