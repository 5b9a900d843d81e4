// Package objstore puts the archive's closed files into an S3-compatible
// bucket (OUTPUT_URL=s3://bucket/prefix), each under a key derived from its
// topic, partition and first offset, and keeps each partition's upload
// checkpoint in the bucket, so that a consumer on another host can go on
// from the bucket's state alone. docs/guarantee.md says how this keeps
// every status exactly once.
package objstore

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/internal/envconf"
)

// S3 holds the consumer's object-storage variables beside OUTPUT_URL.
type S3 struct {
	S3Endpoint         string         `envconfig:"S3_ENDPOINT" desc:"with OUTPUT_URL=s3://...: http(s)://host[:port] of the S3-compatible server (empty: AWS S3 of S3_REGION)"`
	S3Region           string         `envconfig:"S3_REGION" default:"us-east-1" desc:"region of the bucket (signed into every request)"`
	S3PathStyle        envconf.Switch `envconfig:"S3_PATH_STYLE" default:"on" desc:"on: path-style addressing (endpoint/bucket/key), which self-hosted servers need; off: virtual-hosted (bucket.endpoint/key)"`
	AWSAccessKeyID     envconf.Secret `envconfig:"AWS_ACCESS_KEY_ID" desc:"access key of the bucket's user; or AWS_ACCESS_KEY_ID_FILE"`
	AWSSecretAccessKey envconf.Secret `envconfig:"AWS_SECRET_ACCESS_KEY" desc:"its secret key; or AWS_SECRET_ACCESS_KEY_FILE"`
}

// Secrets names the variables that may come from a _FILE, for envconf.Process.
func (s *S3) Secrets() map[string]*envconf.Secret {
	return map[string]*envconf.Secret{
		"AWS_ACCESS_KEY_ID":     &s.AWSAccessKeyID,
		"AWS_SECRET_ACCESS_KEY": &s.AWSSecretAccessKey,
	}
}

// Config is where and how to reach the bucket.
type Config struct {
	Endpoint  string // S3_ENDPOINT; "" is AWS
	Region    string
	PathStyle bool
	AccessKey envconf.Secret
	SecretKey envconf.Secret
	Bucket    string
	Prefix    string // without leading or trailing "/"; may be ""
	URL       string // OUTPUT_URL as given, for errors
	// Layout names the hour in the objects' keys as the local folders
	// name it (OUTPUT_LAYOUT; "" is archive.LayoutDated).
	Layout archive.Layout
	// Compression is OUTPUT_COMPRESSION ("" is archive.CompressionNone),
	// which gives the objects' keys their extension; the prefix records it
	// with Layout (SettingsKey).
	Compression string
}

// Config returns the settings with the bucket and prefix of an s3:// URL.
func (s S3) Config(target Target) Config {
	return Config{
		Endpoint:  s.S3Endpoint,
		Region:    s.S3Region,
		PathStyle: bool(s.S3PathStyle),
		AccessKey: s.AWSAccessKeyID,
		SecretKey: s.AWSSecretAccessKey,
		Bucket:    target.Bucket,
		Prefix:    target.Prefix,
		URL:       target.URL,
	}
}

// Validate checks what can be checked without the server; errors name the
// variable.
func (c Config) Validate() error {
	var errs []error
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("S3_ENDPOINT=%q does not parse: %v", c.Endpoint, err))
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil ||
			strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "":
			errs = append(errs, fmt.Errorf("S3_ENDPOINT=%q: want http(s)://host[:port], nothing more", c.Endpoint))
		}
	}
	if c.Region == "" {
		errs = append(errs, errors.New("S3_REGION is empty"))
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		errs = append(errs, fmt.Errorf("OUTPUT_URL=%s needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or their _FILE forms)", c.URL))
	}
	return errors.Join(errs...)
}

// Target is what OUTPUT_URL names: a local folder or a bucket and prefix.
type Target struct {
	URL    string
	Dir    string // file://: the folder
	Bucket string // s3://: the bucket
	Prefix string // s3://: the prefix, without leading or trailing "/"
}

// S3 reports whether the target is a bucket.
func (t Target) S3() bool { return t.Bucket != "" }

// ParseURL reads OUTPUT_URL: file:///absolute/path, or
// s3://bucket[/prefix]. Errors name the variable.
func ParseURL(s string) (Target, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Target{}, fmt.Errorf("OUTPUT_URL=%q does not parse: %v", s, err)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return Target{}, fmt.Errorf("OUTPUT_URL=%q: want file:///path or s3://bucket/prefix, with no user, query or fragment", s)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" || !path.IsAbs(u.Path) {
			return Target{}, fmt.Errorf("OUTPUT_URL=%q: a file URL names an absolute path on this host (file:///data)", s)
		}
		return Target{URL: s, Dir: path.Clean(u.Path)}, nil
	case "s3":
		if !validBucket(u.Host) {
			return Target{}, fmt.Errorf("OUTPUT_URL=%q: %q is not a bucket name (3 to 63 of a-z, 0-9, '.', '-')", s, u.Host)
		}
		prefix := strings.Trim(u.Path, "/")
		for _, seg := range strings.Split(prefix, "/") {
			if prefix != "" && (seg == "" || seg == "." || seg == "..") {
				return Target{}, fmt.Errorf("OUTPUT_URL=%q: the prefix has an empty, . or .. segment", s)
			}
		}
		return Target{URL: s, Bucket: u.Host, Prefix: prefix}, nil
	default:
		return Target{}, fmt.Errorf("OUTPUT_URL=%q: the scheme must be file or s3", s)
	}
}

// validBucket applies S3's bucket naming rules, loosely.
func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i, r := range b {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || (r == '.' || r == '-') && i > 0 && i < len(b)-1
		if !ok {
			return false
		}
	}
	return true
}

// key joins the prefix and rel.
func (c Config) key(rel string) string {
	if c.Prefix == "" {
		return rel
	}
	return c.Prefix + "/" + rel
}
