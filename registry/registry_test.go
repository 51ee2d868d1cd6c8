package registry

import (
	"reflect"
	"testing"
)

func TestRegistry(t *testing.T) {
	r := New[int]("thing")
	r.Register("b", 2)
	r.Register("a", 1)
	if v, ok := r.Get("a"); !ok || v != 1 {
		t.Fatalf("Get(a) = %v, %v", v, ok)
	}
	if _, ok := r.Get("c"); ok {
		t.Fatal("Get(c) found an unregistered name")
	}
	if got := r.Names(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("Names() = %v", got)
	}
}

func TestRegistryPanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		reg  func(r *Registry[int])
	}{
		{"duplicate", func(r *Registry[int]) { r.Register("x", 1); r.Register("x", 2) }},
		{"empty", func(r *Registry[int]) { r.Register("", 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			tc.reg(New[int]("thing"))
		})
	}
}
