package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// s3Server is an S3-compatible server (versitygw) started by
// scripts/s3-local.sh for one test, on a free port and in the test's own
// folder; it is stopped when the test ends.
type s3Server struct {
	script string
	env    []string // S3_LOCAL_PORT and S3_LOCAL_DIR for the script
	dir    string   // S3_LOCAL_DIR
	// What `start` printed: the consumer's settings.
	Endpoint, AccessKey, SecretKey, OutputURL string
}

// s3Script returns scripts/s3-local.sh when S3_LOCAL_SCRIPT names it (make
// test-kafka sets it); otherwise it skips the test, saying what to set.
func s3Script(t *testing.T) string {
	t.Helper()
	script := os.Getenv("S3_LOCAL_SCRIPT")
	if script == "" {
		t.Skip("needs an S3-compatible server: set S3_LOCAL_SCRIPT=scripts/s3-local.sh (make test-kafka does; it needs go and curl)")
	}
	abs, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// startS3 starts a server with scripts/s3-local.sh and reads its exports.
func startS3(t *testing.T) *s3Server {
	t.Helper()
	script := s3Script(t)
	_, port, err := net.SplitHostPort(freeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	s := &s3Server{script: script, dir: t.TempDir()}
	s.env = []string{"S3_LOCAL_PORT=" + port, "S3_LOCAL_DIR=" + s.dir}
	out := s.run(t, "start")
	t.Cleanup(func() { s.run(t, "stop") })
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "export ") {
			continue
		}
		for _, kv := range strings.Fields(strings.TrimPrefix(line, "export ")) {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "S3_ENDPOINT":
				s.Endpoint = v
			case "AWS_ACCESS_KEY_ID":
				s.AccessKey = v
			case "AWS_SECRET_ACCESS_KEY":
				s.SecretKey = v
			case "OUTPUT_URL":
				s.OutputURL = v
			}
		}
	}
	if s.Endpoint == "" || s.AccessKey == "" || s.SecretKey == "" || s.OutputURL == "" {
		t.Fatalf("s3-local.sh start printed no complete export line:\n%s", out)
	}
	return s
}

// run runs the script with cmd and returns its standard output; it fails
// the test if the script fails.
func (s *s3Server) run(t *testing.T, cmd string) string {
	t.Helper()
	out, err := s.try(cmd)
	if err != nil {
		t.Fatalf("s3-local.sh %s: %v\n%s", cmd, err, out)
	}
	return out
}

func (s *s3Server) try(cmd string) (string, error) {
	c := exec.Command(s.script, cmd)
	c.Env = append(os.Environ(), s.env...)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	return stdout.String() + stderr.String(), err
}

// bucket returns the bucket and prefix of OutputURL.
func (s *s3Server) bucket(t *testing.T) (string, string) {
	t.Helper()
	u, err := url.Parse(s.OutputURL)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		t.Fatalf("OUTPUT_URL=%q is not s3://bucket/prefix", s.OutputURL)
	}
	return u.Host, strings.Trim(u.Path, "/")
}

