package objstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/consumer/internal/manifest"
)

// ErrFenced is returned by Upload when another consumer recorded an upload
// of the partition since this one read its state: this one is no longer
// its owner and must not go on.
var ErrFenced = errors.New("another consumer recorded an upload of the partition since this one opened it")

// state is a partition's checkpoint in the bucket,
// <prefix>/_state/<topic>-<partition>.json: the offset after the last
// uploaded file, that file, and the dedup window's keys at its end (the
// key files' lines: base64 keys, one a line).
type state struct {
	Topic     string    `json:"topic"`
	Partition int       `json:"partition"`
	Next      int64     `json:"next_offset"`
	Key       string    `json:"key"`
	Bytes     int64     `json:"bytes"`
	Host      string    `json:"host"`
	Time      time.Time `json:"time"`
	KeysPrev  string    `json:"dedup_keys_prev,omitempty"`
	KeysCur   string    `json:"dedup_keys,omitempty"`
	// Hour is the last uploaded file's hour (the one in its key); Uploads
	// counts the uploads recorded, and Recent holds the hours of the last
	// ones (up to recentUploads), oldest first: what the manifests' finalizer
	// reads to know which hours got an object since it last looked.
	Hour    time.Time   `json:"hour,omitzero"`
	Uploads int64       `json:"uploads,omitempty"`
	Recent  []time.Time `json:"recent_hours,omitempty"`
	// Owner is the token of the Store.Partition call whose uploader wrote
	// the checkpoint (Host is its host); earlier versions wrote none.
	Owner string `json:"owner,omitempty"`
}

// recentUploads is how many uploads' hours a checkpoint keeps: a finalizer
// that looks less often than that many uploads lists every hour again.
const recentUploads = 64

// The user metadata an upload stores with its object, for the manifests.
const (
	metaLines      = "Lines"       // lines, decompressed
	metaSHA256     = "Sha256"      // hex SHA-256 of the object's bytes
	metaLastOffset = "Last-Offset" // the offset before the upload's next
)

// ObjectKey returns the key of a partition's file whose records start at
// offset first, in the folder of hour (archive.UploadHour of the record at
// first) as the layout names it:
//
//	dated: <prefix>/<topic>/<YYYY-MM-DD>/<HH>/<topic>-p<partition>-<first, 20 digits><ext>
//	hive:  <prefix>/<topic>/dt=<YYYY-MM-DD>/hr=<HH>/<topic>-p<partition>-<first, 20 digits><ext>
//
// Derived from the topic, the partition and that offset only (the hour is
// the Kafka timestamp of the record there), so that whoever uploads that
// file again, after a crash or on another host, replaces it rather than
// add a second copy. ext is the file's extension (".jsonl", ".jsonl.gz",
// ".jsonl.zst").
func (c Config) ObjectKey(topic string, partition int, hour time.Time, first int64, ext string) string {
	dir := filepath.ToSlash(c.Layout.HourDir(topic, hour))
	return c.key(fmt.Sprintf("%s/%s-p%d-%020d%s", dir, topic, partition, first, ext))
}

// legacyObjectKey is the key an earlier version gave the same file, with
// no hour: <prefix>/<topic>/p<partition>/<topic>-p<partition>-<first>.
func (c Config) legacyObjectKey(topic string, partition int, first int64, ext string) string {
	return c.key(fmt.Sprintf("%s/p%d/%s-p%d-%020d%s", topic, partition, topic, partition, first, ext))
}

// legacy reports whether key, a checkpoint's last key, is of the form an
// earlier version wrote.
func (c Config) legacy(topic string, partition int, key string) bool {
	return strings.HasPrefix(key, c.key(fmt.Sprintf("%s/p%d/", topic, partition)))
}

// StateKey returns the key of a partition's checkpoint.
func (c Config) StateKey(topic string, partition int) string {
	return c.key(fmt.Sprintf("_state/%s-%d.json", topic, partition))
}

// Partition reads a partition's checkpoint from the bucket; it implements
// archive.Uploader. Each call is an owner of its own: the checkpoints its
// uploader writes carry a token of its own (and the host's name), so that
// it knows its own writes from another owner's.
func (s *Store) Partition(ctx context.Context, topic string, partition int) (archive.PartitionUploader, error) {
	var token [16]byte
	_, _ = rand.Read(token[:]) // never fails (crypto/rand)
	host, _ := os.Hostname()
	u := &Uploader{s: s, topic: topic, partition: partition, next: -1, owner: hex.EncodeToString(token[:]), host: host}
	st, etag, err := s.readState(ctx, topic, partition)
	if err != nil {
		return nil, err
	}
	if etag == "" {
		return u, nil
	}
	u.next, u.etag, u.stateKey = st.Next, etag, st.Key
	u.keys = archive.Keys{Prev: []byte(st.KeysPrev), Cur: []byte(st.KeysCur)}
	u.hour, u.uploads, u.recent = st.Hour, st.Uploads, st.Recent
	return u, nil
}

