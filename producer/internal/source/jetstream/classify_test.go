package jetstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/corpus"
	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream/streamtest"
)

func TestClassify(t *testing.T) {
	const issueEvent = `{"did":"did:plc:eygmaihciaxprqvxpfvl6flk","time_us":1725911162329308,"kind":"commit","commit":{"rev":"3l3qo2vutsw2b","operation":"create","collection":"app.bsky.feed.post","rkey":"3l3qo2vutsw2b","record":{"$type":"app.bsky.feed.post","createdAt":"2024-09-09T19:46:02.102Z","langs":["en"],"text":"hello"},"cid":"bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi"}}`
	at := time.Date(2024, 9, 9, 19, 46, 2, 329308000, time.UTC)
	streamtest.TestClassify(t, Classify, []streamtest.ClassifyCase{
		{Name: "commit create", Raw: issueEvent, Kind: message.KindStatus,
			Key: "at://did:plc:eygmaihciaxprqvxpfvl6flk/app.bsky.feed.post/3l3qo2vutsw2b", Time: at},
		{Name: "commit create of a like", Raw: string(likeEvent), Kind: message.KindStatus,
			Key: "at://did:plc:eygmaihciaxprqvxpfvl6flk/app.bsky.feed.like/3l3qo2vuowo2b", Time: at},
		{Name: "commit update keyed by version", Raw: strings.Replace(issueEvent, `"create"`, `"update"`, 1), Kind: message.KindStatus,
			Key: "at://did:plc:eygmaihciaxprqvxpfvl6flk/app.bsky.feed.post/3l3qo2vutsw2b#bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi", Time: at},
		{Name: "commit update without cid", Raw: `{"did":"did:plc:a","time_us":1,"kind":"commit","commit":{"rev":"3l3f6nzl3cv2s","operation":"update","collection":"app.bsky.actor.profile","rkey":"self","record":{}}}`,
			Kind: message.KindStatus, Key: "at://did:plc:a/app.bsky.actor.profile/self#3l3f6nzl3cv2s", Time: time.UnixMicro(1).UTC()},
		{Name: "commit delete", Raw: `{"did":"did:plc:rfov6bpyztcnedeyyzgfq42k","time_us":1725516666833633,"kind":"commit","commit":{"rev":"3l3f6nzl3cv2s","operation":"delete","collection":"app.bsky.graph.follow","rkey":"3l3dn7tku762u"}}`,
			Kind: KindDelete, Key: "at://did:plc:rfov6bpyztcnedeyyzgfq42k/app.bsky.graph.follow/3l3dn7tku762u", Time: time.UnixMicro(1725516666833633).UTC()},
		{Name: "identity", Raw: `{"did":"did:plc:ufbl4k27gp6kzas5glhz7fim","time_us":1725516665234703,"kind":"identity","identity":{"did":"did:plc:ufbl4k27gp6kzas5glhz7fim","handle":"yohenrique.bsky.social","seq":1409752997,"time":"2024-09-05T06:11:04.870Z"}}`,
			Kind: KindIdentity, Key: "did:plc:ufbl4k27gp6kzas5glhz7fim", Time: time.UnixMicro(1725516665234703).UTC()},
		{Name: "account", Raw: `{"did":"did:plc:ufbl4k27gp6kzas5glhz7fim","time_us":1725516665333808,"kind":"account","account":{"active":false,"did":"did:plc:ufbl4k27gp6kzas5glhz7fim","seq":1409753013,"status":"deactivated","time":"2024-09-05T06:11:04.870Z"}}`,
			Kind: KindAccount, Key: "did:plc:ufbl4k27gp6kzas5glhz7fim", Time: time.UnixMicro(1725516665333808).UTC()},
		{Name: "commit without rkey", Raw: `{"did":"did:plc:a","time_us":5,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post"}}`,
			Kind: message.KindUnknown, Time: time.UnixMicro(5).UTC()},
		{Name: "commit without did", Raw: `{"time_us":5,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"x"}}`,
			Kind: message.KindUnknown, Time: time.UnixMicro(5).UTC()},
		{Name: "commit of another operation", Raw: `{"did":"did:plc:a","kind":"commit","commit":{"operation":"merge","collection":"c.d.e","rkey":"x"}}`, Kind: message.KindUnknown},
		{Name: "no time_us", Raw: `{"did":"did:plc:a","kind":"identity"}`, Kind: KindIdentity, Key: "did:plc:a"},
		{Name: "time_us of another type", Raw: `{"did":"did:plc:a","time_us":"1725516665333808","kind":"account"}`, Kind: KindAccount, Key: "did:plc:a"},
		{Name: "time_us fractional", Raw: `{"did":"did:plc:a","time_us":1.5,"kind":"account"}`, Kind: KindAccount, Key: "did:plc:a"},
		{Name: "keys in another case", Raw: `{"DID":"did:plc:a","Time_US":7,"KIND":"commit","Commit":{"Operation":"delete","COLLECTION":"c.d.e","RKey":"x"}}`,
			Kind: KindDelete, Key: "at://did:plc:a/c.d.e/x", Time: time.UnixMicro(7).UTC()},
		{Name: "a key twice: the last", Raw: `{"did":"did:plc:a","kind":"commit","did":"did:plc:b","time_us":7,"time_us":8,"kind":"identity"}`,
			Kind: KindIdentity, Key: "did:plc:b", Time: time.UnixMicro(8).UTC()},
		{Name: "escapes", Raw: `{"did":"did:plc:\u0061","time_us":7,"kind":"commit","commit":{"operation":"cre\u0061te","collection":"c.d\/e","rkey":"\u00e9"}}`,
			Kind: message.KindStatus, Key: "at://did:plc:a/c.d/e/\u00e9", Time: time.UnixMicro(7).UTC()},
		{Name: "invalid UTF-8 replaced", Raw: "{\"did\":\"did:plc:\xff\",\"kind\":\"account\"}", Kind: KindAccount, Key: "did:plc:\ufffd"},
		{Name: "nulls", Raw: `{"did":"did:plc:a","time_us":null,"kind":"commit","commit":{"operation":"update","collection":"c.d.e","rkey":"x","cid":null,"rev":"r","record":null}}`,
			Kind: message.KindStatus, Key: "at://did:plc:a/c.d.e/x#r"},
		{Name: "commit of another type", Raw: `{"did":"did:plc:a","time_us":7,"kind":"commit","commit":"x"}`, Kind: message.KindUnknown, Time: time.UnixMicro(7).UTC()},
		{Name: "time_us with an exponent", Raw: `{"did":"did:plc:a","time_us":7e3,"kind":"account"}`, Kind: KindAccount, Key: "did:plc:a"},
		{Name: "time_us of 19 digits", Raw: `{"did":"did:plc:a","time_us":1725911162329308000,"kind":"account"}`, Kind: KindAccount, Key: "did:plc:a", Time: time.UnixMicro(1725911162329308000).UTC()},
		{Name: "spaces", Raw: " \t{ \"did\" : \"did:plc:a\" ,\n\"kind\":\"identity\" , \"time_us\" : 7 }\r\n", Kind: KindIdentity, Key: "did:plc:a", Time: time.UnixMicro(7).UTC()},
		{Name: "unknown kind", Raw: `{"did":"did:plc:a","time_us":7,"kind":"sync"}`, Kind: message.KindUnknown, Time: time.UnixMicro(7).UTC()},
		{Name: "empty object", Raw: `{}`, Kind: message.KindUnknown},
		{Name: "array", Raw: `[` + issueEvent + `]`, NotJSON: true},
		{Name: "number", Raw: `1725911162329308`, NotJSON: true},
		{Name: "empty", Raw: ``, NotJSON: true},
		{Name: "truncated", Raw: issueEvent[:100], NotJSON: true},
		{Name: "zstd bytes", Raw: "\x28\xb5\x2f\xfd\x00\x58", NotJSON: true},
	})
}

