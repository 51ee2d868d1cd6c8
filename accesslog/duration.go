package accesslog

import (
	"strconv"
	"time"
)

// appendDuration appends d exactly as d.String() would, without allocating:
// MOSN prints its durations with String.
func appendDuration(b []byte, d time.Duration) []byte {
	if d == 0 {
		return append(b, "0s"...)
	}
	u := uint64(d)
	if d < 0 {
		b = append(b, '-')
		u = -u // two's complement; correct for math.MinInt64 too
	}
	if u < uint64(time.Second) {
		switch {
		case u < uint64(time.Microsecond):
			b = strconv.AppendUint(b, u, 10)
			return append(b, "ns"...)
		case u < uint64(time.Millisecond):
			b = appendFixed(b, u, 3)
			return append(b, "µs"...)
		default:
			b = appendFixed(b, u, 6)
			return append(b, "ms"...)
		}
	}
	secs, frac := u/uint64(time.Second), u%uint64(time.Second)
	if secs >= 3600 {
		b = strconv.AppendUint(b, secs/3600, 10)
		b = append(b, 'h')
	}
	if secs >= 60 {
		b = strconv.AppendUint(b, secs/60%60, 10)
		b = append(b, 'm')
	}
	b = strconv.AppendUint(b, secs%60, 10)
	b = appendFraction(b, frac, 9)
	return append(b, 's')
}

// appendFixed appends v / 10^prec with its fraction, trailing zeros trimmed.
func appendFixed(b []byte, v uint64, prec int) []byte {
	p := pow10(prec)
	b = strconv.AppendUint(b, v/p, 10)
	return appendFraction(b, v%p, prec)
}

// appendFraction appends ".ddd" for frac, a value of prec decimal digits,
// with trailing zeros trimmed, or nothing when frac is zero.
func appendFraction(b []byte, frac uint64, prec int) []byte {
	if frac == 0 {
		return b
	}
	for frac%10 == 0 {
		frac /= 10
		prec--
	}
	var digits [9]byte
	for i := prec - 1; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	b = append(b, '.')
	return append(b, digits[:prec]...)
}

func pow10(n int) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}
