package objstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/consumer/internal/manifest"
)

// The Store is the manifests' bucket (manifest.Bucket): it reads the
// checkpoints, lists the hours and their objects, reads the facts an upload
// stored with each object, and writes the _manifest.json of an hour in the
// hour's folder.

// hourPrefix returns the folder of topic's objects of hour, with a
// trailing "/".
func (c Config) hourPrefix(topic string, hour time.Time) string {
	return c.key(filepath.ToSlash(c.Layout.HourDir(topic, hour))) + "/"
}

// ManifestKey returns the key of an hour's manifest.
func (c Config) ManifestKey(topic string, hour time.Time) string {
	return c.hourPrefix(topic, hour) + manifest.FileName
}

// Position reads a partition's checkpoint for the manifests. A checkpoint
// holds the dedup window's keys (about a megabyte at the default
// DEDUP_WINDOW), so it is read whole only when its ETag changed since the
// last read: a HEAD, usually.
func (s *Store) Position(ctx context.Context, topic string, partition int) (manifest.BucketPosition, error) {
	key := s.cfg.StateKey(topic, partition)
	info, err := s.c.StatObject(ctx, s.cfg.Bucket, key, minio.StatObjectOptions{})
	if minio.ToErrorResponse(err).Code == "NoSuchKey" {
		return manifest.BucketPosition{}, nil
	}
	if err != nil {
		return manifest.BucketPosition{}, s.explain("reading "+key, err)
	}
	s.mu.Lock()
	cached, ok := s.positions[key]
	s.mu.Unlock()
	if ok && cached.etag == info.ETag {
		return cached.pos, nil
	}
	pu, err := s.Partition(ctx, topic, partition)
	if err != nil {
		return manifest.BucketPosition{}, err
	}
	u := pu.(*Uploader)
	if u.next < 0 {
		return manifest.BucketPosition{}, nil
	}
	pos := manifest.BucketPosition{Known: true, Next: u.next, Hour: u.hour, Uploads: u.uploads, Recent: u.recent}
	s.mu.Lock()
	if s.positions == nil {
		s.positions = map[string]cachedPosition{}
	}
	s.positions[key] = cachedPosition{etag: u.etag, pos: pos}
	s.mu.Unlock()
	return pos, nil
}

// cachedPosition is a checkpoint as Position last read it.
type cachedPosition struct {
	etag string
	pos  manifest.BucketPosition
}

// Hours lists the hours of topic that hold objects, oldest first: the
// hour folders, one listing of the topic's dates and one of each date's
// hours. Folders of another form (an earlier version's p<partition>/) are
// left out.
func (s *Store) Hours(ctx context.Context, topic string) ([]time.Time, error) {
	top := s.cfg.key(topic) + "/"
	dates, err := s.folders(ctx, top)
	if err != nil {
		return nil, err
	}
	var hours []time.Time
	for _, d := range dates {
		hrs, err := s.folders(ctx, top+d+"/")
		if err != nil {
			return nil, err
		}
		for _, h := range hrs {
			if t, ok := s.cfg.Layout.ParseHour(d, h); ok {
				hours = append(hours, t)
			}
		}
	}
	slices.SortFunc(hours, time.Time.Compare)
	return hours, nil
}

// folders returns the names of the "folders" right under prefix.
func (s *Store) folders(ctx context.Context, prefix string) ([]string, error) {
	var names []string
	for o := range s.c.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix}) {
		if o.Err != nil {
			return nil, s.explain("listing "+prefix, o.Err)
		}
		if name, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, prefix), "/"); ok && name != "" && !strings.Contains(name, "/") {
			names = append(names, name)
		}
	}
	return names, nil
}

// Objects lists the data objects of topic's hour, by partition and first
// offset.
func (s *Store) Objects(ctx context.Context, topic string, hour time.Time) ([]manifest.Object, error) {
	prefix := s.cfg.hourPrefix(topic, hour)
	var objs []manifest.Object
	for o := range s.c.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix}) {
		if o.Err != nil {
			return nil, s.explain("listing "+prefix, o.Err)
		}
		name := strings.TrimPrefix(o.Key, prefix)
		df, ok := archive.ParseDataFile(topic, name)
		if !ok {
			continue // the manifest, a folder, anything a user put there
		}
		objs = append(objs, manifest.Object{Name: name, Partition: df.Partition, FirstOffset: df.FirstOffset, Bytes: o.Size})
	}
	slices.SortFunc(objs, func(a, b manifest.Object) int {
		if a.Partition != b.Partition {
			return a.Partition - b.Partition
		}
		return int(min(max(a.FirstOffset-b.FirstOffset, -1), 1))
	})
	return objs, nil
}

// Facts reads what the upload of an object of topic's hour stored with it.
func (s *Store) Facts(ctx context.Context, topic string, hour time.Time, name string) (manifest.Facts, error) {
	key := s.cfg.hourPrefix(topic, hour) + name
	info, err := s.c.StatObject(ctx, s.cfg.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return manifest.Facts{}, s.explain("reading "+key, err)
	}
	meta := func(name string) string {
		for k, v := range info.UserMetadata {
			if strings.EqualFold(k, name) {
				return v
			}
		}
		return ""
	}
	lines, err1 := strconv.ParseInt(meta(metaLines), 10, 64)
	last, err2 := strconv.ParseInt(meta(metaLastOffset), 10, 64)
	sum := meta(metaSHA256)
	if err1 != nil || err2 != nil || len(sum) != 64 {
		return manifest.Facts{}, fmt.Errorf("%s has no facts of its upload (x-amz-meta-%s, -%s, -%s)", key,
			strings.ToLower(metaLines), strings.ToLower(metaLastOffset), strings.ToLower(metaSHA256))
	}
	return manifest.Facts{LastOffset: last, Lines: lines, SHA256: sum}, nil
}

// Manifest reads the manifest of topic's hour and its ETag; nil when there
// is none.
func (s *Store) Manifest(ctx context.Context, topic string, hour time.Time) ([]byte, string, error) {
	key := s.cfg.ManifestKey(topic, hour)
	obj, err := s.c.GetObject(ctx, s.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, "", s.explain("reading "+key, err)
	}
	defer obj.Close()
	info, err := obj.Stat()
	if minio.ToErrorResponse(err).Code == "NoSuchKey" {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", s.explain("reading "+key, err)
	}
	data, err := io.ReadAll(obj)
	if err != nil {
		return nil, "", s.explain("reading "+key, err)
	}
	return data, info.ETag, nil
}

// PutManifest writes the manifest of topic's hour if the one there is
// still the one of ETag etag (If-Match), or there is none for ""
// (If-None-Match: *), and reports whether it did.
func (s *Store) PutManifest(ctx context.Context, topic string, hour time.Time, data []byte, etag string) (string, bool, error) {
	key := s.cfg.ManifestKey(topic, hour)
	opts := minio.PutObjectOptions{ContentType: "application/json"}
	if etag == "" {
		opts.SetMatchETagExcept("*")
	} else {
		opts.SetMatchETag(etag)
	}
	_, err := s.c.PutObject(ctx, s.cfg.Bucket, key, bytes.NewReader(data), int64(len(data)), opts)
	if r := minio.ToErrorResponse(err); err != nil && (r.StatusCode == http.StatusPreconditionFailed || r.Code == "PreconditionFailed") {
		return key, false, nil
	}
	if err != nil {
		return key, false, s.explain("writing "+key, err)
	}
	return key, true, nil
}
