package archive

import (
	"strings"
	"testing"
	"time"
)

// validCheckpoint returns a checkpoint with an active file, as Append writes.
func validCheckpoint() checkpoint {
	hour := time.Date(2024, 3, 9, 7, 0, 0, 0, time.UTC)
	return checkpoint{
		Topic:             "tweets",
		Partition:         3,
		NextOffset:        1000,
		Active:            DataPath("tweets", 3, 900, hour),
		ActiveSize:        12345,
		ActiveHour:        hour,
		ActiveCreated:     hour.Add(90 * time.Second),
		DeadLetter:        DeadLetterPath("tweets", 3, 950),
		DeadLetterSize:    77,
		DeadLetterCreated: hour.Add(time.Minute),
	}
}

func equalCheckpoint(a, b checkpoint) bool {
	return a.Topic == b.Topic && a.Partition == b.Partition && a.NextOffset == b.NextOffset &&
		a.Active == b.Active && a.ActiveSize == b.ActiveSize &&
		a.ActiveHour.Equal(b.ActiveHour) && a.ActiveCreated.Equal(b.ActiveCreated) &&
		a.DeadLetter == b.DeadLetter && a.DeadLetterSize == b.DeadLetterSize && a.DeadLetterCreated.Equal(b.DeadLetterCreated) &&
		a.KeysGen == b.KeysGen && a.KeysSize == b.KeysSize &&
		a.Rotated == b.Rotated && a.RotatedSize == b.RotatedSize && a.UploadHour.Equal(b.UploadHour)
}

func TestCheckpointRoundTrip(t *testing.T) {
	noActive := validCheckpoint()
	noActive.Active, noActive.ActiveSize, noActive.ActiveHour, noActive.ActiveCreated = "", 0, time.Time{}, time.Time{}
	fresh := noActive
	fresh.NextOffset, fresh.DeadLetter, fresh.DeadLetterSize, fresh.DeadLetterCreated = -1, "", 0, time.Time{}
	legacy := validCheckpoint()
	legacy.DeadLetter, legacy.DeadLetterCreated = legacyDeadLetterPath("tweets", 3), time.Time{}
	rotating := validCheckpoint()
	rotating.Rotated, rotating.RotatedSize = rotating.Active+".zst", 4321
	hive := validCheckpoint()
	hive.Active = LayoutHive.DataPath("tweets", 3, 900, hive.ActiveHour)
	staging := validCheckpoint()
	staging.UploadHour = staging.ActiveHour.Add(-time.Hour)
	stagingIdle := noActive
	stagingIdle.UploadHour = UploadHour(time.Time{})

	tests := []struct {
		name string
		c    checkpoint
	}{
		{"active file", validCheckpoint()},
		{"no active file", noActive},
		{"nothing written yet", fresh},
		{"dead-letter file of an earlier version", legacy},
		{"rotating into a compressed file", rotating},
		{"active file in the hive layout", hive},
		{"staging an upload", staging},
		{"staging an upload, no file yet, hour of the epoch", stagingIdle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := encodeCheckpoint(tt.c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeCheckpoint("x.json", data)
			if err != nil {
				t.Fatalf("decoding %s: %v", data, err)
			}
			if !equalCheckpoint(got, tt.c) {
				t.Errorf("got %+v; want %+v", got, tt.c)
			}
		})
	}
}

