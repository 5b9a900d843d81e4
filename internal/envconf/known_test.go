package envconf

import (
	"os"
	"regexp"
	"slices"
	"testing"
)

func TestNearMisses(t *testing.T) {
	environ := []string{"SYNTHETC_RATE=5", "PATH=/bin", "KAFKA_TOPIC=t", "HOSTNAME=x", "KAFKA_BROKER=k:9092", "REPLAY_SPED=2", "HOME=/root", "X=1"}
	got := NearMisses(environ, Known)
	want := [][2]string{{"SYNTHETC_RATE", "SYNTHETIC_RATE"}, {"KAFKA_BROKER", "KAFKA_BROKERS"}, {"REPLAY_SPED", "REPLAY_SPEED"}}
	if !slices.Equal(got, want) {
		t.Fatalf("NearMisses = %q; want %q", got, want)
	}
}

// TestKnownHoldsEnvExample: every name .env.example lists (set or
// commented out) is Known, so that none is taken for a misspelling.
func TestKnownHoldsEnvExample(t *testing.T) {
	data, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`(?m)^#?([A-Z][A-Z0-9_]*)=`).FindAllSubmatch(data, -1)
	if len(names) < 50 {
		t.Fatalf("%d names in .env.example; want its whole list", len(names))
	}
	for _, m := range names {
		if !slices.Contains(Known, string(m[1])) {
			t.Errorf(".env.example lists %s; Known does not", m[1])
		}
	}
	if !slices.IsSorted(Known) {
		t.Error("Known is not sorted")
	}
}
