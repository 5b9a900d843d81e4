package main

import (
	"path/filepath"
	"testing"
)

func TestUsageDefault(t *testing.T) {
	usage := []byte(`tweetpipe consumer dev: configured by environment variables

KEY                       TYPE                            DEFAULT             REQUIRED  DESCRIPTION
KAFKA_TOPICS              Comma-separated list of String  tweets,tweets.control          comma list of topics to archive
KAFKA_GROUP_ID            String                          tweetpipe-archiver            consumer group; instances with the same id share the partitions
KAFKA_TLS_CA_FILE         String                                                        PEM file of the CA
`)
	tests := []struct{ key, want string }{
		{"KAFKA_TOPICS", "tweets,tweets.control"},
		{"KAFKA_GROUP_ID", "tweetpipe-archiver"},
		{"KAFKA_TLS_CA_FILE", ""},
		{"NOT_THERE", ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := usageDefault(usage, tt.key); got != tt.want {
				t.Errorf("usageDefault(%s) = %q; want %q", tt.key, got, tt.want)
			}
		})
	}
}

func TestBehind(t *testing.T) {
	p0, p1 := partitionKey{"tweets", 0}, partitionKey{"tweets", 1}
	tests := []struct {
		name            string
		ends, committed map[partitionKey]int64
		want            int64
	}{
		{"nothing published", map[partitionKey]int64{p0: 0, p1: 0}, nil, 0},
		{"nothing committed yet", map[partitionKey]int64{p0: 5, p1: 7}, map[partitionKey]int64{p0: -1}, 12},
		{"one partition behind", map[partitionKey]int64{p0: 5, p1: 7}, map[partitionKey]int64{p0: 5, p1: 3}, 4},
		{"all committed", map[partitionKey]int64{p0: 5, p1: 7}, map[partitionKey]int64{p0: 5, p1: 7}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := behind(tt.ends, tt.committed); got != tt.want {
				t.Errorf("behind = %d; want %d", got, tt.want)
			}
		})
	}
}

// TestLanding: the banner names the folder the consumer writes as
// configured: its topic, its hour layout, a file:// or s3:// OUTPUT_URL.
func TestLanding(t *testing.T) {
	abs, _ := filepath.Abs("data")
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, abs + "/tweets/<YYYY-MM-DD>/<HH>/*.jsonl"},
		{map[string]string{"KAFKA_TOPIC": "posts", "OUTPUT_LAYOUT": "hive"}, abs + "/posts/dt=<YYYY-MM-DD>/hr=<HH>/*.jsonl"},
		{map[string]string{"OUTPUT_URL": "file:///srv/archive"}, "/srv/archive/tweets/<YYYY-MM-DD>/<HH>/*.jsonl"},
		{map[string]string{"OUTPUT_URL": "s3://b/p"}, abs + "/tweets/<YYYY-MM-DD>/<HH>/*.jsonl while written, then in s3://b/p when each file closes (ROTATE_INTERVAL)"},
	} {
		if got := landing("data", func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("landing with %v = %q; want %q", tc.env, got, tc.want)
		}
	}
}
