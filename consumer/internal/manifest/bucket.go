package manifest

// Manifests in the bucket (OUTPUT_URL=s3://...)
//
// The staging folder holds only the files being written, so with a bucket
// the finalizer reads the bucket alone: each partition's checkpoint there
// (the offset after its last upload, that upload's hour, and the hours of
// its last uploads), Kafka's offsets, and the objects of an hour, whose
// facts (lines, last offset, SHA-256) their upload stored as user metadata:
// a manifest is built from a listing and a HEAD per object, never by
// reading another host's staging folder or downloading an object.
//
// An hour is closed when every partition has moved past it: its last
// upload is of a later hour, or it holds every message Kafka has for it
// and the hour ended more than Grace ago. Only objects a checkpoint
// records (first offset below the partition's next) are listed; an object
// past it is an upload in flight (or one a crash left, which the
// partition's next upload replaces), and its hour waits.
//
// Several consumers write the same manifest, from the same objects: the
// same bytes. Each write is conditional on the manifest read before the
// objects were listed (If-Match, or If-None-Match: * when there was none),
// so a writer whose listing is older than a manifest written since does
// not replace it; it looks again at its next pass.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Object is a data object of an hour as a listing gives it.
type Object struct {
	Name        string // base name, in the hour's folder
	Partition   int
	FirstOffset int64
	Bytes       int64
}

// Facts are what an upload stored with its object.
type Facts struct {
	LastOffset int64
	Lines      int64
	SHA256     string
}

// BucketPosition is a partition's checkpoint in the bucket.
type BucketPosition struct {
	Known bool      // false: nothing uploaded yet
	Next  int64     // the offset after the last upload
	Hour  time.Time // the last upload's hour; zero when the checkpoint does not say (an earlier version's)
	// Uploads counts the uploads the checkpoint recorded, and Recent holds
	// the hours of the last len(Recent) of them, oldest first.
	Uploads int64
	Recent  []time.Time
}

// Bucket is the object storage the manifests go to (objstore.Store).
type Bucket interface {
	// Position reads a partition's checkpoint.
	Position(ctx context.Context, topic string, partition int) (BucketPosition, error)
	// Hours lists the hours of topic that hold objects.
	Hours(ctx context.Context, topic string) ([]time.Time, error)
	// Objects lists the data objects of an hour, by partition and first
	// offset.
	Objects(ctx context.Context, topic string, hour time.Time) ([]Object, error)
	// Facts reads what the upload of an object stored with it.
	Facts(ctx context.Context, topic string, hour time.Time, name string) (Facts, error)
	// Manifest reads the hour's manifest and its ETag; nil when there is none.
	Manifest(ctx context.Context, topic string, hour time.Time) ([]byte, string, error)
	// PutManifest writes the hour's manifest if the one there is still
	// the one of ETag etag (none, for ""), and reports whether it did. It
	// returns the manifest's key.
	PutManifest(ctx context.Context, topic string, hour time.Time, data []byte, etag string) (string, bool, error)
}

// BucketFinalizer writes the manifests of the closed hours in a bucket.
type BucketFinalizer struct {
	cfg    Config
	bucket Bucket
	kafka  Offsets
	log    *slog.Logger
	// topics holds what the passes learnt of each topic. Only the
	// goroutine calling Pass touches it.
	topics map[string]*bucketTopic
}

// bucketTopic is what the finalizer knows of a topic's hours.
type bucketTopic struct {
	scanned bool               // every hour was listed once
	pending map[time.Time]bool // hours whose manifest is not known to be current
	uploads map[int]int64      // per partition, the checkpoint's Uploads at the last pass
}

// NewBucket returns a finalizer of the manifests in bucket; Run runs it.
// cfg.Dir is not used. A nil log discards.
func NewBucket(cfg Config, bucket Bucket, kafka Offsets, log *slog.Logger) (*BucketFinalizer, error) {
	cfg, log, err := cfg.withDefaults(log)
	if err != nil {
		return nil, err
	}
	return &BucketFinalizer{cfg: cfg, bucket: bucket, kafka: kafka, log: log.With("component", "manifest"),
		topics: map[string]*bucketTopic{}}, nil
}