// TestClassifyCorpus classifies the Jetstream events of testdata/tweets:
// Hindi-English text raw, emoji escaped, each kind once.
func TestClassifyCorpus(t *testing.T) {
	ev := corpus.Lines(t, corpus.Path(t, "jetstream/events.jsonl"))
	if len(ev) != 7 {
		t.Fatalf("jetstream/events.jsonl holds %d events; want 7", len(ev))
	}
	const ana, bo, cy = "did:plc:4x2zq7kt3mfb5yq6ehwlrkav", "did:plc:m3vbq2hrk5wqzeyt7dfp4nxa", "did:plc:x7pk3cmt2d6gqzr4lvw5hyub"
	streamtest.TestClassify(t, Classify, []streamtest.ClassifyCase{
		{Name: "post", Raw: string(ev[0]), Kind: message.KindStatus,
			Key: "at://" + ana + "/app.bsky.feed.post/3l3qo2vuowo2b", Time: time.UnixMicro(1725911162329308).UTC()},
		{Name: "post in Hindi and English", Raw: string(ev[1]), Kind: message.KindStatus,
			Key: "at://" + bo + "/app.bsky.feed.post/3l3qo2w3zz22c", Time: time.UnixMicro(1725911162401177).UTC()},
		{Name: "like", Raw: string(ev[2]), Kind: message.KindStatus,
			Key: "at://" + bo + "/app.bsky.feed.like/3l3qo2wt4aq2c", Time: time.UnixMicro(1725911163120004).UTC()},
		{Name: "post edited", Raw: string(ev[3]), Kind: message.KindStatus,
			Key: "at://" + ana + "/app.bsky.feed.post/3l3qo2vuowo2b#bafyreie5xq3k7pxgyutbsr4nzwqkujx2vhd6l2xmo7ytgvmjl4bsf3rtuq", Time: time.UnixMicro(1725911164002931).UTC()},
		{Name: "post deleted", Raw: string(ev[4]), Kind: KindDelete,
			Key: "at://" + cy + "/app.bsky.feed.post/3l3qnz7bvdc2x", Time: time.UnixMicro(1725911164550010).UTC()},
		{Name: "identity", Raw: string(ev[5]), Kind: KindIdentity, Key: cy, Time: time.UnixMicro(1725911165000123).UTC()},
		{Name: "account", Raw: string(ev[6]), Kind: KindAccount, Key: cy, Time: time.UnixMicro(1725911165000456).UTC()},
	})
}

