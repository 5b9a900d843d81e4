package jetstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/producer/internal/message"
)

func TestClassify(t *testing.T) {
	const issueEvent = `{"did":"did:plc:eygmaihciaxprqvxpfvl6flk","time_us":1725911162329308,"kind":"commit","commit":{"rev":"3l3qo2vutsw2b","operation":"create","collection":"app.bsky.feed.post","rkey":"3l3qo2vutsw2b","record":{"$type":"app.bsky.feed.post","createdAt":"2024-09-09T19:46:02.102Z","langs":["en"],"text":"hello"},"cid":"bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi"}}`
	at := time.Date(2024, 9, 9, 19, 46, 2, 329308000, time.UTC)
	for _, tc := range []struct {
		name    string
		raw     string
		kind    message.Kind
		key     string
		time    time.Time
		notJSON bool
	}{
		{name: "commit create", raw: issueEvent, kind: message.KindStatus,
			key: "at://did:plc:eygmaihciaxprqvxpfvl6flk/app.bsky.feed.post/3l3qo2vutsw2b", time: at},
		{name: "commit create of a like", raw: string(likeEvent), kind: message.KindStatus,
			key: "at://did:plc:eygmaihciaxprqvxpfvl6flk/app.bsky.feed.like/3l3qo2vuowo2b", time: at},
		{name: "commit update keyed by version", raw: strings.Replace(issueEvent, `"create"`, `"update"`, 1), kind: message.KindStatus,
			key: "at://did:plc:eygmaihciaxprqvxpfvl6flk/app.bsky.feed.post/3l3qo2vutsw2b#bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi", time: at},
		{name: "commit update without cid", raw: `{"did":"did:plc:a","time_us":1,"kind":"commit","commit":{"rev":"3l3f6nzl3cv2s","operation":"update","collection":"app.bsky.actor.profile","rkey":"self","record":{}}}`,
			kind: message.KindStatus, key: "at://did:plc:a/app.bsky.actor.profile/self#3l3f6nzl3cv2s", time: time.UnixMicro(1).UTC()},
		{name: "commit delete", raw: `{"did":"did:plc:rfov6bpyztcnedeyyzgfq42k","time_us":1725516666833633,"kind":"commit","commit":{"rev":"3l3f6nzl3cv2s","operation":"delete","collection":"app.bsky.graph.follow","rkey":"3l3dn7tku762u"}}`,
			kind: KindDelete, key: "at://did:plc:rfov6bpyztcnedeyyzgfq42k/app.bsky.graph.follow/3l3dn7tku762u", time: time.UnixMicro(1725516666833633).UTC()},
		{name: "identity", raw: `{"did":"did:plc:ufbl4k27gp6kzas5glhz7fim","time_us":1725516665234703,"kind":"identity","identity":{"did":"did:plc:ufbl4k27gp6kzas5glhz7fim","handle":"yohenrique.bsky.social","seq":1409752997,"time":"2024-09-05T06:11:04.870Z"}}`,
			kind: KindIdentity, key: "did:plc:ufbl4k27gp6kzas5glhz7fim", time: time.UnixMicro(1725516665234703).UTC()},
		{name: "account", raw: `{"did":"did:plc:ufbl4k27gp6kzas5glhz7fim","time_us":1725516665333808,"kind":"account","account":{"active":false,"did":"did:plc:ufbl4k27gp6kzas5glhz7fim","seq":1409753013,"status":"deactivated","time":"2024-09-05T06:11:04.870Z"}}`,
			kind: KindAccount, key: "did:plc:ufbl4k27gp6kzas5glhz7fim", time: time.UnixMicro(1725516665333808).UTC()},
		{name: "commit without rkey", raw: `{"did":"did:plc:a","time_us":5,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post"}}`,
			kind: message.KindUnknown, time: time.UnixMicro(5).UTC()},
		{name: "commit without did", raw: `{"time_us":5,"kind":"commit","commit":{"operation":"create","collection":"app.bsky.feed.post","rkey":"x"}}`,
			kind: message.KindUnknown, time: time.UnixMicro(5).UTC()},
		{name: "commit of another operation", raw: `{"did":"did:plc:a","kind":"commit","commit":{"operation":"merge","collection":"c.d.e","rkey":"x"}}`, kind: message.KindUnknown},
		{name: "no time_us", raw: `{"did":"did:plc:a","kind":"identity"}`, kind: KindIdentity, key: "did:plc:a"},
		{name: "time_us of another type", raw: `{"did":"did:plc:a","time_us":"1725516665333808","kind":"account"}`, kind: KindAccount, key: "did:plc:a"},
		{name: "time_us fractional", raw: `{"did":"did:plc:a","time_us":1.5,"kind":"account"}`, kind: KindAccount, key: "did:plc:a"},
		{name: "unknown kind", raw: `{"did":"did:plc:a","time_us":7,"kind":"sync"}`, kind: message.KindUnknown, time: time.UnixMicro(7).UTC()},
		{name: "empty object", raw: `{}`, kind: message.KindUnknown},
		{name: "array", raw: `[` + issueEvent + `]`, notJSON: true},
		{name: "number", raw: `1725911162329308`, notJSON: true},
		{name: "empty", raw: ``, notJSON: true},
		{name: "truncated", raw: issueEvent[:100], notJSON: true},
		{name: "zstd bytes", raw: "\x28\xb5\x2f\xfd\x00\x58", notJSON: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte(tc.raw)
			m, err := Classify(raw)
			if !bytes.Equal(m.Value, raw) {
				t.Errorf("Value = %q; want the raw bytes", m.Value)
			}
			if tc.notJSON {
				if !errors.Is(err, message.ErrNotObject) {
					t.Errorf("got error %v; want one wrapping message.ErrNotObject", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v; want none", err)
			}
			if m.Kind != tc.kind {
				t.Errorf("got kind %q; want %q", m.Kind, tc.kind)
			}
			if string(m.Key) != tc.key {
				t.Errorf("got key %q; want %q", m.Key, tc.key)
			}
			if !m.Time.Equal(tc.time) {
				t.Errorf("got time %v; want %v", m.Time, tc.time)
			}
		})
	}
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
	for _, e := range timeline(7, time.Second) {
		f.Add(e.raw)
	}
	for _, s := range []string{string(likeEvent), `{}`, `[]`, `{"kind":"commit","commit":null}`, `{"did":"x","kind":"commit","commit":{"operation":"update","collection":"a","rkey":"b"}}`,
		`{"did":"x","time_us":-1,"kind":"identity"}`, `{"time_us":9223372036854775807}`, `{"time_us":99999999999999999999}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		in := bytes.Clone(raw)
		m, err := Classify(raw)
		if !bytes.Equal(raw, in) {
			t.Fatal("Classify changed its input")
		}
		if !bytes.Equal(m.Value, raw) {
			t.Fatal("Value is not the raw bytes")
		}
		isObject := json.Valid(raw) && bytes.TrimLeft(raw, " \t\r\n")[0] == '{'
		if err != nil {
			if !errors.Is(err, message.ErrNotObject) {
				t.Fatalf("error %v does not wrap ErrNotObject", err)
			}
			if isObject {
				t.Fatalf("a JSON object was refused: %v", err)
			}
			return
		}
		if !isObject {
			t.Fatalf("accepted %q, which is not a JSON object", raw)
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
