package contract

import (
	"testing"

	"github.com/segmentio/kafka-go"
)

func TestIsStatus(t *testing.T) {
	tests := []struct {
		name    string
		headers []kafka.Header
		want    bool
	}{
		{"a status", []kafka.Header{{Key: "source", Value: []byte("twitter")}, {Key: "kind", Value: []byte("status")}}, true},
		{"a control message", []kafka.Header{{Key: "kind", Value: []byte("scrub_geo")}}, false},
		{"no headers (another producer)", nil, false},
		{"the first kind counts", []kafka.Header{{Key: "kind", Value: []byte("delete")}, {Key: "kind", Value: []byte("status")}}, false},
		{"a kind in other case is not ours", []kafka.Header{{Key: "Kind", Value: []byte("status")}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsStatus(tt.headers); got != tt.want {
				t.Errorf("got %v; want %v", got, tt.want)
			}
		})
	}
}

func TestHeader(t *testing.T) {
	h := []kafka.Header{{Key: "source", Value: []byte("replay")}, {Key: "post_time", Value: []byte("2026-01-02T03:04:05.006Z")}}
	if got, ok := Header(h, HeaderPostTime); !ok || got != "2026-01-02T03:04:05.006Z" {
		t.Errorf("got %q, %v; want the post_time value, true", got, ok)
	}
	if got, ok := Header(h, HeaderKind); ok || got != "" {
		t.Errorf("got %q, %v; want \"\", false", got, ok)
	}
}