// readState reads a partition's checkpoint and its ETag; "" when there is
// none. A checkpoint an earlier version wrote has no owner token.
func (s *Store) readState(ctx context.Context, topic string, partition int) (state, string, error) {
	var st state
	key := s.cfg.StateKey(topic, partition)
	etag, err := s.getJSON(ctx, key, &st)
	if err != nil || etag == "" {
		return st, "", err
	}
	if st.Topic != topic || st.Partition != partition || st.Next < 0 {
		return st, "", fmt.Errorf("%s is not a checkpoint of %s partition %d", key, topic, partition)
	}
	return st, etag, nil
}

// getJSON decodes the object at key into v and returns its ETag; "" when
// there is no such object.
func (s *Store) getJSON(ctx context.Context, key string, v any) (string, error) {
	obj, err := s.c.GetObject(ctx, s.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return "", s.explain("reading "+key, err)
	}
	defer obj.Close()
	info, err := obj.Stat()
	if minio.ToErrorResponse(err).Code == "NoSuchKey" {
		return "", nil
	}
	if err != nil {
		return "", s.explain("reading "+key, err)
	}
	if err := json.NewDecoder(obj).Decode(v); err != nil {
		return "", fmt.Errorf("reading %s: %w", key, err)
	}
	return info.ETag, nil
}

// Uploader uploads one partition's files, one at a time, in offset order.
type Uploader struct {
	s         *Store
	topic     string
	partition int
	next      int64  // the bucket checkpoint's next offset; -1: none
	etag      string // the bucket checkpoint's ETag as last read or written; "": none
	stateKey  string // the key of the last file the bucket checkpoint names
	keys      archive.Keys
	hour      time.Time   // the bucket checkpoint's Hour
	uploads   int64       // its Uploads
	recent    []time.Time // and its Recent
	owner     string      // this owner's token, in the checkpoints it writes
	host      string      // and its host's name
}

// Next returns the offset after the last uploaded file, -1 if none.
func (u *Uploader) Next() int64 { return u.next }

// Keys returns the dedup window the bucket's checkpoint holds.
func (u *Uploader) Keys() ([]byte, []byte) { return u.keys.Prev, u.keys.Cur }

