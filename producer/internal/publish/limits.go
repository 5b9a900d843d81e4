package publish

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// TimestampLimits are how far from the broker's clock a record's timestamp
// may be on the topics (the least of them), as their configuration says:
// message.timestamp.after.max.ms (Kafka 4's default: one hour) and
// message.timestamp.before.max.ms (no limit by default), or, before Kafka
// 3.6, message.timestamp.difference.max.ms both ways. 0: no limit (a topic
// of LogAppendTime has none: the broker sets the time).
type TimestampLimits struct {
	Ahead, Behind time.Duration
}

// The names of the topic configurations TimestampLimits reads.
const (
	configTimestampType  = "message.timestamp.type"
	configAfterMax       = "message.timestamp.after.max.ms"
	configBeforeMax      = "message.timestamp.before.max.ms"
	configDifferenceMax  = "message.timestamp.difference.max.ms"
	logAppendTime        = "LogAppendTime"
	unlimitedTimestampMs = math.MaxInt64 // Kafka's Long.MAX_VALUE: no limit
)

// ReadTimestampLimits asks the broker for the topics' configuration.
func ReadTimestampLimits(ctx context.Context, client *kafka.Client, topics []string) (TimestampLimits, error) {
	configs, err := describeTopics(ctx, client, topics, configTimestampType, configAfterMax, configBeforeMax, configDifferenceMax)
	if err != nil {
		return TimestampLimits{}, err
	}
	var l TimestampLimits
	for _, c := range configs {
		l = l.least(timestampLimits(c))
	}
	return l, nil
}

// describeTopics returns the named configurations of each topic, by
// topic, as the broker describes them.
func describeTopics(ctx context.Context, client *kafka.Client, topics []string, names ...string) (map[string]map[string]string, error) {
	req := &kafka.DescribeConfigsRequest{}
	for _, t := range topics {
		req.Resources = append(req.Resources, kafka.DescribeConfigRequestResource{
			ResourceType: kafka.ResourceTypeTopic, ResourceName: t, ConfigNames: names,
		})
	}
	resp, err := client.DescribeConfigs(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("describing the configuration of %v: %w", topics, err)
	}
	configs := make(map[string]map[string]string, len(resp.Resources))
	for _, r := range resp.Resources {
		if r.Error != nil {
			if errors.Is(r.Error, kafka.TopicAuthorizationFailed) {
				return nil, fmt.Errorf("describing the configuration of %s: the producer's user needs DESCRIBE_CONFIGS on the topic: %w", r.ResourceName, r.Error)
			}
			return nil, fmt.Errorf("describing the configuration of %s: %w", r.ResourceName, r.Error)
		}
		c := map[string]string{}
		for _, e := range r.ConfigEntries {
			c[e.ConfigName] = e.ConfigValue
		}
		configs[r.ResourceName] = c
	}
	return configs, nil
}

// timestampLimits reads one topic's configuration.
func timestampLimits(configs map[string]string) TimestampLimits {
	if configs[configTimestampType] == logAppendTime {
		return TimestampLimits{}
	}
	ms := func(name string) time.Duration {
		v, err := strconv.ParseInt(configs[name], 10, 64)
		if err != nil || v <= 0 || v >= unlimitedTimestampMs/int64(time.Millisecond) {
			return 0
		}
		return time.Duration(v) * time.Millisecond
	}
	l := TimestampLimits{Ahead: ms(configAfterMax), Behind: ms(configBeforeMax)}
	if d := ms(configDifferenceMax); d > 0 {
		l = l.least(TimestampLimits{Ahead: d, Behind: d})
	}
	return l
}

// least is the tighter of l and o in each direction.
func (l TimestampLimits) least(o TimestampLimits) TimestampLimits {
	tighter := func(a, b time.Duration) time.Duration {
		switch {
		case a == 0:
			return b
		case b == 0:
			return a
		}
		return min(a, b)
	}
	return TimestampLimits{Ahead: tighter(l.Ahead, o.Ahead), Behind: tighter(l.Behind, o.Behind)}
}

// Within is how far ahead and behind the time a record is read its own time
// may be for the producer to keep it as the record's timestamp: maxAhead
// (KAFKA_MAX_TIMESTAMP_AHEAD; 0: off) or less when the topics allow less,
// and what the topics allow behind, each less a twelfth (five minutes of an
// hour) for the clocks' skew and the time a record waits. 0: no limit.
func (l TimestampLimits) Within(maxAhead time.Duration) (ahead, behind time.Duration) {
	margin := func(d time.Duration) time.Duration { return d - d/12 }
	ahead = maxAhead
	if ahead > 0 && l.Ahead > 0 {
		ahead = min(ahead, margin(l.Ahead))
	}
	if l.Behind > 0 {
		behind = margin(l.Behind)
	}
	return ahead, behind
}