// TestScanReadsTheCommonEvents: the events of testdata/tweets and of the
// test timeline, as Jetstream sends them, are read without encoding/json
// (what BenchmarkClassify measures).
func TestScanReadsTheCommonEvents(t *testing.T) {
	events := corpus.Lines(t, corpus.Path(t, "jetstream/events.jsonl"))
	for _, e := range timeline(14, time.Second) {
		events = append(events, e.raw)
	}
	events = append(events, likeEvent)
	for _, raw := range events {
		var f fields
		if !f.scan(raw) {
			t.Errorf("scan gave up on %s", raw)
		}
	}
}

// notJSON are events scan must refuse although a reader that only found
// the keys and their values' ends could read them: scan checks the whole
// event as json.Valid does.
var notJSON = []string{
	`{"did":"x",}`, `{"did":"x"} x`, `{"did":"x" "kind":"commit"}`, `{"did":"x","kind":"commit"`, `{"did" "x"}`, `{"time_us":01}`,
	`{"time_us":1,"other":[1,]}`, `{"kind":"commit","commit":{"rkey":"a",}}`, `{"kind":"commit","commit":{"record":{"text":"a\u00g0"}}}`,
	"{\"kind\":\"commit\",\"commit\":{\"record\":{\"text\":\"a\x01b\"}}}", `{"kind":"commit","commit":{"record":{"a":tru}}}`,
	`{"kind":"commit","commit":{"record":{"text":"abcdefghijklmnop\q"}}}`, `{"kind":"commit","commit":null x}`,
}

