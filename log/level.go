package log

import (
	"fmt"
	"strconv"
	"strings"
)

// Level is the severity of an error-log line. Lower values are more severe;
// a logger at level L writes every line whose level is <= L. The numeric
// values match MOSN's (FATAL = 0 ... TRACE = 5).
type Level int32

// The levels, from most to least severe.
const (
	FATAL Level = iota
	ERROR
	WARN
	INFO
	DEBUG
	TRACE
)

// DefaultLevel is the level of a new logger.
const DefaultLevel = INFO

var levelNames = [...]string{
	FATAL: "FATAL",
	ERROR: "ERROR",
	WARN:  "WARN",
	INFO:  "INFO",
	DEBUG: "DEBUG",
	TRACE: "TRACE",
}

// levelTags are the bracketed tags written after the timestamp, with the
// separating space, precomputed so a line costs one append for them.
var levelTags = [...]string{
	FATAL: "[FATAL] ",
	ERROR: "[ERROR] ",
	WARN:  "[WARN] ",
	INFO:  "[INFO] ",
	DEBUG: "[DEBUG] ",
	TRACE: "[TRACE] ",
}

// String returns the upper-case name MOSN uses ("INFO"), or "Level(n)" for a
// value outside FATAL..TRACE.
func (l Level) String() string {
	if l.valid() {
		return levelNames[l]
	}
	return "Level(" + strconv.Itoa(int(l)) + ")"
}

func (l Level) valid() bool { return l >= FATAL && l <= TRACE }

// ParseLevel parses a level name, ignoring case and surrounding spaces.
// "WARNING" is accepted as an alias of WARN.
func ParseLevel(s string) (Level, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	for i, n := range levelNames {
		if t == n {
			return Level(i), nil
		}
	}
	if t == "WARNING" {
		return WARN, nil
	}
	return 0, fmt.Errorf("log: unknown level %q (want FATAL, ERROR, WARN, INFO, DEBUG or TRACE)", s)
}

// MarshalText encodes the level as its name, so a map[string]Level marshals
// to JSON as {"path": "INFO"} for the admin API.
func (l Level) MarshalText() ([]byte, error) {
	if !l.valid() {
		return nil, fmt.Errorf("log: invalid level %d", int32(l))
	}
	return []byte(levelNames[l]), nil
}

// UnmarshalText decodes a level name with ParseLevel.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}
