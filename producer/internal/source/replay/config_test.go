package replay

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // the error's lines; none means valid
	}{
		{"a path", Config{Path: "/replay", ProgressInterval: 10 * time.Second, PageCache: PageCacheDrop}, nil},
		{"original pace, no progress", Config{Path: "/replay/*.jsonl", Speed: 1, PageCache: PageCacheKeep}, nil},
		{"no path", Config{PageCache: PageCacheDrop}, []string{"REPLAY_PATH is required for SOURCE=replay: a file, directory or glob"}},
		{"negative speed", Config{Path: "/replay", Speed: -1, PageCache: PageCacheDrop}, []string{"REPLAY_SPEED=-1: accepts 0 (as fast as possible) or more"}},
		{"negative progress interval", Config{Path: "/replay", ProgressInterval: -time.Second, PageCache: PageCacheDrop}, []string{"REPLAY_PROGRESS_INTERVAL=-1s: must be 0 (never) or positive"}},
		{"page cache neither drop nor keep", Config{Path: "/replay", PageCache: "off"}, []string{`REPLAY_PAGE_CACHE="off": accepts drop or keep`}},
		{"all four", Config{Speed: -2.5, ProgressInterval: -time.Minute}, []string{
			"REPLAY_PATH is required for SOURCE=replay: a file, directory or glob",
			"REPLAY_SPEED=-2.5: accepts 0 (as fast as possible) or more",
			"REPLAY_PROGRESS_INTERVAL=-1m0s: must be 0 (never) or positive",
			`REPLAY_PAGE_CACHE="": accepts drop or keep`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q; want %q", got, tt.want)
			}
		})
	}
}