// TestScanChecksTheEvent: scan refuses an event that is not JSON, whatever
// of it it could read, and Classify then says it is not a JSON object.
func TestScanChecksTheEvent(t *testing.T) {
	for _, s := range notJSON {
		raw := []byte(s)
		if json.Valid(raw) {
			t.Fatalf("%s is JSON: not a case for this test", raw)
		}
		var f fields
		if f.scan(raw) {
			t.Errorf("scan read %s, which is not JSON", raw)
		}
		if _, err := Classify(raw); !errors.Is(err, message.ErrNotObject) {
			t.Errorf("Classify(%s): %v; want message.ErrNotObject", raw, err)
		}
	}
}

// TestScanNestingLimit: scan refuses what json.Valid refuses for nesting
// deeper than 10,000 objects and arrays, counted from the event itself,
// under a key it passes over and under the commit's record.
func TestScanNestingLimit(t *testing.T) {
	nested := func(prefix, suffix string, n int) []byte { // n arrays one inside another
		return []byte(prefix + strings.Repeat("[", n) + strings.Repeat("]", n) + suffix)
	}
	for _, depth := range []int{9999, 10000, 10001} {
		for _, raw := range [][]byte{
			nested(`{"other":`, `}`, depth-1),                                   // the event, then arrays
			nested(`{"kind":"commit","commit":{"record":{"a":`, `}}}`, depth-3), // event, commit, record, arrays
		} {
			var f fields
			if got, want := f.scan(raw), json.Valid(raw); got != want {
				t.Errorf("depth %d, %.45s...: scan %v; json.Valid %v", depth, raw, got, want)
			}
		}
	}
}

// FuzzScanAsDecode: scan reads only what json.Valid accepts, and wherever
// it reads an event, it reads what encoding/json decodes.
func FuzzScanAsDecode(f *testing.F) {
	for _, raw := range scanAsDecodeSeeds() {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var scanned, decoded fields
		if !scanned.scan(raw) {
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("scan read %q, which is not JSON", raw)
		}
		if err := decoded.decode(raw); err != nil {
			t.Fatalf("decode: %v", err)
		}
		for _, p := range [][2][]byte{{scanned.did, decoded.did}, {scanned.kind, decoded.kind}, {scanned.rev, decoded.rev}, {scanned.operation, decoded.operation},
			{scanned.collection, decoded.collection}, {scanned.rkey, decoded.rkey}, {scanned.cid, decoded.cid}} {
			if !bytes.Equal(p[0], p[1]) {
				t.Fatalf("scan read %q; encoding/json %q", p[0], p[1])
			}
		}
		if scanned.timeUS != decoded.timeUS || scanned.commit != decoded.commit || scanned.isPost() != decoded.isPost() {
			t.Fatalf("scan read time_us %d, commit %v, post %v; encoding/json %d, %v, %v", scanned.timeUS, scanned.commit, scanned.isPost(),
				decoded.timeUS, decoded.commit, decoded.isPost())
		}
		if got, want := scanned.postLangs(), decoded.postLangs(); !slices.Equal(got, want) {
			t.Fatalf("scan read langs %q; encoding/json %q", got, want)
		}
		got, want := scanned.message(raw), decoded.message(raw)
		if got.Kind != want.Kind || !bytes.Equal(got.Key, want.Key) || !got.Time.Equal(want.Time) {
			t.Fatalf("scan gave %s %q at %v; encoding/json %s %q at %v", got.Kind, got.Key, got.Time, want.Kind, want.Key, want.Time)
		}
	})
}

