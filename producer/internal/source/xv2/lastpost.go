package xv2

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/durable"
)

// LastPostFile, in STATE_DIR, holds the time of the last post the source
// read, while X_BACKFILL_MINUTES > 0: the first connection after a restart
// asks for the minutes since then, as a reconnect does.
const LastPostFile = "xv2-last-post.json"

// lastPostEvery is how often, at most, the file is written while posts
// arrive; Run writes it once more when it returns.
const lastPostEvery = 5 * time.Second

// restartMargin is added to the gap a restart asks backfill for: posts read
// in the moments before a crash may not have reached Kafka.
const restartMargin = 30 * time.Second

type lastPost struct {
	Time time.Time `json:"time"`
}

// loadLastPost returns the time in dir's LastPostFile; zero when there is
// none, and an error when it cannot be read or holds no time.
func loadLastPost(dir string) (time.Time, error) {
	path := filepath.Join(dir, LastPostFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	var lp lastPost
	if err := json.Unmarshal(b, &lp); err != nil || lp.Time.IsZero() {
		return time.Time{}, errors.New(path + ": not a last-post time; remove it")
	}
	return lp.Time, nil
}

// saveLastPost writes t to dir's LastPostFile, atomically, creating dir.
func saveLastPost(dir string, t time.Time) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, _ := json.Marshal(lastPost{Time: t.UTC()})
	_, err := durable.WriteFile(filepath.Join(dir, LastPostFile), append(b, '\n'), durable.Replace{Mode: 0o644})
	return err
}
