package envconf

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestUnjoin(t *testing.T) {
	a, b := errors.New("A=1: too small"), errors.New("B=x: not a number")
	wrapped := fmt.Errorf("C: %w", a)
	for _, tc := range []struct {
		name string
		err  error
		want []error
	}{
		{"nil", nil, nil},
		{"one", a, []error{a}},
		{"wrapped, not joined", wrapped, []error{wrapped}},
		{"joined", errors.Join(a, b), []error{a, b}},
		{"joined with nils", errors.Join(nil, a, nil), []error{a}},
	} {
		if got := Unjoin(tc.err); !slices.Equal(got, tc.want) {
			t.Errorf("%s: Unjoin = %v, want %v", tc.name, got, tc.want)
		}
	}
}