var likeEvent = []byte(`{"did":"did:plc:eygmaihciaxprqvxpfvl6flk","time_us":1725911162329308,"kind":"commit","commit":{"rev":"3l3qo2vutsw2b","operation":"create","collection":"app.bsky.feed.like","rkey":"3l3qo2vuowo2b","record":{"$type":"app.bsky.feed.like","createdAt":"2024-09-09T19:46:02.102Z","subject":{"cid":"bafyreidc6sydkkbchcyg62v77wbhzvb2mvytlmsychqgwf2xojjtirmzj4","uri":"at://did:plc:wa7b35aakoll7hugkrjtf3xf/app.bsky.feed.post/3l3pte3p2e325"}},"cid":"bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi"}}`)

func TestMatchLangs(t *testing.T) {
	for _, tc := range []struct {
		ranges, langs []string
		want          bool
	}{
		{nil, nil, true},
		{nil, []string{"de"}, true},
		{[]string{"en"}, nil, false},
		{[]string{"en"}, []string{"en"}, true},
		{[]string{"en"}, []string{"en-US"}, true},
		{[]string{"en"}, []string{"EN-gb"}, true},
		{[]string{"en"}, []string{"eng"}, false},
		{[]string{"en-us"}, []string{"en"}, false},
		{[]string{"en-us"}, []string{"en-US"}, true},
		{[]string{"pt", "ja"}, []string{"de", "ja"}, true},
		{[]string{"pt", "ja"}, []string{"de", "fr"}, false},
		{[]string{"en"}, []string{""}, false},
	} {
		if got := MatchLangs(tc.ranges, tc.langs); got != tc.want {
			t.Errorf("MatchLangs(%q, %q) = %v; want %v", tc.ranges, tc.langs, got, tc.want)
		}
	}
}

// FuzzClassify: Classify never panics, keeps the bytes, accepts exactly the
// JSON objects; a status or delete always has an at:// key.
func FuzzClassify(f *testing.F) {
	for _, raw := range classifySeeds() {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, ok := streamtest.CheckClassify(t, Classify, raw)
		if !ok {
			return
		}
		switch m.Kind {
		case message.KindStatus, KindDelete:
			if !bytes.HasPrefix(m.Key, []byte("at://")) {
				t.Fatalf("a %s with key %q", m.Kind, m.Key)
			}
		case KindIdentity, KindAccount, message.KindUnknown:
		default:
			t.Fatalf("unexpected kind %q", m.Kind)
		}
		if !m.Time.IsZero() && m.Time.UnixMicro() <= 0 {
			t.Fatalf("time %v from a time_us that is not positive", m.Time)
		}
	})
}

// scanAsDecodeSeeds are FuzzScanAsDecode's seed corpus.
func scanAsDecodeSeeds() [][]byte {
	return seeds(append([]string{`{}`, `{"kind":"commit","commit":null}`, `{"did":"x","kind":"commit","commit":{"operation":"update","collection":"a","rkey":"b"}}`,
		`{"did":"x","time_us":-1,"kind":"identity"}`, `{"time_us":-999999999999999999}`, `{"commit":{"record":{"langs":["en",1],"Langs":["de"]}}}`,
		`{"did":"a","DID":"b"}`, `{"kind":"commit","commit":{"cid":"c","cid":"d"}}`, `{"did":"\u0041"}`}, notJSON...)...)
}

// classifySeeds are FuzzClassify's seed corpus.
func classifySeeds() [][]byte {
	return seeds(`{}`, `[]`, `{"kind":"commit","commit":null}`, `{"did":"x","kind":"commit","commit":{"operation":"update","collection":"a","rkey":"b"}}`,
		`{"did":"x","time_us":-1,"kind":"identity"}`, `{"time_us":9223372036854775807}`, `{"time_us":99999999999999999999}`)
}

// seeds is a timeline of 7 events, likeEvent and more.
func seeds(more ...string) [][]byte {
	var out [][]byte
	for _, e := range timeline(7, time.Second) {
		out = append(out, e.raw)
	}
	out = append(out, likeEvent)
	for _, s := range more {
		out = append(out, []byte(s))
	}
	return out
}
