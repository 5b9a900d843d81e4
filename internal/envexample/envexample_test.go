package envexample

import (
	"slices"
	"testing"
)

func TestVariables(t *testing.T) {
	part := "# producer\n" +
		"# Where the posts come from (twitter, replay).\n" +
		"#SOURCE=twitter\n" +
		"#KAFKA_BROKERS=localhost:9092\n" +
		"# a note: x=y\n" +
		"#TOKEN=\n" +
		"SET=1\n"
	got := Variables(part)
	want := []string{"SOURCE=twitter", "KAFKA_BROKERS=localhost:9092", "TOKEN="}
	if !slices.Equal(got, want) {
		t.Errorf("got %q; want %q", got, want)
	}
}

func TestUsageVariables(t *testing.T) {
	usage := "This application is configured via the environment.\n" +
		"\n" +
		"KEY              TYPE       DEFAULT      DESCRIPTION\n" +
		"SOURCE           String     twitter      where the posts come from\n" +
		"TOKEN            String                  the bearer token\n" +
		"KAFKA_BROKERS    Comma-separated list of String    localhost:9092    the brokers\n"
	got := UsageVariables(usage)
	want := []string{"SOURCE=twitter", "TOKEN=", "KAFKA_BROKERS=localhost:9092"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q; want %q", got, want)
	}
}
