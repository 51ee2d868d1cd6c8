// Package headertometadata is the "header_to_metadata" stream filter: it
// turns request headers into load-balancer metadata, so a header such as
// x-version: v2 picks the hosts whose "mosn.lb" metadata has version=v2
// (subset load balancing, lb_subset_config). Its config follows Envoy's
// header_to_metadata filter, which MOSN implements:
//
//	{"type": "header_to_metadata", "config": {"request_rules": [{
//	  "header": "x-version",
//	  "on_header_present": {"metadata_namespace": "mosn.lb", "key": "version", "type": "STRING"},
//	  "on_header_missing": {"metadata_namespace": "mosn.lb", "key": "version", "value": "v1"},
//	  "remove": true}]}}
//
// Only load-balancer namespaces ("mosn.lb", Envoy's "envoy.lb", or none)
// have an effect: this proxy has no other dynamic metadata, so rules for
// other namespaces are accepted and do nothing (remove still applies).
package headertometadata

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/stream"
)

// Name is the filter's type in stream_filters.
const Name = "header_to_metadata"

// LBNamespace is the metadata namespace of subset load balancing.
const LBNamespace = "mosn.lb"

// maxValueLen is Envoy's limit: header values this long or longer add
// no metadata.
const maxValueLen = 8 << 10

func init() {
	stream.Filters.Register(Name, Build)
}

// Config is the filter's JSON config.
type Config struct {
	// RequestRules are applied in order to every request; at least one.
	RequestRules []Rule `json:"request_rules,omitempty"`
	// ResponseRules are Envoy's; metadata set on a response cannot steer
	// load balancing, so they are rejected rather than ignored.
	ResponseRules json.RawMessage `json:"response_rules,omitempty"`
}

// Rule maps one header.
type Rule struct {
	// Header is the request header's name (case-insensitive for HTTP).
	Header string `json:"header,omitempty"`
	// OnHeaderPresent sets metadata when the header is present: its
	// Value, or else the header's value.
	OnHeaderPresent *KeyValue `json:"on_header_present,omitempty"`
	// OnHeaderMissing sets metadata when the header is missing; its Value
	// is required.
	OnHeaderMissing *KeyValue `json:"on_header_missing,omitempty"`
	// Remove deletes the header before the request is forwarded (after
	// routing, so routes can still match on it).
	Remove bool `json:"remove,omitempty"`
	// Cookie is Envoy's cookie rule; it is rejected.
	Cookie string `json:"cookie,omitempty"`
}

// KeyValue is one metadata entry to set.
type KeyValue struct {
	// MetadataNamespace is "mosn.lb" (also "" and "envoy.lb") for load
	// balancing; other namespaces are accepted and have no effect.
	MetadataNamespace string `json:"metadata_namespace,omitempty"`
	// Key is the metadata key, e.g. "version"; required.
	Key string `json:"key,omitempty"`
	// Value, when set, is used instead of the header's value.
	Value string `json:"value,omitempty"`
	// Type is "STRING" (the default) or "NUMBER": a NUMBER header value
	// that does not parse as a number adds no metadata. Metadata values
	// are strings here, as in MOSN's host metadata.
	Type string `json:"type,omitempty"`
	// Encode is "NONE" (the default) or "BASE64": the header's value is
	// base64-decoded first, and adds no metadata if it does not decode.
	Encode string `json:"encode,omitempty"`
	// RegexValueRewrite is Envoy's; it is rejected.
	RegexValueRewrite json.RawMessage `json:"regex_value_rewrite,omitempty"`
}

type entry struct {
	lb     bool // in a load-balancer namespace
	key    string
	value  string
	number bool
	base64 bool
}

type rule struct {
	header    string
	present   *entry
	missing   *entry
	remove    bool
	needsWork bool // sets LB metadata or removes the header
}

// filter is immutable once built, so every request shares it.
type filter struct {
	rules []rule
}

