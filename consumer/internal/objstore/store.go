package objstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Store is the bucket under its prefix.
type Store struct {
	cfg Config
	c   *minio.Client

	mu        sync.Mutex                // guards positions
	positions map[string]cachedPosition // by checkpoint key (bucket.go)
}

// New makes the client; it does not talk to the server (Check does).
func New(cfg Config) (*Store, error) {
	return newStore(cfg, nil)
}

// newStore is New with the client's transport; nil is minio's default.
// The tests pass one that loses answers.
func newStore(cfg Config, transport http.RoundTripper) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	host, secure := "s3.amazonaws.com", true
	if cfg.Endpoint != "" {
		u, _ := url.Parse(cfg.Endpoint) // Validate parsed it
		host, secure = u.Host, u.Scheme == "https"
	}
	lookup := minio.BucketLookupDNS
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	c, err := minio.New(host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey.Reveal(), cfg.SecretKey.Reveal(), ""),
		Secure:       secure,
		Region:       cfg.Region,
		BucketLookup: lookup,
		MaxRetries:   3,
		Transport:    transport,
	})
	if err != nil {
		return nil, fmt.Errorf("S3_ENDPOINT=%s: %w", cfg.Endpoint, err)
	}
	return &Store{cfg: cfg, c: c}, nil
}

// Check puts and deletes a probe object under the prefix, so that wrong credentials, a missing bucket or an unreachable
// server fail at start, with an error naming the setting to fix; then it
// records the prefix's OUTPUT_LAYOUT and OUTPUT_COMPRESSION, or refuses
// this consumer's if they differ from those recorded (checkSettings).
func (s *Store) Check(ctx context.Context) error {
	// No HeadBucket first: its answer has no body, so a server may say 404
	// for an unknown key where a PUT says InvalidAccessKeyId.
	var b [8]byte
	_, _ = rand.Read(b[:])
	host, _ := os.Hostname()
	probe := s.cfg.key("_probe/" + host + "-" + hex.EncodeToString(b[:]))
	if _, err := s.c.PutObject(ctx, s.cfg.Bucket, probe, bytes.NewReader(nil), 0, minio.PutObjectOptions{}); err != nil {
		return s.explain("writing a probe object "+probe, err)
	}
	if err := s.c.RemoveObject(ctx, s.cfg.Bucket, probe, minio.RemoveObjectOptions{}); err != nil {
		return s.explain("removing the probe object "+probe, err)
	}
	return s.checkSettings(ctx)
}

func (s *Store) endpoint() string {
	if s.cfg.Endpoint == "" {
		return "AWS S3 (S3_ENDPOINT empty)"
	}
	return s.cfg.Endpoint
}

// credentialCode reports whether an S3 error code means the server does not
// take the key pair (XAdminUserNotFound: versitygw's unknown access key).
func credentialCode(code string) bool {
	switch code {
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken",
		"AuthorizationHeaderMalformed", "InvalidSecurity", "XAdminUserNotFound":
		return true
	}
	return false
}

// explain turns a client error into one that names the setting at fault:
// the credentials, the bucket (OUTPUT_URL) or the server (S3_ENDPOINT).
// It never includes a credential.
func (s *Store) explain(doing string, err error) error {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) || minio.ToErrorResponse(err).Code != "" {
		if resp.Code == "" {
			resp = minio.ToErrorResponse(err)
		}
		switch {
		case resp.StatusCode == http.StatusForbidden || credentialCode(resp.Code):
			return fmt.Errorf("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: %s on %s was refused (%s: %s)",
				doing, s.endpoint(), resp.Code, resp.Message)
		case resp.Code == "NoSuchBucket":
			return fmt.Errorf("OUTPUT_URL=%s: bucket %s does not exist on %s", s.cfg.URL, s.cfg.Bucket, s.endpoint())
		}
		return fmt.Errorf("OUTPUT_URL=%s: %s on %s: %s: %s", s.cfg.URL, doing, s.endpoint(), resp.Code, resp.Message)
	}
	var (
		netErr net.Error
		urlErr *url.Error
	)
	if errors.As(err, &netErr) || errors.As(err, &urlErr) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("S3_ENDPOINT=%s: %s: the server did not answer: %w", s.endpoint(), doing, err)
	}
	return fmt.Errorf("OUTPUT_URL=%s: %s on %s: %w", s.cfg.URL, doing, s.endpoint(), err)
}
