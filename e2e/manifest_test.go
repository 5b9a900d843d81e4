package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hourManifest is what the test reads of a _manifest.json.
type hourManifest struct {
	Topic string `json:"topic"`
	Lines int64  `json:"lines"`
	Files []struct {
		Name   string `json:"name"`
		Lines  int64  `json:"lines"`
		Bytes  int64  `json:"bytes"`
		SHA256 string `json:"sha256"`
	} `json:"files"`
}

// manifests reads every _manifest.json under dir/topic and the number of
// hour folders there, each holding data files.
func manifests(t *testing.T, dir, topic string) (map[string]hourManifest, int) {
	t.Helper()
	ms := map[string]hourManifest{}
	hours := map[string]bool{}
	err := filepath.WalkDir(filepath.Join(dir, topic), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch {
		case d.Name() == "_manifest.json":
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			var m hourManifest
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			ms[filepath.Dir(path)] = m
		case strings.Contains(d.Name(), ".jsonl"):
			hours[filepath.Dir(path)] = true
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return ms, len(hours)
}

// TestHourManifests replays the project's v1.1 payloads (statuses of past
// hours) through the producer and a consumer writing the hive layout,
// gzipped: every hour folder of the statuses gets a manifest, the manifests' line counts
// sum to the lines written, and each file's size and SHA-256 are those of
// the file on disk.
func TestHourManifests(t *testing.T) {
	brokers := broker(t)
	topic := unique("tweets")
	control := topic + ".control"
	out := t.TempDir()
	prod := start(t, "producer", "KAFKA_BROKERS="+brokers, "SOURCE=replay", "REPLAY_PATH="+projectPayloads(t),
		"KAFKA_TOPIC="+topic, "KAFKA_CONTROL_TOPIC="+control)
	prod.wait(t, 60*time.Second)
	cons := start(t, "consumer", "KAFKA_BROKERS="+brokers, "KAFKA_TOPICS="+topic+","+control,
		"KAFKA_GROUP_ID="+unique("archiver"), "OUTPUT_DIR="+out, "BATCH_MAX_WAIT=100ms",
		"KAFKA_SESSION_TIMEOUT=6s", "PARTITION_WATCH_INTERVAL=500ms",
		"OUTPUT_LAYOUT=hive", "OUTPUT_COMPRESSION=gzip", "ROTATE_INTERVAL=1s",
		"MANIFEST_GRACE=0s", "MANIFEST_INTERVAL=200ms")
	done := func(tp string) bool {
		ms, hours := manifests(t, out, tp)
		var sum int64
		for _, m := range ms {
			sum += m.Lines
		}
		return hours > 0 && len(ms) == hours && sum == int64(len(readOutput(t, out, tp)))
	}
	// The statuses are timed in past hours; some control messages (limit
	// notices, which carry no time) are timed when they were read, in an
	// hour that is not over: only the statuses' hours all close.
	eventually(t, 90*time.Second, "a manifest in every hour folder of the statuses, counting every line", func() bool {
		return done(topic)
	})
	cons.stop(t, 15*time.Second)

	for _, tp := range []string{topic} {
		ms, hours := manifests(t, out, tp)
		var sum int64
		for dir, m := range ms {
			if !strings.Contains(dir, string(filepath.Separator)+"dt=") || !strings.HasPrefix(filepath.Base(dir), "hr=") {
				t.Errorf("manifest in %s; want it in a dt=/hr= folder", dir)
			}
			for _, f := range m.Files {
				data, err := os.ReadFile(filepath.Join(dir, f.Name))
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(data)
				if got := hex.EncodeToString(sum[:]); got != f.SHA256 || int64(len(data)) != f.Bytes {
					t.Errorf("%s: manifest says %d bytes, sha256 %s; the file has %d bytes, %s", f.Name, f.Bytes, f.SHA256, len(data), got)
				}
			}
			sum += m.Lines
		}
		lines := len(readOutput(t, out, tp))
		if sum != int64(lines) || lines == 0 {
			t.Errorf("%s: the manifests count %d lines; the files hold %d", tp, sum, lines)
		}
		t.Logf("%s: %d hours, %d manifests, %d lines", tp, hours, len(ms), lines)
	}
}

// TestOutputReaderSkipsManifestTemporaries: a consumer killed while it
// wrote an hour's manifest leaves the manifest's temporary file; the
// output reader takes it for neither data nor an unexpected file.
func TestOutputReaderSkipsManifestTemporaries(t *testing.T) {
	dir := t.TempDir()
	hour := filepath.Join(dir, "tweets", "dt=2026-12-02", "hr=10")
	if err := os.MkdirAll(hour, 0o750); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"tweets-p0-000000000000.jsonl":              "{\"id\":1}\n{\"id\":2}\n",
		"_manifest.json":                            "{}\n",
		"._manifest.json.4242-0123456789abcdef.tmp": "{\"vers",
	} {
		if err := os.WriteFile(filepath.Join(hour, name), []byte(data), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if got := readOutput(t, dir, "tweets"); len(got) != 2 {
		t.Errorf("read %d lines; want the data file's 2", len(got))
	}
}
