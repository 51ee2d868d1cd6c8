package config

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Processor is the "processor" server field: a positive number of CPUs, or
// "auto" (stored as 0) meaning every CPU.
type Processor int

// MarshalJSON writes "auto" for 0 and the number otherwise.
func (p Processor) MarshalJSON() ([]byte, error) {
	if p == 0 {
		return []byte(`"auto"`), nil
	}
	return []byte(strconv.Itoa(int(p))), nil
}

// UnmarshalJSON accepts a number, a numeric string, or "auto".
func (p *Processor) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if strings.EqualFold(s, "auto") || s == "" {
			*p = 0
			return nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return fmt.Errorf("invalid processor %q (want a positive number or \"auto\")", s)
		}
		*p = Processor(n)
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil || n < 0 {
		return fmt.Errorf("invalid processor %s (want a positive number or \"auto\")", b)
	}
	*p = Processor(n)
	return nil
}

// Size is a byte size written as a number or a string such as "0", "64m"
// or "1g" (MOSN's shm_size). The original text is kept for config_dump.
type Size struct {
	Bytes int64
	text  string
}

// IsZero reports whether the size is zero, however it was written ("0",
// "0k", 0), so that an unset shm_size is not reported as a setting.
func (s Size) IsZero() bool { return s.Bytes == 0 }

// MarshalJSON writes the original form back.
func (s Size) MarshalJSON() ([]byte, error) {
	if s.text != "" {
		return json.Marshal(s.text)
	}
	return []byte(strconv.FormatInt(s.Bytes, 10)), nil
}

// UnmarshalJSON accepts numbers and strings with an optional k/m/g suffix.
func (s *Size) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		var n int64
		if err := json.Unmarshal(b, &n); err != nil || n < 0 {
			return fmt.Errorf("invalid size %s", b)
		}
		*s = Size{Bytes: n}
		return nil
	}
	t := strings.ToLower(strings.TrimSpace(str))
	mult := int64(1)
	t = strings.TrimSuffix(t, "b")
	switch {
	case strings.HasSuffix(t, "k"):
		mult, t = 1<<10, t[:len(t)-1]
	case strings.HasSuffix(t, "m"):
		mult, t = 1<<20, t[:len(t)-1]
	case strings.HasSuffix(t, "g"):
		mult, t = 1<<30, t[:len(t)-1]
	}
	if t == "" && str == "" {
		*s = Size{}
		return nil
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("invalid size %q (want a number with an optional k, m or g suffix)", str)
	}
	if n > math.MaxInt64/mult {
		return fmt.Errorf("size %q is too large", str)
	}
	*s = Size{Bytes: n * mult, text: str}
	return nil
}
