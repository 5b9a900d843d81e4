package archive

import (
	"strings"
	"testing"
	"time"
)

func TestDataPath(t *testing.T) {
	tests := []struct {
		name      string
		topic     string
		partition int
		offset    int64
		time      time.Time
		want      string
	}{
		{
			name: "padded offset, UTC hour", topic: "tweets", partition: 3, offset: 42,
			time: time.Date(2024, 3, 9, 7, 59, 59, 999, time.UTC),
			want: "tweets/2024-03-09/07/tweets-p3-000000000042.jsonl",
		},
		{
			name: "offset zero", topic: "t", partition: 0, offset: 0,
			time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
			want: "t/2024-01-01/00/t-p0-000000000000.jsonl",
		},
		{
			name: "offset wider than 12 digits is not cut", topic: "t", partition: 12, offset: 1234567890123,
			time: time.Date(2024, 1, 1, 23, 0, 0, 0, time.UTC),
			want: "t/2024-01-01/23/t-p12-1234567890123.jsonl",
		},
		{
			name: "other zone converted to UTC, crossing the date", topic: "tweets", partition: 1, offset: 7,
			time: time.Date(2024, 3, 10, 1, 30, 0, 0, time.FixedZone("CET", 2*3600)),
			want: "tweets/2024-03-09/23/tweets-p1-000000000007.jsonl",
		},
		{
			name: "dots and dashes in the topic", topic: "my.tweets-v2", partition: 0, offset: 1,
			time: time.Date(2024, 12, 31, 12, 0, 0, 0, time.UTC),
			want: "my.tweets-v2/2024-12-31/12/my.tweets-v2-p0-000000000001.jsonl",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DataPath(tt.topic, tt.partition, tt.offset, tt.time); got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

func TestStatePaths(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"dead letters", DeadLetterPath("tweets", 3, 42), "_deadletter/tweets/tweets-p3-000000000042.jsonl"},
		{"checkpoint", checkpointPath("tweets", 3), "_state/tweets-3.json"},
		{"lock", lockPath("tweets", 3), "_state/tweets-3.lock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q; want %q", tt.got, tt.want)
			}
		})
	}
}

func TestCheckTopic(t *testing.T) {
	tests := []struct {
		topic   string
		wantErr string // "" for valid
	}{
		{"tweets", ""},
		{"My_Topic.v2-x", ""},
		{strings.Repeat("a", 249), ""},
		{"", "empty"},
		{strings.Repeat("a", 250), "longer than 249"},
		{".", "not allowed"},
		{"..", "not allowed"},
		{"_state", "collides"},
		{"_deadletter", "collides"},
		{"a/b", "character"},
		{"../etc", "character"},
		{"a b", "character"},
		{"tweets\n", "character"},
		{"twééts", "character"},
	}
	for _, tt := range tests {
		t.Run(tt.topic, func(t *testing.T) {
			err := checkTopic(tt.topic)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got error %v; want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got error %v; want one containing %q", err, tt.wantErr)
			}
		})
	}
}
