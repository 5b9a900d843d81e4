package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/consumer/internal/batch"
	"github.com/tweetpipe/tweetpipe/consumer/internal/group"
	"github.com/tweetpipe/tweetpipe/consumer/internal/manifest"
	"github.com/tweetpipe/tweetpipe/internal/envexample"
	"github.com/tweetpipe/tweetpipe/internal/ops"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // substring; "" means valid
	}{
		{"defaults", nil, ""},
		{"several topics", map[string]string{"KAFKA_TOPICS": "tweets,tweets.control"}, ""},
		{"records not a number", map[string]string{"BATCH_MAX_RECORDS": "lots"}, `BATCH_MAX_RECORDS="lots": not a whole number`},
		{"records out of range", map[string]string{"BATCH_MAX_RECORDS": "0"}, "BATCH_MAX_RECORDS=0: accepts 1 to 1000000"},
		{"tiny batch bytes", map[string]string{"BATCH_MAX_BYTES": "10"}, "BATCH_MAX_BYTES=10"},
		{"bad wait", map[string]string{"BATCH_MAX_WAIT": "1 second"}, `BATCH_MAX_WAIT="1 second": not a duration`},
		{"session timeout too short", map[string]string{"KAFKA_SESSION_TIMEOUT": "1s"}, "KAFKA_SESSION_TIMEOUT=1s: accepts 6s to 30m"},
		{"session timeout of ten minutes, under the broker's default maximum", map[string]string{"KAFKA_SESSION_TIMEOUT": "10m"}, ""},
		{"session timeout at the broker's default maximum", map[string]string{"KAFKA_SESSION_TIMEOUT": "30m"}, ""},
		{"session timeout too long", map[string]string{"KAFKA_SESSION_TIMEOUT": "31m"}, "KAFKA_SESSION_TIMEOUT=31m0s: accepts 6s to 30m (the broker's default group.min/max.session.timeout.ms"},
		{"bad compression", map[string]string{"OUTPUT_COMPRESSION": "lz4"}, `OUTPUT_COMPRESSION="lz4": accepts none, gzip or zstd`},
		{"gzip", map[string]string{"OUTPUT_COMPRESSION": "gzip"}, ""},
		{"hive layout", map[string]string{"OUTPUT_LAYOUT": "hive"}, ""},
		{"bad layout", map[string]string{"OUTPUT_LAYOUT": "flat"}, `OUTPUT_LAYOUT="flat": accepts dated or hive`},
		{"page cache dropped", map[string]string{"OUTPUT_PAGE_CACHE": "drop"}, ""},
		{"bad page cache", map[string]string{"OUTPUT_PAGE_CACHE": "off"}, `OUTPUT_PAGE_CACHE="off": accepts drop or keep`},
		{"manifests off", map[string]string{"MANIFEST": "off"}, ""},
		{"bad manifest", map[string]string{"MANIFEST": "yes"}, `MANIFEST="yes": accepts on or off`},
		{"negative grace", map[string]string{"MANIFEST_GRACE": "-1s"}, `MANIFEST_GRACE=-1s: must be 0 or positive`},
		{"manifest interval too short", map[string]string{"MANIFEST_INTERVAL": "1ms"}, `MANIFEST_INTERVAL=1ms: accepts 100ms or more`},
		{"file mode widened", map[string]string{"OUTPUT_FILE_MODE": "0644"}, ""},
		{"file mode not octal", map[string]string{"OUTPUT_FILE_MODE": "rw-r-----"}, `OUTPUT_FILE_MODE="rw-r-----"`},
		{"file mode the owner cannot write", map[string]string{"OUTPUT_FILE_MODE": "0440"}, `OUTPUT_FILE_MODE="0440"`},
		{"file mode beyond permissions", map[string]string{"OUTPUT_FILE_MODE": "4755"}, `OUTPUT_FILE_MODE="4755"`},
		{"rotate too small", map[string]string{"ROTATE_MAX_BYTES": "100"}, "ROTATE_MAX_BYTES=100"},
		{"rotate interval too short", map[string]string{"ROTATE_INTERVAL": "10ms"}, "ROTATE_INTERVAL=10ms"},
		{"topic with a slash", map[string]string{"KAFKA_TOPICS": "a/b"}, `KAFKA_TOPICS: "a/b"`},
		{"topic with a colon", map[string]string{"KAFKA_TOPICS": "tweets:1"}, `KAFKA_TOPICS: "tweets:1" is not a topic name`},
		{"empty topic in the list", map[string]string{"KAFKA_TOPICS": "tweets,"}, `KAFKA_TOPICS: ""`},
		{"longest topic whose file names fit", map[string]string{"KAFKA_TOPICS": strings.Repeat("t", 209)}, ""},
		{"topic Kafka takes but too long for the file names", map[string]string{"KAFKA_TOPICS": "tweets," + strings.Repeat("t", 240)}, `KAFKA_TOPICS: topic name "tttttttttttttttttttt"... has 240 characters: the archive's longest file name, <topic>-p<partition>-<offset>.jsonl.zst.tmp, adds up to 46 to it within 255 bytes, so at most 209 characters fit`},
		{"output dir set but empty", map[string]string{"OUTPUT_DIR": ""}, "OUTPUT_DIR is empty"},
		{"broker without port", map[string]string{"KAFKA_BROKERS": "kafka"}, `KAFKA_BROKERS: "kafka" is not host:port`},
		{"broker port not a number", map[string]string{"KAFKA_BROKERS": "127.0.0.1:abc"}, `KAFKA_BROKERS: "127.0.0.1:abc" is not host:port`},
		{"broker as a URL", map[string]string{"KAFKA_BROKERS": "http://127.0.0.1:9092"}, `KAFKA_BROKERS: "http://127.0.0.1:9092" is a URL`},
		{"SASL user without mechanism", map[string]string{"KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}, `KAFKA_SASL_MECHANISM is empty`},
		{"output url file", map[string]string{"OUTPUT_URL": "file:///srv/archive"}, ""},
		{"output url file and the same dir", map[string]string{"OUTPUT_URL": "file:///srv/archive", "OUTPUT_DIR": "/srv/archive/"}, ""},
		{"output url file and another dir", map[string]string{"OUTPUT_URL": "file:///srv/archive", "OUTPUT_DIR": "/data"}, "OUTPUT_URL=file:///srv/archive and OUTPUT_DIR=/data name two folders"},
		{"output url relative file", map[string]string{"OUTPUT_URL": "file://data"}, `OUTPUT_URL="file://data": a file URL names an absolute path`},
		{"output url other scheme", map[string]string{"OUTPUT_URL": "gs://bucket/x"}, `OUTPUT_URL="gs://bucket/x": the scheme must be file or s3`},
		{"s3 without credentials", map[string]string{"OUTPUT_URL": "s3://tweets/archive"}, "OUTPUT_URL=s3://tweets/archive needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"},
		{"s3", map[string]string{"OUTPUT_URL": "s3://tweets/archive", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "S3_ENDPOINT": "http://127.0.0.1:9000"}, ""},
		{"s3 bad bucket", map[string]string{"OUTPUT_URL": "s3://Tweets/archive", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}, `"Tweets" is not a bucket name`},
		{"s3 prefix with ..", map[string]string{"OUTPUT_URL": "s3://tweets/a/../b", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}, "the prefix has an empty, . or .. segment"},
		{"s3 endpoint with a path", map[string]string{"OUTPUT_URL": "s3://tweets", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "S3_ENDPOINT": "http://host:9000/tweets"}, `S3_ENDPOINT="http://host:9000/tweets": want http(s)://host[:port]`},
		{"s3 endpoint without scheme", map[string]string{"OUTPUT_URL": "s3://tweets", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "S3_ENDPOINT": "host:9000"}, `S3_ENDPOINT="host:9000"`},
		{"s3 path style not a switch", map[string]string{"S3_PATH_STYLE": "maybe"}, `S3_PATH_STYLE="maybe": not on or off`},
		{"two errors at once", map[string]string{"LOG_LEVEL": "loud", "LOG_FORMAT": "xml"}, `LOG_FORMAT="xml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := Load()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("got error %v; want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("got error %v; want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		for _, prefix := range []string{"KAFKA_", "OUTPUT_", "BATCH_", "ROTATE_", "LOG_", "PROGRESS_", "SHUTDOWN_", "PARTITION_", "S3_", "AWS_"} {
			if strings.HasPrefix(k, prefix) {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
		}
	}
}

func TestUsageListsEveryVariable(t *testing.T) {
	var b bytes.Buffer
	if err := Usage(&b); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"KAFKA_TOPICS", "KAFKA_GROUP_ID", "OUTPUT_DIR", "BATCH_MAX_RECORDS", "ROTATE_INTERVAL", "OUTPUT_COMPRESSION", "OUTPUT_LAYOUT", "MANIFEST", "MANIFEST_GRACE", "KAFKA_SESSION_TIMEOUT"} {
		if !strings.Contains(b.String(), v) {
			t.Errorf("usage does not list %s", v)
		}
	}
}

// TestDefaultTopicsIncludeControl: by default the archive holds the control
// topic too, where deletions arrive that researchers must honour.
func TestDefaultTopicsIncludeControl(t *testing.T) {
	clearEnv(t)
	cfg, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Topics, []string{"tweets", "tweets.control"}; !slices.Equal(got, want) {
		t.Errorf("KAFKA_TOPICS default: got %q; want %q", got, want)
	}
}

// TestHTTPAddrDefaultIsTheProbes: -healthcheck, with HTTP_ADDR unset, asks
// the address the service serves on by default.
func TestHTTPAddrDefaultIsTheProbes(t *testing.T) {
	clearEnv(t)
	os.Unsetenv("HTTP_ADDR")
	cfg, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != ops.DefaultHTTPAddr {
		t.Errorf("HTTP_ADDR default: got %q; the probe's is %q", cfg.HTTPAddr, ops.DefaultHTTPAddr)
	}
}

// TestOutputURL: file:///x is OUTPUT_DIR=/x; s3:// keeps OUTPUT_DIR as the
// staging folder and gives the bucket and prefix.
func TestOutputURL(t *testing.T) {
	clearEnv(t)
	t.Setenv("OUTPUT_URL", "file:///srv/archive")
	cfg, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Store(); ok || cfg.OutputDir != "/srv/archive" {
		t.Fatalf("file URL: got OUTPUT_DIR %q, bucket %v; want /srv/archive and none", cfg.OutputDir, ok)
	}

	clearEnv(t)
	t.Setenv("OUTPUT_URL", "s3://tweets/archive/v1/")
	t.Setenv("OUTPUT_DIR", "/var/staging")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-example")
	cfg, err = Load()
	if err != nil {
		t.Fatal(err)
	}
	sc, ok := cfg.Store()
	if !ok || sc.Bucket != "tweets" || sc.Prefix != "archive/v1" || cfg.OutputDir != "/var/staging" || !sc.PathStyle || sc.Region != "us-east-1" {
		t.Fatalf("s3 URL: got %+v, OUTPUT_DIR %q; want bucket tweets, prefix archive/v1, staging /var/staging, path-style, us-east-1", sc, cfg.OutputDir)
	}
	if sc.Layout != archive.LayoutDated || sc.Compression != archive.CompressionNone {
		t.Fatalf("s3 URL: got layout %q, compression %q; want OUTPUT_LAYOUT's and OUTPUT_COMPRESSION's defaults, dated and none", sc.Layout, sc.Compression)
	}
	t.Setenv("OUTPUT_LAYOUT", "hive")
	t.Setenv("OUTPUT_COMPRESSION", "zstd")
	if cfg, err = Load(); err != nil {
		t.Fatal(err)
	}
	if sc, _ = cfg.Store(); sc.Layout != archive.LayoutHive || sc.Compression != archive.CompressionZstd {
		t.Fatalf("s3 URL with OUTPUT_LAYOUT=hive OUTPUT_COMPRESSION=zstd: got layout %q, compression %q; want hive, the keys' hour folders, and zstd, their extension (both recorded in the bucket)", sc.Layout, sc.Compression)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%v %+v", cfg, sc)
	logged := b.String()
	for _, secret := range []string{"AKIDEXAMPLE", "wJalrXUtnFEMI-example"} {
		if strings.Contains(logged, secret) {
			t.Errorf("the configuration prints %s: %s", secret, logged)
		}
	}
}

// TestUnusedBucketSettings: S3_* set without OUTPUT_URL=s3://... are named
// (the consumer warns: the files go to OUTPUT_DIR), and not with it.
func TestUnusedBucketSettings(t *testing.T) {
	clearEnv(t)
	t.Setenv("S3_ENDPOINT", "http://minio:9000")
	t.Setenv("S3_PATH_STYLE", "off")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE") // a shell's, for other tools
	cfg, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.UnusedBucketSettings(); !slices.Equal(got, []string{"S3_ENDPOINT", "S3_PATH_STYLE"}) {
		t.Fatalf("without OUTPUT_URL: got %q; want S3_ENDPOINT and S3_PATH_STYLE", got)
	}
	t.Setenv("OUTPUT_URL", "s3://tweets/archive")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-example")
	if cfg, err = Load(); err != nil {
		t.Fatal(err)
	}
	if got := cfg.UnusedBucketSettings(); got != nil {
		t.Fatalf("with OUTPUT_URL=s3://...: got %q; want none", got)
	}
}

// TestS3CredentialFiles: AWS_ACCESS_KEY_ID_FILE and
// AWS_SECRET_ACCESS_KEY_FILE, as Docker secrets give them.
func TestS3CredentialFiles(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("OUTPUT_URL", "s3://tweets")
	t.Setenv("AWS_ACCESS_KEY_ID_FILE", write("id", "AKIDFILE"))
	t.Setenv("AWS_SECRET_ACCESS_KEY_FILE", write("secret", "secret-from-file"))
	cfg, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := cfg.Store()
	if sc.AccessKey.Reveal() != "AKIDFILE" || sc.SecretKey.Reveal() != "secret-from-file" {
		t.Fatalf("got %q, %q; want the files' contents", sc.AccessKey.Reveal(), sc.SecretKey.Reveal())
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "also")
	if _, err := Load(); err == nil || !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY and AWS_SECRET_ACCESS_KEY_FILE are both set") {
		t.Fatalf("both set: got %v; want an error naming both", err)
	}
}

// TestPageCacheDroppedByDefault: without OUTPUT_PAGE_CACHE the archive
// drops each batch's pages once fsynced and the manifests read the files
// around the page cache; keep leaves both to the kernel.
func TestPageCacheDroppedByDefault(t *testing.T) {
	clearEnv(t)
	for _, tt := range []struct {
		value string
		drop  bool
	}{{"", true}, {"keep", false}, {"drop", true}} {
		if tt.value != "" {
			t.Setenv("OUTPUT_PAGE_CACHE", tt.value)
		}
		cfg, err := Load()
		if err != nil {
			t.Fatal(err)
		}
		mc, _ := cfg.ManifestConfig()
		if got := cfg.ArchiveConfig().DropPageCache; got != tt.drop || mc.Uncached != tt.drop {
			t.Errorf("OUTPUT_PAGE_CACHE=%q: archive drops %v, manifests uncached %v; want %v", tt.value, got, mc.Uncached, tt.drop)
		}
	}
}

// TestManifestsInTheBucket: with OUTPUT_URL=s3://... the manifests go in
// the bucket (the folder only stages the files being written), as MANIFEST
// says.
func TestManifestsInTheBucket(t *testing.T) {
	clearEnv(t)
	cfg, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, on := cfg.ManifestConfig(); !on {
		t.Fatal("MANIFEST defaults to on for a local folder, got off")
	}
	t.Setenv("OUTPUT_URL", "s3://tweets/archive")
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	if cfg, err = Load(); err != nil {
		t.Fatal(err)
	}
	if mc, on := cfg.ManifestConfig(); !on || !slices.Equal(mc.Topics, cfg.Group.Topics) {
		t.Errorf("MANIFEST=on with OUTPUT_URL=s3://...: got on %v, topics %q; want on, for %q", on, mc.Topics, cfg.Group.Topics)
	}
	t.Setenv("MANIFEST", "off")
	if cfg, err = Load(); err != nil {
		t.Fatal(err)
	}
	if _, on := cfg.ManifestConfig(); on {
		t.Error("MANIFEST=off with OUTPUT_URL=s3://...: got on")
	}
}

// TestVariablesAsInEnvExample: -h lists the variables of .env.example's
// consumer part, in its order, with its defaults: the names users,
// compose files and scripts set, wherever in the code each one lives.
// scripts/env-example.sh writes that part from -h, leaving out the
// variables the producer's part lists already; those the consumer reads
// too must have the producer's defaults and come in the producer's order.
func TestVariablesAsInEnvExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	producerPart, rest, ok := strings.Cut(string(b), "\n# consumer\n")
	if !ok {
		t.Fatal(".env.example has no consumer part")
	}
	consumerPart, _, ok := strings.Cut(rest, "\n# secrets from files")
	if !ok {
		t.Fatal(".env.example has no part for secrets from files after the consumer's")
	}
	producer, consumer := envexample.Variables(producerPart), envexample.Variables(consumerPart)
	producerDefault := map[string]string{}
	for _, v := range producer {
		name, def, _ := strings.Cut(v, "=")
		producerDefault[name] = def
	}

	var usage bytes.Buffer
	if err := Usage(&usage); err != nil {
		t.Fatal(err)
	}
	var own, shared, sharedWant []string
	for _, v := range envexample.UsageVariables(usage.String()) {
		name, _, _ := strings.Cut(v, "=")
		if pdef, ok := producerDefault[name]; ok {
			shared = append(shared, v)
			sharedWant = append(sharedWant, name+"="+pdef)
		} else {
			own = append(own, v)
		}
	}
	if len(consumer) < 25 || len(shared) < 10 {
		t.Fatalf("read %d variables of the consumer's own from .env.example and %d shared with the producer; want 25 and 10 or more", len(consumer), len(shared))
	}
	if !slices.Equal(own, consumer) {
		t.Errorf("-h lists, with their defaults:\n%s\nwant, as .env.example's consumer part:\n%s", strings.Join(own, "\n"), strings.Join(consumer, "\n"))
	}
	if !slices.Equal(shared, sharedWant) {
		t.Errorf("-h lists the variables the producer reads too as:\n%s\nwant the producer's defaults:\n%s", strings.Join(shared, "\n"), strings.Join(sharedWant, "\n"))
	}
	var order []string
	for _, v := range producer {
		if slices.Contains(shared, v) {
			order = append(order, v)
		}
	}
	if !slices.Equal(shared, order) {
		t.Errorf("-h lists the variables the producer reads too in the order:\n%s\nwant the producer's:\n%s", strings.Join(shared, "\n"), strings.Join(order, "\n"))
	}
}

// TestPartsGetTheirSettings: the archive, the group and the manifests get
// the values of their variables, and those they share with the service.
func TestPartsGetTheirSettings(t *testing.T) {
	clearEnv(t)
	for k, v := range map[string]string{
		"KAFKA_BROKERS": "k1:9092,k2:9092", "KAFKA_TOPICS": "a,b", "KAFKA_GROUP_ID": "g", "KAFKA_SESSION_TIMEOUT": "7s",
		"KAFKA_REBALANCE_TIMEOUT": "8s", "KAFKA_FETCH_MAX_BYTES": "4096", "KAFKA_FETCH_MAX_WAIT": "9ms",
		"PARTITION_WATCH_INTERVAL": "3s", "OUTPUT_DIR": "/srv/out", "BATCH_MAX_RECORDS": "11", "BATCH_MAX_BYTES": "2048",
		"BATCH_MAX_WAIT": "12ms", "ROTATE_MAX_BYTES": "4096", "ROTATE_INTERVAL": "13s", "DEDUP_WINDOW": "14",
		"OUTPUT_COMPRESSION": "zstd", "OUTPUT_FILE_MODE": "0644", "OUTPUT_LAYOUT": "hive", "OUTPUT_PAGE_CACHE": "drop",
		"MANIFEST_GRACE": "15s", "MANIFEST_INTERVAL": "16s", "SHUTDOWN_TIMEOUT": "17s",
	} {
		t.Setenv(k, v)
	}
	cfg, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	wantArchive := archive.Config{Dir: "/srv/out", RotateMaxBytes: 4096, RotateInterval: 13 * time.Second, DedupWindow: 14,
		Compression: archive.CompressionZstd, FileMode: 0o644, Layout: archive.LayoutHive, DropPageCache: true}
	if got := cfg.ArchiveConfig(); !reflect.DeepEqual(got, wantArchive) {
		t.Errorf("archive: got %+v; want %+v", got, wantArchive)
	}
	wantGroup := group.Config{
		Settings: group.Settings{Topics: []string{"a", "b"}, GroupID: "g", SessionTimeout: 7 * time.Second,
			RebalanceTimeout: 8 * time.Second, FetchMaxBytes: 4096, FetchMaxWait: 9 * time.Millisecond},
		Watch:   group.Watch{WatchInterval: 3 * time.Second},
		Batch:   batch.Limits{MaxRecords: 11, MaxBytes: 2048, MaxWait: 12 * time.Millisecond},
		Brokers: []string{"k1:9092", "k2:9092"}, ShutdownTimeout: 17 * time.Second, DedupWindow: 14,
	}
	if got := cfg.GroupConfig(); !reflect.DeepEqual(got, wantGroup) {
		t.Errorf("group: got %+v; want %+v", got, wantGroup)
	}
	wantManifest := manifest.Config{Dir: "/srv/out", Layout: archive.LayoutHive, Topics: []string{"a", "b"},
		Grace: 15 * time.Second, Interval: 16 * time.Second, FileMode: 0o644, Uncached: true}
	if got, on := cfg.ManifestConfig(); !on || !reflect.DeepEqual(got, wantManifest) {
		t.Errorf("manifests: got %+v, on %v; want %+v, on", got, on, wantManifest)
	}
}
