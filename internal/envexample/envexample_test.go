package envexample

import (
	"slices"
	"testing"
)

func TestReaders(t *testing.T) {
	tests := []struct {
		name string
		read func(string) []string
		in   string
		want []string
	}{
		{"Variables", Variables, "# producer\n" +
			"# Where the posts come from (twitter, replay).\n" +
			"#SOURCE=twitter\n" +
			"#KAFKA_BROKERS=localhost:9092\n" +
			"# a note: x=y\n" +
			"#TOKEN=\n" +
			"SET=1\n",
			[]string{"SOURCE=twitter", "KAFKA_BROKERS=localhost:9092", "TOKEN="}},
		{"UsageVariables", UsageVariables, "This application is configured via the environment.\n" +
			"\n" +
			"KEY              TYPE       DEFAULT      DESCRIPTION\n" +
			"SOURCE           String     twitter      where the posts come from\n" +
			"TOKEN            String                  the bearer token\n" +
			"KAFKA_BROKERS    Comma-separated list of String    localhost:9092    the brokers\n",
			[]string{"SOURCE=twitter", "TOKEN=", "KAFKA_BROKERS=localhost:9092"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.read(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}
