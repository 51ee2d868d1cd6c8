package config

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Duration is a time.Duration written in JSON as MOSN writes it: a Go
// duration string such as "10s", "1m" or "1h30m". A bare JSON number is
// read as seconds, as some MOSN configs do.
type Duration time.Duration

// D returns the value as a time.Duration; a nil Duration is zero.
func (d *Duration) D() time.Duration {
	if d == nil {
		return 0
	}
	return time.Duration(*d)
}

// Or returns the duration, or def when d is nil.
func (d *Duration) Or(def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return time.Duration(*d)
}

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON accepts "10s"-style strings and numbers of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if s == "" {
			*d = 0
			return nil
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q (want a form like \"10s\", \"1m\", \"500ms\")", s)
		}
		if v < 0 {
			return fmt.Errorf("negative duration %q", s)
		}
		*d = Duration(v)
		return nil
	}
	var n float64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("invalid duration %s (want a string like \"10s\")", b)
	}
	if n < 0 {
		return fmt.Errorf("negative duration %s", b)
	}
	// Converting an out-of-range float to an integer gives an arbitrary
	// value in Go, so the bound is checked first.
	if n*float64(time.Second) >= math.MaxInt64 {
		return fmt.Errorf("duration %s seconds is too large", b)
	}
	*d = Duration(n * float64(time.Second))
	return nil
}