// Upload puts the file at path under the key of its first offset, then
// replaces the partition's checkpoint with next, on the condition that the
// checkpoint is still the one this uploader read or wrote last (If-Match;
// If-None-Match: * for the first): a former owner that still runs cannot
// move the checkpoint once the new owner has (ErrFenced).
//
// The first offset in the key is the bucket's next offset, not the file's
// first record, when there is one: a new owner starts from it, and the
// records there may be dropped as duplicates by one consumer and not by
// another (the dedup window is not shared), so only that offset names the
// file the same way on every host.
func (u *Uploader) Upload(ctx context.Context, file string, first, next int64, hour time.Time, keys archive.Keys) error {
	if u.next >= 0 {
		first = u.next
	}
	if next <= first {
		return fmt.Errorf("next offset %d not past the first %d", next, first)
	}
	name := path.Base(file)
	i := strings.LastIndex(name, ".jsonl")
	if i < 0 {
		return errors.New("not a .jsonl file")
	}
	ext := name[i:]
	key := u.s.cfg.ObjectKey(u.topic, u.partition, hour, first, ext)
	stateKey := u.s.cfg.StateKey(u.topic, u.partition)
	// Before the data: is the checkpoint still the one this owner knows?
	// A former owner stops here without touching the object. (Between this
	// look and the checkpoint's conditional write below, a former owner's
	// put could still replace the object; docs/guarantee.md.)
	current := ""
	info, err := u.s.c.StatObject(ctx, u.s.cfg.Bucket, stateKey, minio.StatObjectOptions{})
	switch {
	case err == nil:
		current = info.ETag
	case minio.ToErrorResponse(err).Code != "NoSuchKey":
		return u.s.explain("reading "+stateKey, err)
	}
	if current != u.etag {
		done, err := u.adopt(ctx, stateKey, key, next)
		if done || err != nil {
			return err
		}
		// This owner recorded this very file and its answer was lost; next
		// has moved since (records dropped as duplicates or dead letters):
		// the file is put again and recorded with next over that record.
	}
	if u.stateKey == "" || u.s.cfg.legacy(u.topic, u.partition, u.stateKey) {
		// The last upload, if any, was an earlier version's, which named
		// files without their hour: one that put this very file and died
		// before recording it left it under that key. Its records are not
		// recorded, so removing it loses nothing; this put holds them.
		old := u.s.cfg.legacyObjectKey(u.topic, u.partition, first, ext)
		if err := u.s.c.RemoveObject(ctx, u.s.cfg.Bucket, old, minio.RemoveObjectOptions{}); err != nil {
			return u.s.explain("removing "+old, err)
		}
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	// What a manifest lists of the object goes with it, so that one is
	// written from a listing and a HEAD per object.
	lines, size, sum, err := manifest.Digest(f, compressionOf(ext))
	if err != nil {
		return fmt.Errorf("reading the file: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	opts := minio.PutObjectOptions{ContentType: "application/x-ndjson", UserMetadata: map[string]string{
		metaLines: strconv.FormatInt(lines, 10), metaSHA256: sum, metaLastOffset: strconv.FormatInt(next-1, 10),
	}}
	if _, err := u.s.c.PutObject(ctx, u.s.cfg.Bucket, key, f, size, opts); err != nil {
		return u.s.explain("putting "+key, err)
	}

	hour = hour.UTC().Truncate(time.Hour)
	recent := append(slices.Clone(u.recent), hour)
	recent = recent[max(0, len(recent)-recentUploads):]
	st, err := json.Marshal(state{Topic: u.topic, Partition: u.partition, Next: next, Key: key, Bytes: size, Host: u.host, Owner: u.owner, Time: time.Now().UTC(),
		KeysPrev: string(keys.Prev), KeysCur: string(keys.Cur), Hour: hour, Uploads: u.uploads + 1, Recent: recent})
	if err != nil {
		return err
	}
	st = append(st, '\n')
	var cond minio.PutObjectOptions
	cond.ContentType = "application/json"
	if u.etag == "" {
		cond.SetMatchETagExcept("*")
	} else {
		cond.SetMatchETag(u.etag)
	}
	put, err := u.s.c.PutObject(ctx, u.s.cfg.Bucket, stateKey, bytes.NewReader(st), int64(len(st)), cond)
	if err != nil {
		if r := minio.ToErrorResponse(err); r.StatusCode != http.StatusPreconditionFailed && r.Code != "PreconditionFailed" {
			return u.s.explain("writing "+stateKey, err)
		}
		// Either another owner's write, or this one's own first attempt
		// landed and the client's retry of it was refused.
		done, err := u.adopt(ctx, stateKey, key, next)
		if !done && err == nil {
			err = fmt.Errorf("writing %s: this consumer's own checkpoint changed during the write", stateKey)
		}
		return err
	}
	u.next, u.etag, u.stateKey, u.keys = next, put.ETag, key, keys
	u.hour, u.uploads, u.recent = hour, u.uploads+1, recent
	return nil
}

// compressionOf returns the compression of a data file's extension.
func compressionOf(ext string) string {
	switch {
	case strings.HasSuffix(ext, ".gz"):
		return archive.CompressionGzip
	case strings.HasSuffix(ext, ".zst"):
		return archive.CompressionZstd
	}
	return ""
}

// adopt handles a checkpoint that is not the one this owner last knew.
// Another owner's (another consumer, this host's earlier owner of the
// partition, or an earlier version, which wrote no token) means this one
// is no longer the partition's owner: ErrFenced. This owner's own is a
// write whose answer was lost (the server down past the client's retries,
// or a retry refused after the first attempt landed): if it records this
// very upload (key and next), the upload is done (true); if it records
// this file's key with another next, u takes its ETag and the caller puts
// the file and records next again (false, nil).
func (u *Uploader) adopt(ctx context.Context, stateKey, key string, next int64) (bool, error) {
	st, etag, err := u.s.readState(ctx, u.topic, u.partition)
	if err != nil {
		return false, fmt.Errorf("%s partition %d: %w (and reading %s again to see whose: %v)", u.topic, u.partition, ErrFenced, stateKey, err)
	}
	if etag == "" || st.Owner != u.owner {
		return false, u.fenced(stateKey, st, etag)
	}
	if st.Key != key {
		return false, fmt.Errorf("writing %s: this consumer recorded %s there, next offset %d, where this upload puts %s", stateKey, st.Key, st.Next, key)
	}
	u.etag = etag
	if st.Next != next {
		return false, nil
	}
	u.next, u.stateKey = next, key
	u.keys = archive.Keys{Prev: []byte(st.KeysPrev), Cur: []byte(st.KeysCur)}
	u.hour, u.uploads, u.recent = st.Hour, st.Uploads, st.Recent
	return true, nil
}

// fenced returns ErrFenced with what the bucket's checkpoint (st, whose
// ETag is etag: "" if there is none) says: its next offset, its last file
// and the owner that wrote it.
func (u *Uploader) fenced(stateKey string, st state, etag string) error {
	if etag == "" {
		return fmt.Errorf("%s partition %d: %w: %s is gone from the bucket", u.topic, u.partition, ErrFenced, stateKey)
	}
	host := "host " + strconv.Quote(st.Host)
	switch {
	case st.Host == "":
		host = "an unnamed host"
	case st.Host == u.host:
		host = "this host (" + st.Host + ")"
	}
	by := "another owner on " + host
	if st.Owner == "" {
		by = "an earlier version on " + host
	}
	if !st.Time.IsZero() {
		by += " at " + st.Time.UTC().Format(time.RFC3339)
	}
	return fmt.Errorf("%s partition %d: %w: %s has next offset %d and last file %s, written by %s",
		u.topic, u.partition, ErrFenced, stateKey, st.Next, st.Key, by)
}