// Build parses the config; problems name JSON paths below path.
func Build(cfg *config.Config, path string, raw json.RawMessage) (stream.Factory, error) {
	var c Config
	if _, err := cfg.DecodeRaw(path, raw, &c); err != nil {
		return nil, err
	}
	var ps config.Problems
	problem := func(p, format string, args ...any) { ps = append(ps, cfg.Problemf(p, format, args...)) }
	if len(c.ResponseRules) > 0 && string(c.ResponseRules) != "null" {
		problem(config.Path(path, "response_rules"), "response rules are not supported: metadata only drives load balancing here")
	}
	if len(c.RequestRules) == 0 {
		problem(config.Path(path, "request_rules"), "list at least one rule")
	}
	f := &filter{}
	for i, r := range c.RequestRules {
		rp := config.Path(path, "request_rules", i)
		if r.Cookie != "" {
			problem(config.Path(rp, "cookie"), "cookie rules are not supported; use header")
		}
		if r.Header == "" {
			problem(config.Path(rp, "header"), "a header name is required")
		}
		if r.OnHeaderPresent == nil && r.OnHeaderMissing == nil {
			problem(rp, "set on_header_present, on_header_missing or both")
		}
		nr := rule{header: r.Header, remove: r.Remove}
		nr.present = buildEntry(config.Path(rp, "on_header_present"), r.OnHeaderPresent, false, problem)
		nr.missing = buildEntry(config.Path(rp, "on_header_missing"), r.OnHeaderMissing, true, problem)
		nr.needsWork = nr.remove || nr.present != nil && nr.present.lb || nr.missing != nil && nr.missing.lb
		if nr.needsWork {
			f.rules = append(f.rules, nr)
		}
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return f, nil
}

func buildEntry(path string, kv *KeyValue, missing bool, problem func(string, string, ...any)) *entry {
	if kv == nil {
		return nil
	}
	e := &entry{key: kv.Key, value: kv.Value}
	switch kv.MetadataNamespace {
	case "", LBNamespace, "envoy.lb":
		e.lb = true
	}
	if kv.Key == "" {
		problem(config.Path(path, "key"), "a metadata key is required")
	}
	if missing && kv.Value == "" {
		problem(config.Path(path, "value"), "on_header_missing needs a value")
	}
	switch kv.Type {
	case "", "STRING":
	case "NUMBER":
		e.number = true
		if kv.Value != "" && !isNumber(kv.Value) {
			problem(config.Path(path, "value"), "%q is not a NUMBER", kv.Value)
		}
	case "PROTOBUF_VALUE":
		problem(config.Path(path, "type"), "PROTOBUF_VALUE is not supported: metadata values are strings")
	default:
		problem(config.Path(path, "type"), "must be STRING or NUMBER, got %q", kv.Type)
	}
	switch kv.Encode {
	case "", "NONE":
	case "BASE64":
		e.base64 = true
	default:
		problem(config.Path(path, "encode"), "must be NONE or BASE64, got %q", kv.Encode)
	}
	if len(kv.RegexValueRewrite) > 0 && string(kv.RegexValueRewrite) != "null" {
		problem(config.Path(path, "regex_value_rewrite"), "regex_value_rewrite is not supported")
	}
	return e
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return err == nil
}

// New returns the shared filter: it keeps no per-request state.
func (f *filter) New() any { return f }

// Phases is AfterRoute, as in MOSN: routes still see the headers that
// remove deletes, and the metadata merges over the route's
// metadata_match before the host is picked.
func (f *filter) Phases() []stream.Phase { return []stream.Phase{stream.AfterRoute} }

// OnReceive sets the metadata of every rule and removes headers.
func (f *filter) OnReceive(_ context.Context, cb stream.ReceiverCallbacks, _ stream.Phase) stream.Status {
	if len(f.rules) == 0 {
		return stream.Continue
	}
	hs := cb.RequestHeaders()
	for i := range f.rules {
		r := &f.rules[i]
		v, ok := hs.Get(r.header)
		switch {
		case ok && r.present != nil && r.present.lb:
			if val, good := r.present.valueFrom(v); good {
				cb.SetMetadata(r.present.key, val)
			}
		case !ok && r.missing != nil && r.missing.lb:
			cb.SetMetadata(r.missing.key, r.missing.value)
		}
		if ok && r.remove {
			hs.Del(r.header)
		}
	}
	return stream.Continue
}

// valueFrom is the metadata value for a present header, with Envoy's
// rules: the configured value wins; an empty, over-long, undecodable or
// (for NUMBER) non-numeric header value adds nothing.
func (e *entry) valueFrom(header string) (string, bool) {
	if e.value != "" {
		return e.value, true
	}
	v := header
	if e.base64 {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return "", false
		}
		v = string(b)
	}
	if v == "" || len(v) >= maxValueLen {
		return "", false
	}
	if e.number {
		v = strings.TrimSpace(v)
		if !isNumber(v) {
			return "", false
		}
	}
	return v, true
}
