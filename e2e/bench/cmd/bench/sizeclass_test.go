package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tweetpipe/tweetpipe/internal/corpus"
)

// TestSizeClasses generates every size class from the project's own
// testdata (what make bench uses in a clone with nothing beside it), and
// from the shared captures where they are: each line is one JSON object
// with a key the producer would give it, keys do not repeat, and the mean
// size is the class's.
func TestSizeClasses(t *testing.T) {
	sources := []struct {
		name           string
		v11, jetstream func(t *testing.T) string
	}{
		{"testdata",
			func(t *testing.T) string { return corpus.Path(t, "v1.1/sample.jsonl") },
			func(t *testing.T) string { return corpus.Path(t, "jetstream/events.jsonl") }},
		{"shared",
			func(t *testing.T) string { return filepath.Join(corpus.Shared(t), "python-twitter", "lines.json") },
			nil},
	}
	for _, src := range sources {
		for _, c := range []struct {
			class            string
			meanLo, meanHi   float64
			wantUser, wantRT bool
		}{
			{"v1.1-1k", 700, 1600, true, false},
			{"v1.1-5k", 4000, 6000, true, true},
			{"jetstream", 150, 1000, false, false},
		} {
			t.Run(src.name+"/"+c.class, func(t *testing.T) {
				path := ""
				if c.class == "jetstream" {
					if src.jetstream == nil {
						t.Skip("the shared captures hold no Jetstream events")
					}
					path = src.jetstream(t)
				} else {
					path = src.v11(t)
				}
				out := filepath.Join(t.TempDir(), "gen.jsonl")
				st := genClass(t, path, c.class, out, 1)
				if st.MeanBytes < c.meanLo || st.MeanBytes > c.meanHi {
					t.Errorf("mean size %.0f B; want %.0f to %.0f", st.MeanBytes, c.meanLo, c.meanHi)
				}
				b, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
				if len(lines) != st.Count {
					t.Fatalf("got %d lines; want %d", len(lines), st.Count)
				}
				if c.class == "jetstream" && (bytes.Contains(b, []byte(`\u`)) || !utf8.Valid(b)) {
					t.Error("Jetstream events carry \\u escapes or invalid UTF-8; want UTF-8 as is, as Jetstream sends it")
				}
				keys := map[string]bool{}
				retweets := 0
				for i, l := range lines {
					var m map[string]json.RawMessage
					if err := json.Unmarshal(l, &m); err != nil {
						t.Fatalf("line %d is not a JSON object: %v\n%s", i, err, l)
					}
					if _, ok := m["user"]; ok != c.wantUser {
						t.Fatalf("line %d has a user: %v; want %v", i, ok, c.wantUser)
					}
					if _, ok := m["retweeted_status"]; ok {
						retweets++
					}
					if c.class == "jetstream" && !isRecordCommit(l) {
						t.Fatalf("line %d is not a commit that creates or updates a record:\n%s", i, l)
					}
					k := messageKey(l)
					if k == "" {
						t.Fatalf("line %d has no key:\n%s", i, l)
					}
					if keys[k] {
						t.Fatalf("line %d repeats key %s", i, k)
					}
					keys[k] = true
				}
				if c.wantRT && retweets == 0 {
					t.Errorf("no retweet among %d lines; want the 5 KB class to hold retweets", len(lines))
				}
				again := filepath.Join(t.TempDir(), "again.jsonl")
				genClass(t, path, c.class, again, 1)
				if b2, _ := os.ReadFile(again); !bytes.Equal(b, b2) {
					t.Error("the same seed gave different bytes")
				}
			})
		}
	}
}

func genClass(t *testing.T, path, class, out string, seed uint64) genStats {
	t.Helper()
	c, err := lookupClass(class)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := readLines(path)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := classTemplates(lines, c)
	if err != nil {
		t.Fatal(err)
	}
	st, err := generateFile(ts, 1000, seed, out, "")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestTrimUser(t *testing.T) {
	in := []byte(`{"created_at":"x","id":5,"id_str":"5","text":"hi","user":{"id":7,"id_str":"7","name":"n","description":"long"},"retweeted_status":{"id":1},"lang":"en"}`)
	got, ok := trimUser(in)
	want := `{"created_at":"x","id":5,"id_str":"5","text":"hi","user":{"id":7,"id_str":"7"},"lang":"en"}`
	if !ok || string(got) != want {
		t.Errorf("trimUser = %s, %v; want %s, true", got, ok, want)
	}
	if _, ok := trimUser([]byte(`{"delete":{"status":{"id":1}}}`)); ok {
		t.Error("trimUser of a delete notice: ok; want not ok")
	}
}

func TestEmbedPlacesAfterUser(t *testing.T) {
	outer := []byte(`{"id":1,"user":{"id":2},"is_quote_status":false,"lang":"en"}`)
	inner := []byte(`{"id":3,"user":{"id":4}}`)
	got, ok := embed(outer, inner, "quoted_status")
	want := `{"id":1,"user":{"id":2},"quoted_status":{"id":3,"user":{"id":4}},"is_quote_status":true,"lang":"en"}`
	if !ok || string(got) != want {
		t.Errorf("embed = %s, %v; want %s, true", got, ok, want)
	}
}

func TestSplitToken(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"did:plc:4x2zq7", "did:plc:|4x2zq7*"},
		{"bafyreidwai", "bafyrei|dwai*"},
		{"3l3qo2vutsw2b", "3l3qo2vutsw2b*"},
		{"at://did:plc:ab/app.bsky.feed.post/3l3q", "at:|/|/|did:plc:|ab*|/|app.bsky.feed.post|/|3l3q*"},
	} {
		var parts []string
		for _, p := range splitToken(c.in) {
			s := p.s
			if p.word {
				s += "*"
			}
			parts = append(parts, s)
		}
		if got := strings.Join(parts, "|"); got != c.want {
			t.Errorf("splitToken(%q) = %s; want %s", c.in, got, c.want)
		}
	}
}

func TestLookupClassRejectsUnknown(t *testing.T) {
	if _, err := lookupClass("v2"); err == nil || !strings.Contains(err.Error(), "v1.1-1k") {
		t.Errorf("lookupClass(v2) error = %v; want one naming the classes", err)
	}
}

func TestPlainString(t *testing.T) {
	for _, in := range []string{`a/b "c" \`, "<a>&", "é😀\n\x01"} {
		got := appendPlainString(nil, in)
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != in {
			t.Errorf("%s decodes to %q, %v; want %q", got, back, err, in)
		}
		if strings.Contains(in, "é") && !bytes.Contains(got, []byte("é😀")) {
			t.Errorf("appendPlainString(%q) = %s; want UTF-8 kept as is", in, got)
		}
	}
}
