package objstore

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/tweetpipe/tweetpipe/internal/envconf"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
)

// testStore starts an S3-compatible server with scripts/s3-local.sh
// (S3_LOCAL_SCRIPT names it; make test-kafka sets it) and returns a store
// on its bucket under a prefix of the test's own. With S3_LOCAL_RUNNING=1
// it uses the server the script already runs at S3_LOCAL_PORT and
// S3_LOCAL_DIR instead, and leaves it running (scripts/bench.sh starts and
// stops the one objstore.BenchmarkUpload measures).
func testStore(t testing.TB) *Store {
	t.Helper()
	script := os.Getenv("S3_LOCAL_SCRIPT")
	if script == "" {
		t.Skip("needs an S3-compatible server: set S3_LOCAL_SCRIPT=scripts/s3-local.sh (make test-kafka does)")
	}
	script, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	running := os.Getenv("S3_LOCAL_RUNNING") == "1"
	env := os.Environ()
	if !running {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(l.Addr().String())
		l.Close()
		env = append(env, "S3_LOCAL_PORT="+port, "S3_LOCAL_DIR="+t.TempDir())
	}
	run := func(cmd string) string {
		c := exec.Command(script, cmd)
		c.Env = env
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("s3-local.sh %s: %v\n%s", cmd, err, out)
		}
		return string(out)
	}
	if running {
		run("status") // fails unless the server runs: start would start one that nobody stops
	}
	out := run("start")
	if !running {
		t.Cleanup(func() { run("stop") })
	}
	var s S3
	var target Target
	for _, kv := range strings.Fields(out) {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "S3_ENDPOINT":
			s.S3Endpoint = v
		case "AWS_ACCESS_KEY_ID":
			s.AWSAccessKeyID = envconf.Secret(v)
		case "AWS_SECRET_ACCESS_KEY":
			s.AWSSecretAccessKey = envconf.Secret(v)
		case "OUTPUT_URL":
			if target, err = ParseURL(v); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.S3Region, s.S3PathStyle = "us-east-1", true
	target.Prefix += "/" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	st, err := New(s.Config(target))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.Check(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// openPartition reads the checkpoint of partition n of tweets from s.
func openPartition(t testing.TB, s *Store, n int) archive.PartitionUploader {
	t.Helper()
	up, err := s.Partition(context.Background(), "tweets", n)
	if err != nil {
		t.Fatal(err)
	}
	return up
}

// mustUpload uploads a staged file name holding body, records first to
// next, in the hour hour17 and without dedup keys.
func mustUpload(t testing.TB, up archive.PartitionUploader, name, body string, first, next int64) {
	t.Helper()
	if err := up.Upload(context.Background(), stagedFile(t, name, body), first, next, hour17, archive.Keys{}); err != nil {
		t.Fatal(err)
	}
}

func stagedFile(t testing.TB, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// objects returns every object under the store's prefix but _state/.
func objects(t *testing.T, s *Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	got := map[string]string{}
	for o := range s.c.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: s.cfg.Prefix + "/", Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if strings.Contains(o.Key, "/_state/") {
			continue
		}
		r, err := s.c.GetObject(ctx, s.cfg.Bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		got[o.Key] = string(b)
	}
	return got
}

// wantObjects fails the test unless the objects under the store's prefix
// (but _state/) are want, by key.
func wantObjects(t *testing.T, s *Store, want map[string]string) {
	t.Helper()
	if got := objects(t, s); !maps.Equal(got, want) {
		t.Fatalf("objects = %q; want %q", got, want)
	}
}

// hour17 is an upload's hour in the tests.
var hour17 = time.Date(2026, 11, 26, 17, 0, 0, 0, time.UTC)

// TestUploadKeysAndCheckpoint: a file goes under the key of its hour and
// first offset (the bucket's next offset once there is one), the
// checkpoint follows, and a new owner reads it back.
func TestUploadKeysAndCheckpoint(t *testing.T) {
	s := testStore(t)
	ctx := context.Background()
	up := openPartition(t, s, 2)
	if up.Next() != -1 {
		t.Fatalf("Next of a new partition = %d; want -1", up.Next())
	}
	mustUpload(t, up, "tweets-p2-000000000005.jsonl", "a\nb\n", 5, 10)
	// The first record of the next file is 12 (10 and 11 were dropped as
	// duplicates here): its key still says 10, where a new owner starts.
	keys := archive.Keys{Prev: []byte("MTAw\n"), Cur: []byte("MTAx\nMTAy\n")}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("c\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := up.Upload(ctx, stagedFile(t, "tweets-p2-000000000012.jsonl.gz", gz.String()), 12, 20, hour17.Add(time.Hour), keys); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		s.cfg.key("tweets/2026-11-26/17/tweets-p2-00000000000000000005.jsonl"):    "a\nb\n",
		s.cfg.key("tweets/2026-11-26/18/tweets-p2-00000000000000000010.jsonl.gz"): gz.String(),
	}
	wantObjects(t, s, want)
	again := openPartition(t, s, 2)
	if again.Next() != 20 {
		t.Fatalf("a new owner's Next = %d; want 20", again.Next())
	}
	if prev, cur := again.Keys(); string(prev) != string(keys.Prev) || string(cur) != string(keys.Cur) {
		t.Fatalf("a new owner's dedup keys = %q, %q; want %q, %q", prev, cur, keys.Prev, keys.Cur)
	}
}

// TestUploadReplacesWhatACrashLeft: an object left by an owner that died
// before recording it is replaced whole by the next owner's file, under the
// same key: never a second copy.
func TestUploadReplacesWhatACrashLeft(t *testing.T) {
	s := testStore(t)
	ctx := context.Background()
	key := s.cfg.ObjectKey("tweets", 0, hour17, 0, ".jsonl")
	left := "0\n1\n2\n3\n" // the dead owner's longer file
	if _, err := s.c.PutObject(ctx, s.cfg.Bucket, key, strings.NewReader(left), int64(len(left)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	up := openPartition(t, s, 0)
	mustUpload(t, up, "tweets-p0-000000000000.jsonl", "0\n1\n", 0, 2)
	if got := objects(t, s); len(got) != 1 || got[key] != "0\n1\n" {
		t.Fatalf("objects = %q; want only %s = %q", got, key, "0\n1\n")
	}
}

// TestUploadFencesFormerOwner: an owner that read the checkpoint before a
// newer owner recorded an upload cannot move the checkpoint (If-Match).
func TestUploadFencesFormerOwner(t *testing.T) {
	s := testStore(t)
	ctx := context.Background()
	former := openPartition(t, s, 1)
	mustUpload(t, former, "tweets-p1-000000000000.jsonl", "0\n", 0, 1)
	current := openPartition(t, s, 1)
	mustUpload(t, current, "tweets-p1-000000000001.jsonl", "1\n2\n", 1, 3)
	err := former.Upload(ctx, stagedFile(t, "tweets-p1-000000000001.jsonl", "1\n"), 1, 2, hour17, archive.Keys{})
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("the former owner's upload: got %v; want ErrFenced", err)
	}
	// The error says what the bucket holds and who wrote it.
	host, _ := os.Hostname()
	want := fmt.Sprintf("tweets partition 1: %v: %s has next offset 3 and last file %s, written by another owner on this host (%s) at ",
		ErrFenced, s.cfg.StateKey("tweets", 1), s.cfg.ObjectKey("tweets", 1, hour17, 1, ".jsonl"), host)
	if !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("the former owner's upload: got %q; want %q and the time", err, want)
	}
	// A second owner that never read the checkpoint cannot create one
	// over it either (If-None-Match: *).
	stale := Uploader{s: s, topic: "tweets", partition: 1, next: -1}
	if err := stale.Upload(ctx, stagedFile(t, "tweets-p1-000000000000.jsonl", "0\n"), 0, 1, hour17, archive.Keys{}); !errors.Is(err, ErrFenced) {
		t.Fatalf("an owner with no checkpoint read: got %v; want ErrFenced", err)
	}
	after := openPartition(t, s, 1)
	if after.Next() != 3 {
		t.Fatalf("checkpoint Next = %d; want 3, the current owner's", after.Next())
	}
	if got := objects(t, s)[s.cfg.ObjectKey("tweets", 1, hour17, 1, ".jsonl")]; got != "1\n2\n" {
		t.Fatalf("the current owner's object = %q; want %q, untouched by the former owner", got, "1\n2\n")
	}
	// The server enforces the conditions the checkpoint write relies on.
	stateKey := s.cfg.StateKey("tweets", 1)
	for name, set := range map[string]func(*minio.PutObjectOptions){
		"If-Match of another ETag": func(o *minio.PutObjectOptions) { o.SetMatchETag(`"0123456789abcdef0123456789abcdef"`) },
		"If-None-Match: *":         func(o *minio.PutObjectOptions) { o.SetMatchETagExcept("*") },
	} {
		var o minio.PutObjectOptions
		set(&o)
		_, err := s.c.PutObject(ctx, s.cfg.Bucket, stateKey, strings.NewReader("{}"), 2, o)
		if minio.ToErrorResponse(err).StatusCode != 412 {
			t.Errorf("a checkpoint write with %s over another checkpoint: got %v; want 412 Precondition Failed", name, err)
		}
	}
}

// TestUploadRefusesOtherFiles: only data files (.jsonl, compressed or not)
// are uploaded; anything else is an error, not a key.
func TestUploadRefusesOtherFiles(t *testing.T) {
	u := &Uploader{s: &Store{cfg: Config{Bucket: "tweets"}}, topic: "tweets", next: -1}
	err := u.Upload(context.Background(), "/staging/tweets/keys.bin", 0, 1, hour17, archive.Keys{})
	if err == nil || !strings.Contains(err.Error(), "not a .jsonl file") {
		t.Fatalf("got %v; want an error saying it is not a .jsonl file", err)
	}
}

// TestUploadErrorsNameTheFileOnce: the archive's error names the file it
// was uploading (archive.Partition.upload wraps "uploading <path>: "), so
// Upload's own errors do not name it again.
func TestUploadErrorsNameTheFileOnce(t *testing.T) {
	for _, tt := range []struct {
		file        string
		first, next int64
		want        string
	}{
		{"/staging/tweets/keys.bin", 0, 1, "not a .jsonl file"},
		{"/staging/tweets/2026-11-26/17/tweets-p0-000000000005.jsonl", 5, 5, "next offset 5 not past the first 5"},
	} {
		u := &Uploader{s: &Store{cfg: Config{Bucket: "tweets"}}, topic: "tweets", next: -1}
		err := u.Upload(context.Background(), tt.file, tt.first, tt.next, hour17, archive.Keys{})
		if err == nil {
			t.Fatalf("Upload(%s, %d, %d): got nil; want an error", tt.file, tt.first, tt.next)
		}
		got := fmt.Errorf("uploading %s: %w", tt.file, err).Error()
		if want := "uploading " + tt.file + ": " + tt.want; got != want {
			t.Errorf("the archive's error: got %q; want %q", got, want)
		}
	}
}

// TestUploadFencedByEarlierVersion: a checkpoint an earlier version wrote
// (no owner token) over the one this owner read fences it, and the error
// says what that checkpoint holds and which host wrote it.
func TestUploadFencedByEarlierVersion(t *testing.T) {
	s := testStore(t)
	ctx := context.Background()
	up := openPartition(t, s, 0)
	key := s.cfg.legacyObjectKey("tweets", 0, 0, ".jsonl")
	old := `{"topic":"tweets","partition":0,"next_offset":2,"key":"` + key + `","bytes":4,"host":"old-host","time":"2026-11-26T17:05:00Z"}` + "\n"
	if _, err := s.c.PutObject(ctx, s.cfg.Bucket, s.cfg.StateKey("tweets", 0), strings.NewReader(old), int64(len(old)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	err := up.Upload(ctx, stagedFile(t, "tweets-p0-000000000000.jsonl", "0\n1\n"), 0, 2, hour17, archive.Keys{})
	want := fmt.Sprintf(`tweets partition 0: %v: %s has next offset 2 and last file %s, written by an earlier version on host "old-host" at 2026-11-26T17:05:00Z`,
		ErrFenced, s.cfg.StateKey("tweets", 0), key)
	if !errors.Is(err, ErrFenced) || err.Error() != want {
		t.Fatalf("got %v; want ErrFenced: %q", err, want)
	}
}

// TestObjectKey: an object's key names its hour as the local folders do,
// in either layout, then its partition and first offset.
func TestObjectKey(t *testing.T) {
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Prefix: "archive"}, "archive/tweets/2026-11-26/17/tweets-p3-00000000000000012345.jsonl.zst"},
		{Config{Prefix: "archive", Layout: archive.LayoutDated}, "archive/tweets/2026-11-26/17/tweets-p3-00000000000000012345.jsonl.zst"},
		{Config{Prefix: "a/b", Layout: archive.LayoutHive}, "a/b/tweets/dt=2026-11-26/hr=17/tweets-p3-00000000000000012345.jsonl.zst"},
		{Config{Layout: archive.LayoutHive}, "tweets/dt=2026-11-26/hr=17/tweets-p3-00000000000000012345.jsonl.zst"},
	} {
		hour := time.Date(2026, 11, 26, 22, 30, 0, 0, time.FixedZone("IST", 5*3600+1800)) // 17:00 UTC
		if got := tt.cfg.ObjectKey("tweets", 3, hour, 12345, ".jsonl.zst"); got != tt.want {
			t.Errorf("ObjectKey with prefix %q, layout %q = %s; want %s", tt.cfg.Prefix, tt.cfg.Layout, got, tt.want)
		}
	}
}

// TestUploadAfterEarlierVersion: a bucket written by an earlier version,
// whose keys had no hour, goes on: the checkpoint names the last file, and
// the object such a version may have put at the bucket's next offset
// before dying (its records not recorded) is removed, so that the file
// built again from there is in the bucket once, under the new key. The
// files it recorded stay where they are.
func TestUploadAfterEarlierVersion(t *testing.T) {
	s := testStore(t)
	ctx := context.Background()
	put := func(key, body string) {
		t.Helper()
		if _, err := s.c.PutObject(ctx, s.cfg.Bucket, key, strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	recorded := s.cfg.legacyObjectKey("tweets", 0, 0, ".jsonl")
	put(recorded, "0\n1\n")
	put(s.cfg.StateKey("tweets", 0), `{"topic":"tweets","partition":0,"next_offset":2,"key":"`+recorded+`","bytes":4}`+"\n")
	put(s.cfg.legacyObjectKey("tweets", 0, 2, ".jsonl"), "2\n3\n4\n") // put, never recorded
	// A partition the earlier version never recorded an upload of.
	put(s.cfg.legacyObjectKey("tweets", 1, 7, ".jsonl"), "7\n")

	up := openPartition(t, s, 0)
	if up.Next() != 2 {
		t.Fatalf("Next from the earlier version's checkpoint = %d; want 2", up.Next())
	}
	mustUpload(t, up, "tweets-p0-000000000002.jsonl", "2\n3\n", 2, 4)
	up1 := openPartition(t, s, 1)
	mustUpload(t, up1, "tweets-p1-000000000007.jsonl", "7\n8\n", 7, 9)
	want := map[string]string{
		recorded: "0\n1\n",
		s.cfg.ObjectKey("tweets", 0, hour17, 2, ".jsonl"): "2\n3\n",
		s.cfg.ObjectKey("tweets", 1, hour17, 7, ".jsonl"): "7\n8\n",
	}
	wantObjects(t, s, want)
}

// lossyTransport passes the client's requests to the server, but once
// loseAnswer names a key, the next PUT of it reaches the server and its
// answer is lost, and the server answers nothing more (down past the
// client's retries) until heal.
type lossyTransport struct {
	mu   sync.Mutex
	key  string // the key whose next PUT loses its answer
	down bool
}

func (l *lossyTransport) loseAnswer(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.key = key
}

func (l *lossyTransport) heal() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = false
}

func (l *lossyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	l.mu.Lock()
	down := l.down
	lose := !down && l.key != "" && r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/"+l.key)
	if lose {
		l.key, l.down = "", true
	}
	l.mu.Unlock()
	if down {
		return nil, errors.New("connection refused (the server is down)")
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if !lose {
		return resp, err
	}
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the PUT whose answer is to be lost did not land: %s", resp.Status)
	}
	return nil, errors.New("connection reset by peer (the answer was lost)")
}

// TestUploadAfterLostCheckpointAnswer: a checkpoint write that landed but
// whose answer was lost (the server down past the client's retries) is the
// owner's own, recognised when it retries the same file: with the same
// next offset, or one past records dropped since (a batch that starts with
// a duplicate or a dead letter), the retry records it instead of
// ErrFenced, the bucket holds the file once, counted as one upload, and
// the partition goes on.
func TestUploadAfterLostCheckpointAnswer(t *testing.T) {
	for _, retryNext := range []int64{20, 21} {
		t.Run(fmt.Sprintf("retry with next %d", retryNext), func(t *testing.T) {
			s := testStore(t)
			ctx := context.Background()
			lt := &lossyTransport{}
			lossy, err := newStore(s.cfg, lt)
			if err != nil {
				t.Fatal(err)
			}
			up := openPartition(t, lossy, 0)
			mustUpload(t, up, "tweets-p0-000000000000.jsonl", "0\n", 0, 10)

			file := stagedFile(t, "tweets-p0-000000000010.jsonl", "10\n11\n")
			keys := archive.Keys{Cur: []byte("MTA=\nMTE=\n")}
			lt.loseAnswer(s.cfg.StateKey("tweets", 0))
			if err := up.Upload(ctx, file, 10, 20, hour17, keys); err == nil {
				t.Fatal("the upload whose answer was lost: got nil; want an error")
			}
			lt.heal()
			if got := openPartition(t, s, 0).Next(); got != 20 {
				t.Fatalf("the bucket's Next after the lost answer = %d; want 20 (the write landed)", got)
			}

			if err := up.Upload(ctx, file, 10, retryNext, hour17, keys); err != nil {
				t.Fatalf("the retry: got %v; want nil", err)
			}
			if up.Next() != retryNext {
				t.Fatalf("Next after the retry = %d; want %d", up.Next(), retryNext)
			}
			st, _, err := s.readState(ctx, "tweets", 0)
			if err != nil {
				t.Fatal(err)
			}
			if st.Next != retryNext || st.KeysCur != string(keys.Cur) || st.Uploads != 2 || len(st.Recent) != 2 {
				t.Fatalf("checkpoint after the retry: next %d, keys %q, uploads %d, %d recent hours; want %d, %q, 2, 2",
					st.Next, st.KeysCur, st.Uploads, len(st.Recent), retryNext, keys.Cur)
			}

			mustUpload(t, up, "tweets-p0-000000000021.jsonl", "21\n", 21, 22)
			want := map[string]string{
				s.cfg.ObjectKey("tweets", 0, hour17, 0, ".jsonl"):         "0\n",
				s.cfg.ObjectKey("tweets", 0, hour17, 10, ".jsonl"):        "10\n11\n",
				s.cfg.ObjectKey("tweets", 0, hour17, retryNext, ".jsonl"): "21\n",
			}
			wantObjects(t, s, want)
			if got := openPartition(t, s, 0).Next(); got != 22 {
				t.Fatalf("the bucket's Next = %d; want 22", got)
			}
		})
	}
}

// TestUploadFencesSameFileOfAnotherOwner: a checkpoint another owner wrote
// fences this one even when it records the very file and next offset this
// one uploads (both rebuilt it from the same offset): only one of them
// goes on as the partition's owner.
func TestUploadFencesSameFileOfAnotherOwner(t *testing.T) {
	s := testStore(t)
	ctx := context.Background()
	former := openPartition(t, s, 0)
	current := openPartition(t, s, 0)
	mustUpload(t, current, "tweets-p0-000000000000.jsonl", "0\n1\n", 0, 2)
	err := former.Upload(ctx, stagedFile(t, "tweets-p0-000000000000.jsonl", "0\n1\n"), 0, 2, hour17, archive.Keys{})
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("the former owner's upload of the same file: got %v; want ErrFenced", err)
	}
	mustUpload(t, current, "tweets-p0-000000000002.jsonl", "2\n", 2, 3)
}
