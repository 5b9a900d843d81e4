package main

import (
	"strings"
	"testing"
	"time"
)

// logLine is one line of the consumer's JSON log, at t0 plus ms.
func logLine(ms int, msg, attrs string) string {
	at := time.Date(2026, 12, 3, 4, 0, 0, 0, time.UTC).Add(time.Duration(ms) * time.Millisecond)
	return `{"time":"` + at.Format(time.RFC3339Nano) + `","level":"INFO","msg":"` + msg + `"` + attrs + "}\n"
}

func durations(ms ...int) []time.Duration {
	d := make([]time.Duration, len(ms))
	for i, v := range ms {
		d[i] = time.Duration(v) * time.Millisecond
	}
	return d
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestFolderHours: each hour folder's first manifest against the last file
// closed in that folder; a manifest written again counts neither its time
// nor its lines.
func TestFolderHours(t *testing.T) {
	log := logLine(0, "consumer starting", `,"config":{}`) +
		"not json\n" +
		logLine(1000, "rotated data file", `,"topic":"t","partition":0,"path":"/o/t/2026-12-03/01/p0-0.jsonl.gz","bytes":10`) +
		logLine(1500, "rotated data file", `,"topic":"t","partition":1,"path":"/o/t/2026-12-03/01/p1-0.jsonl.gz","bytes":10`) +
		logLine(2000, "rotated data file", `,"topic":"t","partition":0,"path":"/o/t/2026-12-03/02/p0-9.jsonl.gz","bytes":10`) +
		logLine(4000, "wrote manifest", `,"component":"manifest","topic":"t","hour":"2026-12-03T01:00:00Z","path":"/o/t/2026-12-03/01/_manifest.json","count":2,"lines":100`) +
		logLine(5000, "wrote manifest", `,"component":"manifest","topic":"t","hour":"2026-12-03T02:00:00Z","path":"/o/t/2026-12-03/02/_manifest.json","count":1,"lines":50`) +
		logLine(9000, "wrote manifest", `,"component":"manifest","topic":"t","hour":"2026-12-03T01:00:00Z","path":"/o/t/2026-12-03/01/_manifest.json","count":2,"lines":100`)
	ev, err := readManifestLog(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if ev.lines != 150 {
		t.Errorf("lines: got %d; want 150", ev.lines)
	}
	h, err := folderHours(ev)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := h.latency(), durations(2500, 3000); !equalDurations(got, want) {
		t.Errorf("latency: got %v; want %v", got, want)
	}

	ev, err = readManifestLog(strings.NewReader(logLine(4000, "wrote manifest", `,"path":"/o/t/2026-12-03/05/_manifest.json","lines":1`)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := folderHours(ev); err == nil {
		t.Error("a manifest in a folder where no file was closed: got no error")
	}
}

// TestBucketHours: each hour's first manifest in the bucket against its
// last upload, and against the hour closed in the bucket: the latest, over
// the partitions, of each one's first upload of a later hour, or of its
// last upload when it has none. Hours compare as instants, whatever the
// zone they are written in.
func TestBucketHours(t *testing.T) {
	up := func(ms, partition int, hour string) string {
		return logLine(ms, "uploaded data file", `,"topic":"t","partition":`+string(rune('0'+partition))+
			`,"path":"/s/t/x.jsonl.gz","offset":0,"next_offset":5,"hour":"`+hour+`","took":"5ms"`)
	}
	wrote := func(ms int, hour string, lines int) string {
		return logLine(ms, "wrote manifest", `,"component":"manifest","topic":"t","hour":"`+hour+
			`","key":"archive/t/2026-12-03/`+hour[11:13]+`/_manifest.json","count":2,"lines":`+string(rune('0'+lines)))
	}
	log := up(1000, 0, "2026-12-03T01:00:00Z") +
		logLine(1001, "rotated data file", `,"topic":"t","partition":0,"path":"/s/t/x.jsonl.gz","bytes":10`) +
		up(1500, 1, "2026-12-03T02:00:00+01:00") + // 01:00 UTC
		up(2000, 0, "2026-12-03T02:00:00Z") +
		wrote(2500, "2026-12-03T00:00:00Z", 1) + // an hour with no upload: an error below, once left out
		up(3000, 1, "2026-12-03T02:00:00Z") +
		wrote(4000, "2026-12-03T01:00:00Z", 4) +
		wrote(5000, "2026-12-03T02:00:00Z", 5) +
		wrote(9000, "2026-12-03T01:00:00Z", 4)
	ev, err := readManifestLog(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if ev.lines != 10 {
		t.Errorf("lines: got %d; want 10 (1 + 4 + 5, the second manifest of 01:00 left out)", ev.lines)
	}
	if _, err := bucketHours(ev); err == nil || !strings.Contains(err.Error(), "no upload") {
		t.Errorf("a manifest of an hour with no upload: got %v; want an error saying so", err)
	}
	ev.written = ev.written[1:]
	h, err := bucketHours(ev)
	if err != nil {
		t.Fatal(err)
	}
	// 01:00: last upload at 1.5 s, closed at 3.0 s (partition 1's first
	// upload of 02:00); 02:00: last upload at 3.0 s, closed at 3.0 s (each
	// partition's last upload).
	if got, want := h.latency(), durations(2000, 2500); !equalDurations(got, want) {
		t.Errorf("from the last upload: got %v; want %v", got, want)
	}
	if got, want := h.sinceClosed(), durations(1000, 2000); !equalDurations(got, want) {
		t.Errorf("from the hour closed: got %v; want %v", got, want)
	}

	ev, err = readManifestLog(strings.NewReader(logLine(4000, "wrote manifest", `,"path":"/o/t/2026-12-03/05/_manifest.json","lines":1`)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bucketHours(ev); err == nil {
		t.Error("a folder's manifest: got no error")
	}
}