// Run makes a pass every Interval until ctx ends. A pass that fails is
// logged and made again at the next.
func (f *BucketFinalizer) Run(ctx context.Context) {
	runPasses(ctx, f.cfg.Interval, f.log, "writing manifests in the bucket; trying again later", f.Pass)
}

// Pass writes the manifest of every closed hour of every topic whose
// manifest is missing or lists other objects than the hour holds. It
// returns the keys written.
func (f *BucketFinalizer) Pass(ctx context.Context) ([]string, error) {
	return passTopics(ctx, f.cfg.Topics, f.passTopic)
}

// bucketPartition is what a pass knows of one partition.
type bucketPartition struct {
	Pos        BucketPosition
	Start, End int64 // offsets of the oldest message and of the next one in Kafka
}

func (p bucketPartition) caughtUp() bool {
	return p.End <= p.Start || p.Pos.Known && p.Pos.Next >= p.End
}

// closedInBucket reports whether every partition has moved past hour: its
// last upload is of a later hour, or it holds every message Kafka has for
// it and the hour ended more than grace ago. A partition's next upload
// goes in the hour of the record at its next offset, usually its last
// upload's or a later one; a late record (timed before its last upload's
// hour) opens an earlier hour again, as a late record does in a folder.
func closedInBucket(hour time.Time, parts []bucketPartition, now time.Time, grace time.Duration) bool {
	end := hour.Add(time.Hour)
	for _, p := range parts {
		if p.Pos.Known && !p.Pos.Hour.IsZero() && !p.Pos.Hour.Before(end) {
			continue
		}
		if !p.caughtUp() || now.Before(end.Add(grace)) {
			return false
		}
	}
	return true
}

// positions reads Kafka's offsets and the bucket checkpoints of topic's
// partitions.
func (f *BucketFinalizer) positions(ctx context.Context, topic string) ([]bucketPartition, error) {
	start, end, err := f.kafka.Offsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	parts := make([]bucketPartition, len(start))
	for p := range parts {
		pos, err := f.bucket.Position(ctx, topic, p)
		if err != nil {
			return nil, fmt.Errorf("reading the bucket checkpoint of partition %d: %w", p, err)
		}
		parts[p] = bucketPartition{Pos: pos, Start: start[p], End: end[p]}
	}
	return parts, nil
}

// touched returns the hours of the uploads recorded between two readings
// of a partition's checkpoint, and false when the checkpoint does not hold
// them all (too many uploads in between, or it was replaced).
func touched(before, after BucketPosition) ([]time.Time, bool) {
	n := after.Uploads - before.Uploads
	if n < 0 || n > int64(len(after.Recent)) {
		return nil, false
	}
	return after.Recent[len(after.Recent)-int(n):], true
}

