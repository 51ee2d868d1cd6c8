package stream

import (
	"context"
	"encoding/json"
	"fmt"

	"mosn.dev/proxy/config"
)

// ChainFactory is a listener's built stream_filters.
type ChainFactory struct {
	factories []Factory
	names     []string
}

// Build builds the listener's stream_filters; problems name their JSON
// paths. A nil or empty list gives a chain factory that makes no filters.
func Build(cfg *config.Config, path string, filters []config.Filter) (*ChainFactory, error) {
	cf := &ChainFactory{}
	var problems config.Problems
	for i, f := range filters {
		fp := config.Path(path, i)
		b, ok := Filters.Get(f.Type)
		if !ok {
			problems = append(problems, cfg.Problemf(config.Path(fp, "type"), "unknown stream filter %q (this build has: %v)", f.Type, Filters.Names()))
			continue
		}
		fac, err := b(cfg, config.Path(fp, "config"), f.Config)
		if err != nil {
			if ps, ok := err.(config.Problems); ok {
				problems = append(problems, ps...)
			} else {
				problems = append(problems, cfg.Problemf(fp, "%v", err))
			}
			continue
		}
		cf.factories = append(cf.factories, fac)
		cf.names = append(cf.names, f.Type)
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return cf, nil
}

// Empty reports whether the chain has no filters.
func (cf *ChainFactory) Empty() bool { return cf == nil || len(cf.factories) == 0 }

// Chain is the filters of one request.
type Chain struct {
	recv    []recvEntry
	senders []SenderFilter
}

type recvEntry struct {
	f      ReceiverFilter
	phases uint8
}

// New makes the filters for one request; nil when there are none.
func (cf *ChainFactory) New() *Chain {
	if cf.Empty() {
		return nil
	}
	c := &Chain{}
	for _, fac := range cf.factories {
		v := fac.New()
		if r, ok := v.(ReceiverFilter); ok {
			var mask uint8
			ps := fac.Phases()
			if len(ps) == 0 {
				ps = []Phase{BeforeRoute}
			}
			for _, p := range ps {
				mask |= 1 << p
			}
			c.recv = append(c.recv, recvEntry{f: r, phases: mask})
		}
		if s, ok := v.(SenderFilter); ok {
			c.senders = append(c.senders, s)
		}
	}
	return c
}

// OnReceive runs the receiver filters of phase in order; it returns Stop
// as soon as one does. A nil chain continues.
func (c *Chain) OnReceive(ctx context.Context, cb ReceiverCallbacks, phase Phase) (st Status) {
	if c == nil {
		return Continue
	}
	for _, e := range c.recv {
		if e.phases&(1<<phase) == 0 {
			continue
		}
		if safeReceive(ctx, e.f, cb, phase) == Stop {
			return Stop
		}
	}
	return Continue
}

// Append runs the sender filters in reverse order.
func (c *Chain) Append(ctx context.Context, cb SenderCallbacks) Status {
	if c == nil {
		return Continue
	}
	for i := len(c.senders) - 1; i >= 0; i-- {
		if safeAppend(ctx, c.senders[i], cb) == Stop {
			return Stop
		}
	}
	return Continue
}

// A panicking filter answers 500 for its request instead of taking the
// connection (and every other request on it) down.
func safeReceive(ctx context.Context, f ReceiverFilter, cb ReceiverCallbacks, phase Phase) (st Status) {
	defer func() {
		if r := recover(); r != nil {
			cb.Reply(500, nil, fmt.Sprintf("stream filter %T panicked: %v", f, r))
			st = Stop
		}
	}()
	return f.OnReceive(ctx, cb, phase)
}

func safeAppend(ctx context.Context, f SenderFilter, cb SenderCallbacks) (st Status) {
	defer func() {
		if r := recover(); r != nil {
			st = Continue
		}
	}()
	return f.Append(ctx, cb)
}

// DecodeConfig is a helper for builders: it decodes raw into v with the
// config's rules and returns problems with JSON paths.
func DecodeConfig(cfg *config.Config, path string, raw json.RawMessage, v any) error {
	_, err := cfg.DecodeRaw(path, raw, v)
	return err
}
