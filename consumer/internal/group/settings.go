package group

import (
	"errors"
	"fmt"
	"time"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
	"github.com/tweetpipe/tweetpipe/internal/contract"
)

// Settings are the consumer's variables for the group's membership and
// fetches, which its config embeds: KAFKA_TOPICS to KAFKA_FETCH_MAX_WAIT.
type Settings struct {
	Topics           []string      `envconfig:"KAFKA_TOPICS" default:"tweets,tweets.control" desc:"comma list of topics to archive; the control topic holds the deletions researchers must honour (a topic that does not exist yet is waited for)"`
	GroupID          string        `envconfig:"KAFKA_GROUP_ID" default:"tweetpipe-archiver" desc:"consumer group; instances with the same id share the partitions"`
	SessionTimeout   time.Duration `envconfig:"KAFKA_SESSION_TIMEOUT" default:"10s" desc:"a member that stops heartbeating (crash, SIGKILL) keeps its partitions this long (6s-30m)"`
	RebalanceTimeout time.Duration `envconfig:"KAFKA_REBALANCE_TIMEOUT" default:"30s" desc:"how long members get to finish their batch and rejoin during a rebalance"`
	FetchMaxBytes    int           `envconfig:"KAFKA_FETCH_MAX_BYTES" default:"2097152" desc:"most bytes one fetch request returns per partition"`
	FetchMaxWait     time.Duration `envconfig:"KAFKA_FETCH_MAX_WAIT" default:"500ms" desc:"how long the broker holds a fetch waiting for data"`
}

// Validate checks the settings; each error names the variable.
func (s Settings) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(s.Topics) == 0 {
		bad("KAFKA_TOPICS is empty: name at least one topic")
	}
	for _, t := range s.Topics {
		if err := contract.CheckTopic(t); err != nil {
			bad("KAFKA_TOPICS: %v", err)
		} else if err := archive.CheckTopicFits(t); err != nil {
			bad("KAFKA_TOPICS: %v", err)
		}
	}
	if s.GroupID == "" {
		bad("KAFKA_GROUP_ID is empty")
	}
	// The broker's defaults bound the session timeout: Apache Kafka's
	// group.min.session.timeout.ms (6000) and group.max.session.timeout.ms
	// (1800000, GroupCoordinatorConfig). A broker set tighter refuses the
	// join (INVALID_SESSION_TIMEOUT).
	if s.SessionTimeout < 6*time.Second || s.SessionTimeout > 30*time.Minute {
		bad("KAFKA_SESSION_TIMEOUT=%s: accepts 6s to 30m (the broker's default group.min/max.session.timeout.ms, 6000 and 1800000 ms)", s.SessionTimeout)
	}
	if s.RebalanceTimeout < time.Second {
		bad("KAFKA_REBALANCE_TIMEOUT=%s: accepts 1s or more", s.RebalanceTimeout)
	}
	if s.FetchMaxBytes < 1024 {
		bad("KAFKA_FETCH_MAX_BYTES=%d: accepts 1024 or more", s.FetchMaxBytes)
	}
	if s.FetchMaxWait <= 0 {
		bad("KAFKA_FETCH_MAX_WAIT=%s: must be positive", s.FetchMaxWait)
	}
	return errors.Join(errs...)
}

// Watch is PARTITION_WATCH_INTERVAL, the group's other variable, apart
// from Settings because the consumer lists it after the connection's
// variables.
type Watch struct {
	WatchInterval time.Duration `envconfig:"PARTITION_WATCH_INTERVAL" default:"5s" desc:"how often new topics and partitions are looked for"`
}

// Validate checks the interval; the error names the variable.
func (w Watch) Validate() error {
	if w.WatchInterval < 100*time.Millisecond {
		return fmt.Errorf("PARTITION_WATCH_INTERVAL=%s: accepts 100ms or more", w.WatchInterval)
	}
	return nil
}
