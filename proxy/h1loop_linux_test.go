//go:build linux

package proxy

import (
	"testing"

	"mosn.dev/proxy/codec/http1"
)

func TestConnList(t *testing.T) {
	var q connList
	s := make([]*h1Server, 4)
	for i := range s {
		s[i] = &h1Server{}
		q.push(s[i])
	}
	order := func() []int {
		var got []int
		for c := q.head; c != nil; c = c.lw.next {
			for i := range s {
				if s[i] == c {
					got = append(got, i)
				}
			}
		}
		return got
	}
	steps := []struct {
		remove int
		want   []int
	}{
		{2, []int{0, 1, 3}}, // middle
		{0, []int{1, 3}},    // head
		{3, []int{1}},       // tail
		{3, []int{1}},       // not in the list: nothing happens
		{1, nil},            // the last one
	}
	for _, st := range steps {
		q.remove(s[st.remove])
		got := order()
		if len(got) != len(st.want) || q.n != len(st.want) {
			t.Fatalf("after removing %d: %v (n=%d), want %v", st.remove, got, q.n, st.want)
		}
		for i := range got {
			if got[i] != st.want[i] {
				t.Fatalf("after removing %d: %v, want %v", st.remove, got, st.want)
			}
		}
	}
	if q.head != nil || q.tail != nil {
		t.Fatal("an empty list keeps a head or a tail")
	}
	// Pushed again after removal: it goes to the tail.
	q.push(s[0])
	q.push(s[1])
	q.remove(s[0])
	q.push(s[0])
	if got := order(); len(got) != 2 || got[0] != 1 || got[1] != 0 {
		t.Fatalf("re-pushed: %v", got)
	}
}

func TestWholeAnswer(t *testing.T) {
	tests := []struct {
		name, in string
		head     bool // a HEAD request's answer
		want     bool
	}{
		{"length, all there", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, true},
		{"length, part", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", false, false},
		{"no body (204)", "HTTP/1.1 204 No Content\r\n\r\n", false, true},
		{"HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", true, true},
		{"chunked, all there", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", false, true},
		{"chunked, no last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", false, false},
		{"chunked, no trailer end", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", false, false},
		{"chunked, malformed (relay fails it)", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, true},
		{"until close", "HTTP/1.1 200 OK\r\n\r\nsome", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := []byte(tt.in)
			uc := &upConn{parser: http1.NewResponseParser(http1.Limits{}), buf: &b, w: len(b)}
			if tt.head {
				uc.parser.SetRequestMethod([]byte("HEAD"))
			}
			n, err := uc.parser.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			uc.r = n
			if got := whole(uc, http1.Limits{}); got != tt.want {
				t.Fatalf("whole = %v, want %v", got, tt.want)
			}
		})
	}
}
