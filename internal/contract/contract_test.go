package contract

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
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

func TestTopicsFor(t *testing.T) {
	tests := []struct {
		name   string
		topics Topics
		kind   string
		want   string
	}{
		{"a status goes to the statuses' topic", Topics{"tweets", "tweets.control"}, KindStatus, "tweets"},
		{"a delete goes to the control topic", Topics{"tweets", "tweets.control"}, "delete", "tweets.control"},
		{"a kind of another source goes to the control topic", Topics{"posts", "posts.ctl"}, "identity", "posts.ctl"},
		{"an unknown kind goes to the control topic", Topics{"tweets", "tweets.control"}, "unknown", "tweets.control"},
		{"no control topic drops what is not a status", Topics{"tweets", ""}, "limit", ""},
		{"no control topic keeps statuses", Topics{"tweets", ""}, KindStatus, "tweets"},
		{"a kind in other case is not a status", Topics{"tweets", "tweets.control"}, "Status", "tweets.control"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.topics.For(tt.kind); got != tt.want {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}

func TestTopicsNames(t *testing.T) {
	if got, want := (Topics{DefaultTopic, DefaultControlTopic}).Names(), []string{"tweets", "tweets.control"}; !slices.Equal(got, want) {
		t.Errorf("got %q; want %q", got, want)
	}
	if got, want := (Topics{Status: "tweets"}).Names(), []string{"tweets"}; !slices.Equal(got, want) {
		t.Errorf("without a control topic: got %q; want %q", got, want)
	}
}

// The consumer asks IsStatus of every message it reads: it must not allocate.
func TestIsStatusAllocatesNothing(t *testing.T) {
	headers := []kafka.Header{{Key: "source", Value: []byte("replay")}, {Key: HeaderKind, Value: []byte(KindStatus)}}
	if !IsStatus(headers) {
		t.Fatal("IsStatus: false for a status")
	}
	if n := testing.AllocsPerRun(1000, func() { IsStatus(headers) }); n != 0 {
		t.Errorf("IsStatus: %v allocations a call, want 0", n)
	}
}

func TestNewDeadLetterValue(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  string // the line's JSON
	}{
		{"UTF-8 as a string, HTML unescaped", `{"text":"<नमस्ते>"}`, `{"reason":"r","value":"{\"text\":\"<नमस्ते>\"}"}`},
		{"an empty value is a string", "", `{"reason":"r","value":""}`},
		{"not UTF-8 in base64", "a\xffb", `{"reason":"r","value_base64":"Yf9i"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := struct {
				Reason string `json:"reason"`
				DeadLetterValue
			}{"r", NewDeadLetterValue([]byte(tt.value))}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(line); err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSuffix(buf.String(), "\n"); got != tt.want {
				t.Errorf("line %s; want %s", got, tt.want)
			}
			var back DeadLetterValue
			if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
				t.Fatal(err)
			}
			var got []byte
			switch {
			case back.Value != nil && back.ValueBase64 == nil:
				got = []byte(*back.Value)
			case back.ValueBase64 != nil && back.Value == nil:
				var err error
				if got, err = base64.StdEncoding.DecodeString(*back.ValueBase64); err != nil {
					t.Fatal(err)
				}
			default:
				t.Fatalf("line %s: want exactly one of value and value_base64", buf.String())
			}
			if string(got) != tt.value {
				t.Errorf("read back %q; want %q", got, tt.value)
			}
		})
	}
}

func TestCheckTopic(t *testing.T) {
	for _, name := range []string{"tweets", "tweets.control", "a-b_c.9", strings.Repeat("t", 249)} {
		if err := CheckTopic(name); err != nil {
			t.Errorf("CheckTopic(%q) = %v; want nil", name, err)
		}
	}
	for _, name := range []string{"", ".", "..", "a/b", `a\b`, "a b", "tweets,x", "tweets:1", "twéets", "_private", "__consumer_offsets", strings.Repeat("t", 250)} {
		err := CheckTopic(name)
		if err == nil || !strings.Contains(err.Error(), TopicRule) {
			t.Errorf("CheckTopic(%q) = %v; want an error stating the rule", name, err)
		}
	}
}