// client returns an S3 client of the server, path-style.
func (s *s3Server) client(t *testing.T) *minio.Client {
	t.Helper()
	u, err := url.Parse(s.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// objects returns every object under prefix with its bytes.
func (s *s3Server) objects(t *testing.T, prefix string) map[string][]byte {
	t.Helper()
	bucket, _ := s.bucket(t)
	c := s.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got := map[string][]byte{}
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("listing %s/%s: %v", bucket, prefix, o.Err)
		}
		if isProbe(o.Key) {
			continue
		}
		r, err := c.GetObject(ctx, bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatalf("getting %s: %v", o.Key, err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("reading %s: %v", o.Key, err)
		}
		got[o.Key] = b
	}
	return got
}

// isProbe reports whether key is a consumer's start-up probe, which it puts
// and deletes again under <prefix>/_probe/: a listing while a consumer starts
// may name one that is gone by the time it is read.
func isProbe(key string) bool {
	return strings.HasPrefix(key, "_probe/") || strings.Contains(key, "/_probe/")
}

// TestS3LocalScript: the script starts a server with the bucket made,
// prints the consumer's settings, and kill and resume keep the objects.
func TestS3LocalScript(t *testing.T) {
	s := startS3(t)
	bucket, prefix := s.bucket(t)
	if prefix == "" {
		t.Fatalf("OUTPUT_URL=%s has no prefix", s.OutputURL)
	}
	if out, err := s.try("status"); err != nil {
		t.Fatalf("status after start: %v\n%s", err, out)
	}
	c := s.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ok, err := c.BucketExists(ctx, bucket)
	if err != nil || !ok {
		t.Fatalf("bucket %s after start: exists %v, %v; want it made", bucket, ok, err)
	}
	body := []byte("{\"id_str\":\"1\"}\n")
	key := prefix + "/probe/one.jsonl"
	if _, err := c.PutObject(ctx, bucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("putting %s: %v", key, err)
	}

	s.run(t, "kill")
	if out, err := s.try("status"); err == nil {
		t.Fatalf("status after kill exited 0; want non-zero\n%s", out)
	}
	s.run(t, "resume")
	got := s.objects(t, prefix+"/")
	if len(got) != 1 || !bytes.Equal(got[key], body) {
		t.Fatalf("objects after kill and resume: %q; want only %s = %q", got, key, body)
	}
}

// TestS3StartChecks: a consumer whose bucket cannot be used stops at start,
// before it reads anything, with an error naming the setting to fix, and
// never prints a credential.
func TestS3StartChecks(t *testing.T) {
	s := startS3(t)
	bucket, prefix := s.bucket(t)
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(s.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A prefix whose first consumer recorded the hive layout: one started
	// with the default layout must refuse it, naming the variable.
	settled := prefix + "-hive"
	settings := []byte(`{"output_layout":"hive","output_compression":"none","host":"elsewhere"}`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.client(t).PutObject(ctx, bucket, settled+"/_state/settings.json", bytes.NewReader(settings), int64(len(settings)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  []string
		want string // in the consumer's error
	}{
		{"wrong secret key", []string{"S3_ENDPOINT=" + s.Endpoint, "OUTPUT_URL=" + s.OutputURL,
			"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=not-" + s.SecretKey}, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"},
		{"unknown access key", []string{"S3_ENDPOINT=" + s.Endpoint, "OUTPUT_URL=" + s.OutputURL,
			"AWS_ACCESS_KEY_ID=nobody", "AWS_SECRET_ACCESS_KEY_FILE=" + secretFile}, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"},
		{"missing bucket", []string{"S3_ENDPOINT=" + s.Endpoint, "OUTPUT_URL=s3://no-such-" + bucket + "/" + prefix,
			"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY_FILE=" + secretFile}, "OUTPUT_URL=s3://no-such-" + bucket + "/" + prefix + ": bucket no-such-" + bucket + " does not exist"},
		{"unreachable server", []string{"S3_ENDPOINT=http://" + freeAddr(t), "OUTPUT_URL=" + s.OutputURL,
			"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY_FILE=" + secretFile}, "S3_ENDPOINT=http://127.0.0.1:"},
		{"another layout than the prefix's", []string{"S3_ENDPOINT=" + s.Endpoint, "OUTPUT_URL=s3://" + bucket + "/" + settled,
			"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY_FILE=" + secretFile},
			"OUTPUT_LAYOUT=dated, but OUTPUT_URL=s3://" + bucket + "/" + settled + " is written with OUTPUT_LAYOUT=hive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append([]string{"KAFKA_BROKERS=127.0.0.1:1", "OUTPUT_DIR=" + t.TempDir()}, tt.env...)
			p := start(t, "consumer", env...)
			select {
			case <-p.done:
			case <-time.After(2 * time.Minute):
				fatalf(t, "the consumer did not stop within 2m")
			}
			out := p.out.String()
			var exit *exec.ExitError
			if !errors.As(p.err, &exit) || exit.ExitCode() != 1 {
				fatalf(t, "the consumer exited with %v; want exit status 1", p.err)
			}
			if !strings.Contains(out, tt.want) {
				fatalf(t, "the consumer's log does not name %q:\n%s", tt.want, out)
			}
			if strings.Contains(out, s.SecretKey) {
				fatalf(t, "the consumer printed the secret key:\n%s", out)
			}
		})
	}
}

// s3Env is what a consumer needs to write to the server's bucket.
func (s *s3Server) consumerEnv() []string {
	return []string{"OUTPUT_URL=" + s.OutputURL, "S3_ENDPOINT=" + s.Endpoint,
		"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.SecretKey}
}

// objectBytes is the size of every data object under the prefix (the
// checkpoints under _state/ left out): a cheap progress measure.
func (s *s3Server) objectBytes(t *testing.T) (int64, error) {
	bucket, prefix := s.bucket(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var total int64
	for o := range s.client(t).ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix + "/", Recursive: true}) {
		if o.Err != nil {
			return 0, o.Err
		}
		if !strings.Contains(o.Key, "/_state/") && !strings.Contains(o.Key, "/_probe/") {
			total += o.Size
		}
	}
	return total, nil
}

// objectLines returns the lines of every data object under the prefix,
// decompressed by extension, and how many objects there were.
func (s *s3Server) objectLines(t *testing.T) ([][]byte, int) {
	t.Helper()
	_, prefix := s.bucket(t)
	var lines [][]byte
	objs := s.objects(t, prefix+"/")
	n := 0
	for key, data := range objs {
		if strings.Contains(key, "/_state/") || strings.Contains(key, "/_probe/") || path.Base(key) == "_manifest.json" {
			continue
		}
		n++
		data = s.decompressed(t, key, data)
		for _, l := range bytes.SplitAfter(data, []byte("\n")) {
			if len(l) > 0 {
				lines = append(lines, bytes.TrimSuffix(l, []byte("\n")))
			}
		}
	}
	return lines, n
}

// decompressed returns a data object's bytes decompressed by its key's
// extension, and fails the test if it does not end in a whole line.
func (s *s3Server) decompressed(t *testing.T, key string, data []byte) []byte {
	t.Helper()
	switch {
	case strings.HasSuffix(key, ".jsonl.zst"):
		d, err := zstd.NewReader(nil)
		if err != nil {
			t.Fatal(err)
		}
		data, err = d.DecodeAll(data, nil)
		d.Close()
		if err != nil {
			t.Fatalf("decompressing %s: %v", key, err)
		}
	case strings.HasSuffix(key, ".jsonl.gz"):
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("decompressing %s: %v", key, err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			t.Fatalf("decompressing %s: %v", key, err)
		}
	case !strings.HasSuffix(key, ".jsonl"):
		t.Fatalf("object %s is not a data file", key)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("object %s ends in a partial line", key)
	}
	return data
}

// manifestGaps lists the bucket and returns what keeps its hour manifests
// from being complete: an hour folder holding data objects with no
// _manifest.json, or one that does not list exactly those objects with
// their sizes; "" when there is nothing. It returns the manifests by hour
// folder.
func (s *s3Server) manifestGaps(t *testing.T) (string, map[string]hourManifest) {
	t.Helper()
	bucket, prefix := s.bucket(t)
	c := s.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sizes := map[string]map[string]int64{} // hour folder -> object name -> size
	ms := map[string]hourManifest{}
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix + "/", Recursive: true}) {
		if o.Err != nil {
			return o.Err.Error(), nil
		}
		if strings.Contains(o.Key, "/_state/") || strings.Contains(o.Key, "/_probe/") {
			continue
		}
		dir, name := path.Split(o.Key)
		if name != "_manifest.json" {
			if sizes[dir] == nil {
				sizes[dir] = map[string]int64{}
			}
			sizes[dir][name] = o.Size
			continue
		}
		r, err := c.GetObject(ctx, bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			return err.Error(), nil
		}
		var m hourManifest
		err = json.NewDecoder(r).Decode(&m)
		r.Close()
		if err != nil {
			return fmt.Sprintf("%s: %v", o.Key, err), nil
		}
		ms[dir] = m
	}
	for dir, objs := range sizes {
		m, ok := ms[dir]
		if !ok {
			return fmt.Sprintf("%s holds %d objects and no manifest", dir, len(objs)), ms
		}
		listed := map[string]int64{}
		for _, f := range m.Files {
			listed[f.Name] = f.Bytes
		}
		if !maps.Equal(listed, objs) {
			return fmt.Sprintf("%s_manifest.json lists %v; the folder holds %v", dir, listed, objs), ms
		}
	}
	for dir := range ms {
		if sizes[dir] == nil {
			return fmt.Sprintf("%s_manifest.json is in a folder with no object", dir), ms
		}
	}
	return "", ms
}

// TestS3ChaosConsumerKills: three consumers, each with its own staging
// folder as if on its own host, fill one bucket while they are SIGKILLed
// and restarted at random, the S3 server is killed and restarted twice
// while they upload, and the producer is killed twice (it sends again what
// Kafka had not acknowledged); the objects hold every status exactly once.
func TestS3ChaosConsumerKills(t *testing.T) {
	s := startS3(t)
	brokers := broker(t)
	n := chaosCount(t, 50_000)
	input, want := genStatuses(t, n, 3)
	input, speed := spreadOverHours(t, input, want, 3*time.Hour)
	topic := unique("s3chaos")
	group := unique("archiver")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))

	penv := []string{"KAFKA_BROKERS=" + brokers, "SOURCE=replay", "REPLAY_PATH=" + input, "STATE_DIR=" + t.TempDir(),
		"KAFKA_TOPIC=" + topic, "KAFKA_CONTROL_TOPIC=", "KAFKA_PARTITIONS=6", "REPLAY_SPEED=" + speed}
	prod := start(t, "producer", penv...)
	const hosts = 3
	envs := make([][]string, hosts)
	consumers := make([]*proc, hosts)
	var all []*proc // every consumer started, for the counts of what they logged
	for i := range hosts {
		envs[i] = append(consumerEnv(brokers, topic, group, chaosDir(t)), s.consumerEnv()...)
		// Small files so that many uploads happen during the kills; the
		// last ones close on age.
		envs[i] = append(envs[i], "ROTATE_MAX_BYTES=262144", "ROTATE_INTERVAL=2s", "OUTPUT_COMPRESSION=zstd", "DEDUP_WINDOW=100000",
			"MANIFEST_INTERVAL=1s")
		consumers[i] = start(t, "consumer", envs[i]...)
		all = append(all, consumers[i])
	}
	const kills = 15
	serverRestarts, producerKills := 0, 0
	for i := 1; i <= kills; i++ {
		time.Sleep(time.Duration(500+rng.IntN(2500)) * time.Millisecond)
		h := rng.IntN(hosts)
		consumers[h].kill()
		consumers[h] = start(t, "consumer", envs[h]...)
		all = append(all, consumers[h])
		if i == 1 || i == 3 {
			// The producer sends again what Kafka had not acknowledged:
			// copies that the dedup window, carried through the bucket
			// from host to host, drops.
			prod.kill()
			prod = start(t, "producer", penv...)
			producerKills++
		}
		if i == 2 || i == 4 {
			// While the producer still sends and files close every
			// 256 KiB: uploads in flight fail and are retried.
			s.run(t, "kill")
			time.Sleep(time.Duration(4000+rng.IntN(1000)) * time.Millisecond)
			s.run(t, "resume")
			serverRestarts++
		}
	}
	t.Logf("consumers SIGKILLed and restarted %d times; the S3 server killed and restarted %d times; the producer %d times", kills, serverRestarts, producerKills)
	prod.wait(t, 5*time.Minute)

	// zstd makes the objects smaller than the lines: wait for the lines.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if size, err := s.objectBytes(t); err == nil && size > 0 {
			if lines, _ := s.objectLines(t); len(lines) >= len(want) {
				break
			}
		}
		if time.Now().After(deadline) {
			lines, objs := s.objectLines(t)
			fatalf(t, "timed out after 5m: %d objects hold %d lines for %d statuses sent", objs, len(lines), len(want))
		}
		time.Sleep(3 * time.Second)
	}
	// Every hour is closed once every partition's checkpoint in the bucket
	// is at Kafka's end: each gets its manifest, from one consumer or
	// several.
	deadline = time.Now().Add(2 * time.Minute)
	for {
		gap, _ := s.manifestGaps(t)
		if gap == "" {
			break
		}
		if time.Now().After(deadline) {
			fatalf(t, "hour manifests not complete 2m after the last object: %s", gap)
		}
		time.Sleep(2 * time.Second)
	}
	for _, c := range consumers {
		c.stop(t, 30*time.Second)
	}
	s.checkManifests(t)

	lines, objs := s.objectLines(t)
	count := make(map[string]int, len(lines))
	for _, l := range lines {
		id := statusID(t, l)
		count[id]++
		if in, ok := want[id]; !ok {
			t.Fatalf("status %s in the bucket was never sent", id)
		} else if !bytes.Equal(in, l) {
			t.Fatalf("status %s differs from the input:\n got %.200s\nwant %.200s", id, l, in)
		}
	}
	if missing, twice := missingAndTwice(want, count); len(missing) > 0 || len(twice) > 0 {
		fatalf(t, "%d objects, %d lines for %d statuses sent; %d missing %v; %d more than once %v",
			objs, len(lines), len(want), len(missing), missing[:min(len(missing), 10)], len(twice), twice[:min(len(twice), 10)])
	}
	var uploads, resets, failed int
	for _, p := range all {
		out := p.out.String()
		uploads += strings.Count(out, `msg="uploaded data file"`)
		resets += strings.Count(out, `msg="staging folder behind the bucket`)
		failed += strings.Count(out, `uploading `)
		if strings.Contains(out, s.SecretKey) {
			t.Errorf("a consumer printed the secret key:\n%s", out)
		}
	}
	inKafka := messagesIn(t, brokers, topic, 6)
	t.Logf("%d statuses in Kafka (%d messages, copies the producer sent again among them), %d lines across %d objects: "+
		"missing 0, duplicated 0, after %d consumer kills, %d server restarts and %d producer kills "+
		"(%d uploads, %d log lines of failed uploads, %d staging folders found behind the bucket)",
		len(want), inKafka, len(lines), objs, kills, serverRestarts, producerKills, uploads, failed, resets)
}

