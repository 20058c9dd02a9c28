package exec_test

import (
	"reflect"
	"testing"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"

	"github.com/cgsim/cgsim/exec"
)

// TestSessionHidesClient: outside package exec, nothing reachable from a
// Session (its exported fields and the results of its exported methods,
// recursively) is the client's party or a secret key, so that code given
// a Session (kv's cache, sim's steps) cannot decrypt or marshal the
// secret key, by types. The Server, which the session does hand out, is
// walked too.
func TestSessionHidesClient(t *testing.T) {
	forbidden := map[reflect.Type]string{
		reflect.TypeOf(&exec.Client{}):    "the client's party",
		reflect.TypeOf(&rlwe.SecretKey{}): "a secret key",
		reflect.TypeOf(rlwe.SecretKey{}):  "a secret key",
		reflect.TypeOf(&rlwe.Decryptor{}): "a decryptor",
	}
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type, path string) []string
	walk = func(typ reflect.Type, path string) []string {
		if what, ok := forbidden[typ]; ok {
			return []string{path + " is " + what}
		}
		if seen[typ] {
			return nil
		}
		seen[typ] = true
		var found []string
		for i := range typ.NumMethod() {
			m := typ.Method(i)
			if !m.IsExported() {
				continue
			}
			for j := range m.Type.NumOut() {
				found = append(found, walk(m.Type.Out(j), path+"."+m.Name+"()")...)
			}
		}
		switch typ.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map, reflect.Chan:
			found = append(found, walk(typ.Elem(), path)...)
		case reflect.Struct:
			for i := range typ.NumField() {
				if f := typ.Field(i); f.IsExported() {
					found = append(found, walk(f.Type, path+"."+f.Name)...)
				}
			}
		}
		return found
	}
	// The walk finds a client where there is one (the exported field
	// Session had before).
	if leaks := walk(reflect.TypeOf(struct{ Client *exec.Client }{}), "old"); len(leaks) != 1 {
		t.Fatalf("the walk misses an exported client: %v", leaks)
	}
	for _, leak := range walk(reflect.TypeOf(&exec.Session{}), "Session") {
		t.Error(leak)
	}
}
