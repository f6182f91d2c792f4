package entropy

import (
	"regexp"
	"testing"
)

func TestRead(t *testing.T) {
	a, b := make([]byte, 64), make([]byte, 64)
	Read(a)
	Read(b)
	if string(a) == string(b) {
		t.Fatal("two reads returned the same 64 bytes")
	}
}

func TestUUID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	u := UUID()
	if !re.MatchString(u) || u == UUID() {
		t.Errorf("UUID() = %q", u)
	}
}