// checkManifests checks each hour manifest in the bucket against the
// objects it lists: lines (decompressed), size and SHA-256, and that every
// object is in one.
func (s *s3Server) checkManifests(t *testing.T) {
	t.Helper()
	gap, ms := s.manifestGaps(t)
	if gap != "" {
		fatalf(t, "hour manifests: %s", gap)
	}
	_, prefix := s.bucket(t)
	objs := s.objects(t, prefix+"/")
	var lines, files int64
	for dir, m := range ms {
		var sum int64
		for _, f := range m.Files {
			data, ok := objs[dir+f.Name]
			if !ok {
				fatalf(t, "%s_manifest.json lists %s, which is not there", dir, f.Name)
			}
			h := sha256.Sum256(data)
			n := int64(bytes.Count(s.decompressed(t, dir+f.Name, data), []byte("\n")))
			if n != f.Lines || int64(len(data)) != f.Bytes || hex.EncodeToString(h[:]) != f.SHA256 {
				fatalf(t, "%s_manifest.json: %s has %d lines, %d bytes, SHA-256 %x; the manifest says %d, %d, %s",
					dir, f.Name, n, len(data), h, f.Lines, f.Bytes, f.SHA256)
			}
			sum += n
		}
		if sum != m.Lines {
			fatalf(t, "%s_manifest.json: lines %d; its files hold %d", dir, m.Lines, sum)
		}
		lines += sum
		files += int64(len(m.Files))
	}
	t.Logf("%d hour manifests list %d objects, %d lines, each object's lines, size and SHA-256 as it is", len(ms), files, lines)
}

