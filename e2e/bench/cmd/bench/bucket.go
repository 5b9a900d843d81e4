package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// benchBucket is the bucket bench manifest has the consumer archive to,
// and reads the manifests back from.
type benchBucket struct {
	url, endpoint, accessKey, secretKey string
	bucket, prefix                      string
	c                                   *minio.Client
}

// newBenchBucket returns the bucket of outputURL (s3://bucket/prefix) on
// the S3 server at endpoint, path-style, as scripts/s3-local.sh prints
// them.
func newBenchBucket(outputURL, endpoint, accessKey, secretKey string) (*benchBucket, error) {
	u, err := url.Parse(outputURL)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("-output-url %q: want s3://bucket/prefix", outputURL)
	}
	if endpoint == "" || accessKey == "" || secretKey == "" {
		return nil, errors.New("-output-url needs S3_ENDPOINT, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment (scripts/s3-local.sh start prints them)")
	}
	e, err := url.Parse(endpoint)
	if err != nil || e.Host == "" {
		return nil, fmt.Errorf("S3_ENDPOINT=%q: want http(s)://host:port", endpoint)
	}
	c, err := minio.New(e.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(accessKey, secretKey, ""),
		Secure:       e.Scheme == "https",
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, err
	}
	return &benchBucket{url: outputURL, endpoint: endpoint, accessKey: accessKey, secretKey: secretKey,
		bucket: u.Host, prefix: strings.Trim(u.Path, "/"), c: c}, nil
}

// consumerEnv is what the consumer needs to archive to the bucket.
func (b *benchBucket) consumerEnv() []string {
	return []string{"OUTPUT_URL=" + b.url, "S3_ENDPOINT=" + b.endpoint,
		"AWS_ACCESS_KEY_ID=" + b.accessKey, "AWS_SECRET_ACCESS_KEY=" + b.secretKey}
}

// manifestKeys lists the keys of topic's hour manifests.
func (b *benchBucket) manifestKeys(ctx context.Context, topic string) ([]string, error) {
	prefix := topic + "/"
	if b.prefix != "" {
		prefix = b.prefix + "/" + prefix
	}
	var keys []string
	for o := range b.c.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, o.Err
		}
		if path.Base(o.Key) == "_manifest.json" {
			keys = append(keys, o.Key)
		}
	}
	return keys, nil
}

// manifests counts topic's hour manifests in the bucket.
func (b *benchBucket) manifests(ctx context.Context, topic string) (int, error) {
	keys, err := b.manifestKeys(ctx, topic)
	return len(keys), err
}

// manifestLines sums the lines topic's hour manifests in the bucket count.
func (b *benchBucket) manifestLines(ctx context.Context, topic string) (int64, error) {
	keys, err := b.manifestKeys(ctx, topic)
	if err != nil {
		return 0, err
	}
	var lines int64
	for _, k := range keys {
		r, err := b.c.GetObject(ctx, b.bucket, k, minio.GetObjectOptions{})
		if err != nil {
			return 0, fmt.Errorf("getting %s: %w", k, err)
		}
		var m struct {
			Lines int64 `json:"lines"`
		}
		err = json.NewDecoder(r).Decode(&m)
		r.Close()
		if err != nil {
			return 0, fmt.Errorf("reading %s: %w", k, err)
		}
		lines += m.Lines
	}
	return lines, nil
}
