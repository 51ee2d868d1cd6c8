package proxy

import (
	"net/url"
	"reflect"
	"testing"
)

// parsePlainPath must agree with url.ParseRequestURI whenever it accepts
// a path.
func checkPlainPath(t *testing.T, path string) bool {
	t.Helper()
	var u url.URL
	if !parsePlainPath(&u, path) {
		return false
	}
	want, err := url.ParseRequestURI(path)
	if err != nil {
		t.Fatalf("parsePlainPath accepted %q, url.ParseRequestURI: %v", path, err)
	}
	if !reflect.DeepEqual(&u, want) {
		t.Fatalf("%q: parsePlainPath %#v, url.ParseRequestURI %#v", path, u, *want)
	}
	return true
}

func TestParsePlainPath(t *testing.T) {
	for _, tc := range []struct {
		path  string
		plain bool
	}{
		{"/", true},
		{"/small", true},
		{"/a/b.c-d_e~f?x=1&y=2", true},
		{"/$&+,:;=@", true},
		{"/q?a b", true},  // RawQuery keeps what it gets
		{"/q?a#b", true},  // no fragment in a request target
		{"//x/y", true},   // not an authority in a request
		{"/q?", false},    // ForceQuery
		{"/a%20b", false}, // unescaped by url
		{"/a b", false},
		{"/a#b", false},
		{"/é", false},
		{"*", false},
		{"http://h/p", false},
		{"", false},
		{"/q?a\x01", false},
		{"/q?x?y", true},
	} {
		if got := checkPlainPath(t, tc.path); got != tc.plain {
			t.Errorf("parsePlainPath(%q) = %v, want %v", tc.path, got, tc.plain)
		}
	}
}

func FuzzParsePlainPath(f *testing.F) {
	for _, s := range []string{"/", "/a?b", "/a/b?c=d&e", "//x", "/q?", "/a%2F", "/a?\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) { checkPlainPath(t, path) })
}