// spreadOverHours rewrites the statuses genStatuses wrote to input (and
// their lines in want) so that their timestamp_ms, 1 ms apart there, span
// span instead, and so several hours: it returns the new file and the
// REPLAY_SPEED that replays it in about ten seconds.
func spreadOverHours(t *testing.T, input string, want map[string][]byte, span time.Duration) (string, string) {
	t.Helper()
	data, err := os.ReadFile(input)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`"timestamp_ms":"(\d+)"`)
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	var out bytes.Buffer
	var base int64
	for i, l := range lines {
		m := re.FindSubmatch(l)
		if m == nil {
			t.Fatalf("line %d of %s has no timestamp_ms", i+1, input)
		}
		ms, _ := strconv.ParseInt(string(m[1]), 10, 64)
		if i == 0 {
			base = ms
		}
		ts := base + int64(i)*span.Milliseconds()/int64(len(lines))
		l = re.ReplaceAll(l, []byte(`"timestamp_ms":"`+strconv.FormatInt(ts, 10)+`"`))
		want[statusID(t, l)] = l
		out.Write(l)
		out.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "spread.jsonl")
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, strconv.Itoa(int(span / (10 * time.Second)))
}

// TestS3ObjectsSkipProbes: the tests' reading of the bucket leaves out a
// consumer's start-up probe, which a consumer restarted during the chaos
// run deletes between the listing and the read ("The specified key does
// not exist").
func TestS3ObjectsSkipProbes(t *testing.T) {
	s := startS3(t)
	bucket, prefix := s.bucket(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := s.client(t)
	for key, body := range map[string]string{prefix + "/_probe/vm-1": "", prefix + "/tweets/a.jsonl": "{}\n"} {
		if _, err := c.PutObject(ctx, bucket, key, strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
			t.Fatalf("putting %s: %v", key, err)
		}
	}
	got := s.objects(t, prefix+"/")
	if _, ok := got[prefix+"/_probe/vm-1"]; ok || len(got) != 1 {
		t.Fatalf("objects: %d, %q; want only %s/tweets/a.jsonl, no probe", len(got), got, prefix)
	}
}
