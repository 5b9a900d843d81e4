package replay

import (
	"errors"
	"fmt"
	"math"
)

// Validate checks the REPLAY_* variables; each error names the one at
// fault.
func (c Config) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("REPLAY_PATH is required for SOURCE=replay: a file, directory or glob"))
	}
	if !(c.Speed >= 0) || math.IsInf(c.Speed, 1) { // NaN too
		errs = append(errs, fmt.Errorf("REPLAY_SPEED=%g: accepts 0 (as fast as possible) or more", c.Speed))
	}
	if c.ProgressInterval < 0 {
		errs = append(errs, fmt.Errorf("REPLAY_PROGRESS_INTERVAL=%s: must be 0 (never) or positive", c.ProgressInterval))
	}
	if c.PageCache != PageCacheDrop && c.PageCache != PageCacheKeep {
		errs = append(errs, fmt.Errorf("REPLAY_PAGE_CACHE=%q: accepts drop or keep", c.PageCache))
	}
	return errors.Join(errs...)
}
