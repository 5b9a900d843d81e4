package objstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
)

// settings is what every consumer that writes under a prefix must share,
// recorded in <prefix>/_state/settings.json by the first to start there:
// the hour folders (OUTPUT_LAYOUT) and the extension (OUTPUT_COMPRESSION)
// are part of an object's key, and a file rebuilt on a host with other
// settings would sit beside the first one instead of replacing it.
type settings struct {
	Layout      string    `json:"output_layout"`
	Compression string    `json:"output_compression"`
	Host        string    `json:"host,omitempty"`
	Time        time.Time `json:"time,omitzero"`
}

// SettingsKey returns the key of the prefix's settings.
func (c Config) SettingsKey() string { return c.key("_state/settings.json") }

// settings returns this consumer's settings; "" is the default.
func (c Config) settings() settings {
	s := settings{Layout: string(c.Layout), Compression: c.Compression}
	if s.Layout == "" {
		s.Layout = string(archive.LayoutDated)
	}
	if s.Compression == "" {
		s.Compression = archive.CompressionNone
	}
	return s
}

// checkSettings records this consumer's settings under the prefix when
// none are (If-None-Match: *, so that of consumers starting together on
// an empty prefix one writes them and the others read them), and refuses
// settings that differ from the prefix's, naming the variables. A prefix
// written before the settings were recorded takes this consumer's.
func (s *Store) checkSettings(ctx context.Context) error {
	mine := s.cfg.settings()
	key := s.cfg.SettingsKey()
	for range 2 {
		got, found, err := s.readSettings(ctx)
		if err != nil {
			return err
		}
		if found {
			return s.compareSettings(mine, got)
		}
		rec := mine
		rec.Host, _ = os.Hostname()
		rec.Time = time.Now().UTC().Truncate(time.Second)
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		b = append(b, '\n')
		opts := minio.PutObjectOptions{ContentType: "application/json"}
		opts.SetMatchETagExcept("*")
		_, err = s.c.PutObject(ctx, s.cfg.Bucket, key, bytes.NewReader(b), int64(len(b)), opts)
		if err == nil {
			return nil
		}
		if r := minio.ToErrorResponse(err); r.StatusCode != http.StatusPreconditionFailed && r.Code != "PreconditionFailed" {
			return s.explain("writing "+key, err)
		}
		// Another consumer recorded them since: read theirs.
	}
	return fmt.Errorf("OUTPUT_URL=%s: writing %s: refused as existing, yet not found when read", s.cfg.URL, key)
}

// readSettings reads the prefix's settings; false when there are none.
func (s *Store) readSettings(ctx context.Context) (settings, bool, error) {
	var st settings
	etag, err := s.getJSON(ctx, s.cfg.SettingsKey(), &st)
	return st, etag != "", err
}

// compareSettings returns an error naming each variable whose value
// differs from the prefix's, or nil.
func (s *Store) compareSettings(mine, got settings) error {
	var have, want []string
	for _, v := range []struct{ name, mine, got string }{
		{"OUTPUT_LAYOUT", mine.Layout, got.Layout},
		{"OUTPUT_COMPRESSION", mine.Compression, got.Compression},
	} {
		if v.mine != v.got {
			have = append(have, v.name+"="+v.mine)
			want = append(want, v.name+"="+v.got)
		}
	}
	if len(have) == 0 {
		return nil
	}
	by := "recorded in " + s.cfg.SettingsKey()
	if got.Host != "" {
		by += " by host " + got.Host
	}
	if !got.Time.IsZero() {
		by += " at " + got.Time.UTC().Format(time.RFC3339)
	}
	return fmt.Errorf("%s, but OUTPUT_URL=%s is written with %s (%s): set %s, or write to another OUTPUT_URL prefix",
		strings.Join(have, " and "), s.cfg.URL, strings.Join(want, " and "), by, strings.Join(want, " "))
}
