package group

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// On a cluster with ACLs the consumer's user needs READ on each topic of
// KAFKA_TOPICS (for Fetch; READ implies the DESCRIBE that Metadata and
// ListOffsets need) and READ on the group (FindCoordinator, JoinGroup,
// SyncGroup, Heartbeat, OffsetFetch, OffsetCommit). Kafka's refusal of
// either is not something a retry mends: Run stops with an error naming
// the right and what it is missing on, and the partitions held are written
// and committed as at any stop.

// refuse stops Run with err. The first refusal is the one Run returns.
func (r *Runner) refuse(err error) {
	if r.stop != nil {
		r.stop(refusal{err})
	}
}

// refusal is the cause of Run's context when refuse stopped it.
type refusal struct{ error }

// topicRefused returns the error Run stops with when Kafka refused the
// consumer topic (TOPIC_AUTHORIZATION_FAILED) in the request what names
// ("metadata", "offsets" or "fetch"); nil for any other err.
func topicRefused(topic, what string, err error) error {
	if !errors.Is(err, kafka.TopicAuthorizationFailed) {
		return nil
	}
	// Metadata and ListOffsets need DESCRIBE, which READ implies. Kafka
	// answers a topic the user may not describe as refused, whether it
	// exists or not.
	refused := map[string]string{
		"metadata": "to describe it (the consumer's user has neither READ nor DESCRIBE on it)",
		"offsets":  "to list its offsets (the consumer's user has neither READ nor DESCRIBE on it)",
		"fetch":    "to fetch from it (the consumer's user has no READ on it)",
	}[what]
	return fmt.Errorf("topic %q (KAFKA_TOPICS): Kafka refused %s: the consumer needs READ on each topic it archives; "+
		"grant it, or take the topic out of KAFKA_TOPICS: %w", topic, refused, err)
}

// groupRefused returns the error Run stops with when Kafka refused the
// consumer its group (GROUP_AUTHORIZATION_FAILED); nil for any other err. A
// topic refused while joining is confirmed first (confirmRefused).
func groupRefused(group string, err error) error {
	if !errors.Is(err, kafka.GroupAuthorizationFailed) {
		return nil
	}
	return fmt.Errorf("group %q (KAFKA_GROUP_ID): Kafka refused the consumer the group (its user has no READ on it): "+
		"the consumer needs READ on its group to join it and commit offsets; grant it, or set KAFKA_GROUP_ID to a group it may read: %w", group, err)
}

// confirmRefused reports which of topics Kafka, asked afresh, refuses the
// consumer: through a transport of its own (no cached metadata) whose
// metadata requests create nothing. kafka-go's own look-ups (a partition's
// leader for its reader, the group leader's assignment) ask with
// auto-creation on, and Kafka answers those TOPIC_AUTHORIZATION_FAILED for a
// topic that does not exist (deleted, or not yet known to that broker) when
// the user may not create topics: such an answer stops the consumer only
// once this look-up confirms it. A topic refused here may not be described;
// with fetched, a topic described here, whose fetch Kafka refused, may not
// be read. A topic that does not exist, or a look-up that fails, confirms
// nothing ("", false): the caller retries as for any error. counts is what
// the look-up found, as partitionCounts gives it (nil when it failed).
func (r *Runner) confirmRefused(ctx context.Context, topics []string, fetched bool) (refused string, ok bool, counts map[string]int) {
	tr := namingTopics(r.cfg.Transport, topics)
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: r.client.Addr, Timeout: 10 * time.Second, Transport: tr}
	resp, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return "", false, nil
	}
	counts = make(map[string]int, len(resp.Topics))
	for _, t := range resp.Topics {
		if errors.Is(t.Error, kafka.TopicAuthorizationFailed) || fetched && t.Error == nil {
			return t.Name, true, counts
		}
		if t.Error == nil {
			counts[t.Name] = len(t.Partitions)
		}
	}
	return "", false, counts
}
