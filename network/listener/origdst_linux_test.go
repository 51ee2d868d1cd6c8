package listener

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// sockaddrInBytes builds a sockaddr_in as the kernel lays it out.
func sockaddrInBytes(family uint16, ip [4]byte, port uint16) []byte {
	b := make([]byte, 16)
	binary.NativeEndian.PutUint16(b[0:2], family)
	binary.BigEndian.PutUint16(b[2:4], port)
	copy(b[4:8], ip[:])
	return b
}

func TestParseSockaddrIn(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want string // "" for an error
	}{
		{"ipv4", sockaddrInBytes(unix.AF_INET, [4]byte{10, 200, 1, 1}, 8091), "10.200.1.1:8091"},
		{"high port", sockaddrInBytes(unix.AF_INET, [4]byte{127, 0, 0, 1}, 65535), "127.0.0.1:65535"},
		{"wrong family", sockaddrInBytes(unix.AF_INET6, [4]byte{10, 0, 0, 1}, 80), ""},
		{"short", []byte{2, 0, 0, 80}, ""},
		{"empty", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ap, err := parseSockaddrIn(tc.b)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("got %v, want an error", ap)
				}
				return
			}
			if err != nil || ap.String() != tc.want {
				t.Fatalf("got %v, %v; want %s", ap, err, tc.want)
			}
		})
	}
}

func TestSockaddrIn6(t *testing.T) {
	netPort := func(p uint16) uint16 {
		var b [2]byte
		binary.BigEndian.PutUint16(b[:], p)
		return binary.NativeEndian.Uint16(b[:])
	}
	for _, tc := range []struct {
		name string
		sa   unix.RawSockaddrInet6
		want string
	}{
		{"ipv6", unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: netPort(8091), Addr: netip.MustParseAddr("2001:db8::1").As16()}, "[2001:db8::1]:8091"},
		{"mapped", unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: netPort(443), Addr: netip.MustParseAddr("::ffff:10.0.0.1").As16()}, "10.0.0.1:443"},
		{"wrong family", unix.RawSockaddrInet6{Family: unix.AF_INET, Port: netPort(80)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ap, err := sockaddrIn6(&tc.sa)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("got %v, want an error", ap)
				}
				return
			}
			if err != nil || ap.String() != tc.want {
				t.Fatalf("got %v, %v; want %s", ap, err, tc.want)
			}
		})
	}
}

func FuzzParseSockaddrIn(f *testing.F) {
	f.Add(sockaddrInBytes(unix.AF_INET, [4]byte{10, 200, 1, 1}, 8091))
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ap, err := parseSockaddrIn(b)
		if err != nil {
			return
		}
		// What parsed must be exactly the port and address bytes.
		got := sockaddrInBytes(unix.AF_INET, ap.Addr().As4(), ap.Port())
		if string(got[:8]) != string(b[:8]) {
			t.Fatalf("parse(%x) = %v, which encodes as %x", b[:8], ap, got[:8])
		}
	})
}
