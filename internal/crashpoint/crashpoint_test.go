package crashpoint

import (
	"fmt"
	"testing"
)

// steps reaches points a, b, c, d through h, recording those it got past.
func steps(h *Hook, done *[]string) {
	for _, p := range []string{"a", "b", "c", "d"} {
		h.Reach(p)
		*done = append(*done, p)
	}
}

func TestArm(t *testing.T) {
	var h Hook
	var done []string
	if p := Try(func() { steps(&h, &done) }); p != "" || len(done) != 4 {
		t.Fatalf("disarmed: crashed at %q after %v; want no crash", p, done)
	}

	passed, disarm := h.Arm(3)
	done = nil
	if p := Try(func() { steps(&h, &done) }); p != "c" || fmt.Sprint(done) != "[a b]" {
		t.Fatalf("armed at 3: crashed at %q after %v; want c after [a b]", p, done)
	}
	done = nil
	if p := Try(func() { steps(&h, &done) }); p != "" || passed() != 7 {
		t.Fatalf("armed at 3, second run: crashed at %q, %d points passed; want no crash, 7 points", p, passed())
	}
	disarm()
	done = nil
	if p := Try(func() { steps(&h, &done) }); p != "" || passed() != 7 {
		t.Fatalf("disarmed: crashed at %q, passed %d; want no crash and the count left alone", p, passed())
	}
}

func TestRecord(t *testing.T) {
	var h Hook
	seen, disarm := h.Record()
	var done []string
	steps(&h, &done)
	disarm()
	h.Reach("e")
	if got := seen(); len(got) != 4 || !got["a"] || !got["d"] || got["e"] {
		t.Fatalf("seen = %v; want a to d, not e (reached after disarm)", got)
	}
}

func TestTryPassesOtherPanics(t *testing.T) {
	defer func() {
		if r := recover(); r != "boom" {
			t.Fatalf("recovered %v; want the panic Try does not own", r)
		}
	}()
	Try(func() { panic("boom") })
	t.Fatal("Try swallowed a panic that was not a crash")
}