func (f *BucketFinalizer) passTopic(ctx context.Context, topic string) ([]string, error) {
	st := f.topics[topic]
	if st == nil {
		st = &bucketTopic{pending: map[time.Time]bool{}, uploads: map[int]int64{}}
		f.topics[topic] = st
	}
	parts, err := f.positions(ctx, topic)
	if err != nil {
		return nil, err
	}
	// The hours that got an upload since the last pass, from the
	// checkpoints; every hour when they do not say.
	full := !st.scanned
	for p, pt := range parts {
		if !pt.Pos.Known {
			continue
		}
		seen, ok := st.uploads[p]
		hours, all := touched(BucketPosition{Uploads: seen}, pt.Pos)
		if !ok || !all {
			full = true
		}
		for _, h := range hours {
			st.pending[h.UTC().Truncate(time.Hour)] = true
		}
	}
	if full {
		hours, err := f.bucket.Hours(ctx, topic)
		if err != nil {
			return nil, fmt.Errorf("listing hours: %w", err)
		}
		for _, h := range hours {
			st.pending[h.UTC().Truncate(time.Hour)] = true // a map key: one form of each hour
		}
		st.scanned = true
	}
	for p, pt := range parts {
		if pt.Pos.Known {
			st.uploads[p] = pt.Pos.Uploads
		}
	}

	todo := make([]time.Time, 0, len(st.pending))
	for h := range st.pending {
		todo = append(todo, h)
	}
	slices.SortFunc(todo, time.Time.Compare)
	now := f.cfg.Now()
	var (
		written []string
		errs    []error
	)
	for _, h := range todo {
		if !closedInBucket(h, parts, now, f.cfg.Grace) {
			continue
		}
		key, done, err := f.finalize(ctx, topic, h, parts)
		if err != nil {
			// One hour that cannot be written (an object with no facts,
			// put there by hand) holds back no other.
			errs = append(errs, fmt.Errorf("hour %s: %w", h.Format("2006-01-02T15"), err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if done {
			delete(st.pending, h)
		}
		if key != "" {
			written = append(written, key)
		}
	}
	return written, errors.Join(errs...)
}

// finalize writes the manifest of a closed hour unless the one there lists
// its objects with their sizes. It reports whether the hour's manifest is
// current (or the hour holds no object), and the key it wrote.
func (f *BucketFinalizer) finalize(ctx context.Context, topic string, hour time.Time, parts []bucketPartition) (string, bool, error) {
	// The manifest before the objects: a manifest written after this read
	// fails the conditional write below, whatever listing it came from.
	old, etag, err := f.bucket.Manifest(ctx, topic, hour)
	if err != nil {
		return "", false, err
	}
	objs, err := f.bucket.Objects(ctx, topic, hour)
	if err != nil {
		return "", false, err
	}
	if len(objs) == 0 {
		return "", true, nil // emptied by a retention rule: no manifest, nothing to look at
	}
	for _, o := range objs {
		if o.Partition >= len(parts) || !parts[o.Partition].Pos.Known || o.FirstOffset >= parts[o.Partition].Pos.Next {
			return "", false, nil // not recorded yet: an upload in flight
		}
	}
	if old != nil {
		var m Manifest
		if json.Unmarshal(old, &m) == nil && m.Version == Version && listsObjects(m, objs) {
			return "", true, nil
		}
	}
	m := Manifest{Version: Version, Topic: topic, Hour: hour.UTC(), Files: make([]File, 0, len(objs))}
	for _, o := range objs {
		fa, err := f.bucket.Facts(ctx, topic, hour, o.Name)
		if err != nil {
			return "", false, fmt.Errorf("reading the facts of %s: %w", o.Name, err)
		}
		m.Files = append(m.Files, File{Name: o.Name, Partition: o.Partition, FirstOffset: o.FirstOffset,
			LastOffset: fa.LastOffset, Lines: fa.Lines, Bytes: o.Bytes, SHA256: fa.SHA256})
		m.Lines += fa.Lines
		m.Bytes += o.Bytes
	}
	// Still closed, and no upload recorded since the first read may have
	// gone into the hour after the listing.
	again, err := f.positions(ctx, topic)
	if err != nil {
		return "", false, err
	}
	if !closedInBucket(hour, again, f.cfg.Now(), f.cfg.Grace) {
		return "", false, nil
	}
	for p := range min(len(parts), len(again)) {
		hours, all := touched(parts[p].Pos, again[p].Pos)
		if !all || slices.ContainsFunc(hours, hour.Equal) {
			return "", false, nil
		}
	}
	data, err := encode(m)
	if err != nil {
		return "", false, err
	}
	if bytes.Equal(old, data) {
		return "", true, nil
	}
	key, ok, err := f.bucket.PutManifest(ctx, topic, hour, data, etag)
	if err != nil || !ok {
		return "", false, err // !ok: another consumer wrote it since; the next pass looks again
	}
	f.log.Info("wrote manifest", "topic", topic, "hour", hour.UTC().Format(time.RFC3339), "key", key,
		"count", len(m.Files), "lines", m.Lines, "bytes", m.Bytes)
	if f.cfg.OnWrite != nil {
		f.cfg.OnWrite(key, m)
	}
	return key, true, nil
}

// listsObjects reports whether m lists exactly objs, with their sizes.
func listsObjects(m Manifest, objs []Object) bool {
	if len(m.Files) != len(objs) {
		return false
	}
	for i, o := range objs {
		if mf := m.Files[i]; mf.Name != o.Name || mf.Bytes != o.Bytes || mf.Partition != o.Partition {
			return false
		}
	}
	return true
}