func TestDecodeCheckpointRejects(t *testing.T) {
	valid, err := encodeCheckpoint(validCheckpoint())
	if err != nil {
		t.Fatal(err)
	}
	// edit returns the valid checkpoint with old replaced by new.
	edit := func(old, new string) string {
		if !strings.Contains(string(valid), old) {
			t.Fatalf("test setup: %q not in %s", old, valid)
		}
		return strings.Replace(string(valid), old, new, 1)
	}
	tests := []struct {
		name    string
		data    string
		wantErr string
	}{
		{"empty file", "", "EOF"},
		{"truncated", string(valid[:len(valid)/2]), "unexpected EOF"},
		{"not an object", `[1]`, "cannot unmarshal"},
		{"trailing data", string(valid) + "{}", "after the JSON object"},
		{"unknown field", edit(`"version": 1,`, `"version": 1, "extra": true,`), "unknown field"},
		{"missing version", edit(`"version": 1,`, ``), `missing field "version"`},
		{"null version", edit(`"version": 1,`, `"version": null,`), `missing field "version"`},
		{"future version", edit(`"version": 1,`, `"version": 2,`), "version 2"},
		{"missing next offset", edit(`"next_offset": 1000,`, ``), `missing field "next_offset"`},
		{"next offset below -1", edit(`"next_offset": 1000,`, `"next_offset": -2,`), "next_offset -2"},
		{"wrong type", edit(`"next_offset": 1000,`, `"next_offset": "1000",`), "cannot unmarshal"},
		{"negative size", edit(`"active_size": 12345,`, `"active_size": -1,`), "negative"},
		{"negative dead-letter size", edit(`"deadletter_size": 77`, `"deadletter_size": -5`), "negative"},
		{"bad topic", edit(`"topic": "tweets",`, `"topic": "../x",`), "character"},
		{"negative partition", edit(`"partition": 3,`, `"partition": -3,`), "out of range"},
		{"absolute active path", edit(`"active": "tweets/`, `"active": "/tweets/`), "not a data file"},
		{"active path leaves Dir", edit(`"active": "tweets/`, `"active": "../tweets/`), "not a data file"},
		{"active path of another partition", edit(`tweets-p3-`, `tweets-p4-`), "not a data file"},
		{"active path of another hour", edit(`/07/tweets`, `/08/tweets`), "not a data file"},
		{"hive active path of another hour", edit(`2024-03-09/07/tweets`, `dt=2024-03-09/hr=08/tweets`), "not a data file"},
		{"half hive active path", edit(`2024-03-09/07/tweets`, `dt=2024-03-09/07/tweets`), "not a data file"},
		{"active offset not padded", edit(`000000000900`, `900`), "not a data file"},
		{"active hour not whole", edit(`"active_hour": "2024-03-09T07:00:00Z"`, `"active_hour": "2024-03-09T07:00:01Z"`), "whole hour"},
		{"missing active hour", edit(`"active_hour": "2024-03-09T07:00:00Z",`, ``), `missing field "active_hour"`},
		{"bad time", edit(`"active_hour": "2024-03-09T07:00:00Z"`, `"active_hour": "yesterday"`), "cannot parse"},
		{"dead-letter path elsewhere", edit(`"deadletter": "_deadletter/tweets/tweets-p3-000000000950.jsonl"`, `"deadletter": "/etc/passwd"`), "deadletter"},
		{"dead-letter file of another partition", edit(`tweets-p3-000000000950`, `tweets-p4-000000000950`), "not a dead-letter file"},
		{"dead-letter size with no file", edit(`"deadletter": "_deadletter/tweets/tweets-p3-000000000950.jsonl"`, `"deadletter": ""`), "no dead-letter file"},
		{"rotated without its size", edit(`"deadletter_size": 77`, `"deadletter_size": 77, "rotated": "x.gz"`), "go together"},
		{"rotated is another file", edit(`"deadletter_size": 77`, `"deadletter_size": 77, "rotated": "tweets/x.jsonl.gz", "rotated_size": 5`), "not the active file"},
		{"upload hour not whole", edit(`"version": 1,`, `"version": 1, "upload_hour": "2024-03-09T07:30:00Z",`), "whole hour"},
		{"upload hour zero", edit(`"version": 1,`, `"version": 1, "upload_hour": "0001-01-01T00:00:00Z",`), "upload_hour"},
		{"size without active file", edit(`"active": "tweets/2024-03-09/07/tweets-p3-000000000900.jsonl"`, `"active": ""`), "no active file"},
	}
	const name = "/out/_state/tweets-3.json"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeCheckpoint(name, []byte(tt.data))
			if err == nil {
				t.Fatalf("got nil error for %s; want one containing %q", tt.data, tt.wantErr)
			}
			if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %q; want it to name %s and contain %q", err, name, tt.wantErr)
			}
		})
	}
}

// FuzzDecodeCheckpoint checks that no input makes the decoder panic, that
// every error names the file, and that whatever it accepts survives an
// encode/decode round trip unchanged.
func FuzzDecodeCheckpoint(f *testing.F) {
	noActive := validCheckpoint()
	noActive.Active, noActive.ActiveSize, noActive.ActiveHour, noActive.ActiveCreated = "", 0, time.Time{}, time.Time{}
	for _, c := range []checkpoint{validCheckpoint(), noActive} {
		data, err := encodeCheckpoint(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"topic":"t","partition":0,"next_offset":-1,"active":"","active_size":0,"deadletter":"_deadletter/t/t-p0.jsonl","deadletter_size":0}`))
	f.Add([]byte(`{"version":1,"topic":"t","partition":0,"next_offset":-1,"active":"","active_size":0,"deadletter":"","deadletter_size":0}`))
	f.Add([]byte(`null`))
	f.Add([]byte{})

	const name = "/out/_state/t-0.json"
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeCheckpoint(name, data)
		if err != nil {
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		again, err := encodeCheckpoint(c)
		if err != nil {
			t.Fatalf("encoding accepted checkpoint %+v: %v", c, err)
		}
		got, err := decodeCheckpoint(name, again)
		if err != nil {
			t.Fatalf("decoding re-encoded %s: %v", again, err)
		}
		if !equalCheckpoint(got, c) {
			t.Fatalf("round trip: got %+v; want %+v", got, c)
		}
	})
}
