package main

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tweetpipe/tweetpipe/internal/ops"
	"github.com/tweetpipe/tweetpipe/producer/internal/publish"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/jetstream"
	"github.com/tweetpipe/tweetpipe/producer/internal/source/stream"
)

// streamSource is a source that keeps the stream counters (twitter, xv2,
// jetstream).
type streamSource interface {
	StreamStats() stream.Stats
}

// jetstreamSource is the jetstream source, which also counts events timed
// ahead of this host's clock.
type jetstreamSource interface {
	Stats() jetstream.Stats
}

// registerSourceMetrics exposes a stream source's connection counters.
func registerSourceMetrics(reg *prometheus.Registry, name string, src streamSource) error {
	labels := prometheus.Labels{"source": name}
	read := func(f func(stream.Stats) int64) func() float64 {
		return func() float64 { return float64(f(src.StreamStats())) }
	}
	var ahead error
	if js, ok := src.(jetstreamSource); ok {
		ahead = ops.CounterFunc(reg, "tweetpipe_producer_source_ahead_of_clock_total",
			"Events whose time is further ahead of this host's clock than the source allows: published, but not taken as the resume position.",
			labels, func() float64 { return float64(js.Stats().AheadOfClock) })
	}
	return errors.Join(ahead,
		ops.GaugeFunc(reg, "tweetpipe_producer_source_connected", "1 while the source's stream is open.", labels, func() float64 {
			if src.StreamStats().Connected {
				return 1
			}
			return 0
		}),
		ops.CounterFunc(reg, "tweetpipe_producer_source_connections_total", "Streams opened.", labels, read(func(s stream.Stats) int64 { return s.Connections })),
		ops.CounterFunc(reg, "tweetpipe_producer_source_stalls_total", "Connections closed because nothing came for the stall timeout.", labels, read(func(s stream.Stats) int64 { return s.Stalls })),
		ops.CounterFunc(reg, "tweetpipe_producer_source_dropped_oversize_total", "Stream messages over the maximum size, dropped.", labels, read(func(s stream.Stats) int64 { return s.DroppedOversize })),
		ops.CounterVecFunc(reg, "tweetpipe_producer_source_reconnects_total", "Reconnects, by reason.", []string{"source", "reason"}, func(emit ops.Emit) {
			for reason, n := range src.StreamStats().Reconnects {
				emit(float64(n), name, reason)
			}
		}),
	)
}

// registerMetrics exposes the publisher's running totals on /metrics and
// returns the hook that times each batch.
func registerMetrics(reg *prometheus.Registry, source string, s *publish.Stats) (func(time.Duration), error) {
	src := prometheus.Labels{"source": source}
	batch := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tweetpipe_producer_batch_duration_seconds",
		Help:    "Time from a batch's first produce attempt until Kafka acknowledged all of it, retries included.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
	})
	err := errors.Join(
		reg.Register(batch),
		ops.CounterFunc(reg, "tweetpipe_producer_messages_received_total", "Messages the source emitted.", src, ops.Int64(&s.In)),
		ops.CounterFunc(reg, "tweetpipe_producer_received_bytes_total", "Bytes of the messages the source emitted.", src, ops.Int64(&s.ReceivedBytes)),
		ops.CounterVecFunc(reg, "tweetpipe_producer_messages_sent_total", "Messages Kafka acknowledged, by topic and kind.",
			[]string{"topic", "kind"}, func(emit ops.Emit) {
				s.EachSent(func(topic, kind string, messages, _ int64) { emit(float64(messages), topic, kind) })
			}),
		ops.CounterVecFunc(reg, "tweetpipe_producer_sent_bytes_total", "Value bytes Kafka acknowledged, by topic and kind.",
			[]string{"topic", "kind"}, func(emit ops.Emit) {
				s.EachSent(func(topic, kind string, _, bytes int64) { emit(float64(bytes), topic, kind) })
			}),
		ops.CounterFunc(reg, "tweetpipe_producer_messages_dropped_total", "Messages dropped, by reason.", prometheus.Labels{"reason": "not_json_object"}, ops.Int64(&s.Invalid)),
		ops.CounterFunc(reg, "tweetpipe_producer_messages_dropped_total", "Messages dropped, by reason.", prometheus.Labels{"reason": "no_control_topic"}, ops.Int64(&s.ControlDropped)),
		ops.CounterVecFunc(reg, "tweetpipe_producer_messages_deadlettered_total", "Records Kafka refused for good, written to the dead-letter file, by reason.",
			[]string{"reason"}, func(emit ops.Emit) {
				s.EachDeadLettered(func(reason string, n int64) { emit(float64(n), reason) })
			}),
		ops.CounterFunc(reg, "tweetpipe_producer_messages_retimed_total", "Records sent with the time they were read as their timestamp, their own time (further ahead than the broker accepts) in the post_time header.", nil, ops.Int64(&s.Retimed)),
		ops.GaugeFunc(reg, "tweetpipe_producer_pending_messages", "Messages accepted from the source and not yet acknowledged by Kafka.", nil, ops.Int64(&s.Pending)),
		ops.CounterFunc(reg, "tweetpipe_producer_spooled_total", "Records written to the spool while Kafka was unreachable.", nil, ops.Int64(&s.Spooled)),
		ops.CounterFunc(reg, "tweetpipe_producer_kafka_write_errors_total", "Produce calls that failed.", nil, ops.Int64(&s.WriteErrors)),
		ops.CounterFunc(reg, "tweetpipe_producer_kafka_write_retries_total", "Messages written again after a failed produce call.", nil, ops.Int64(&s.Retries)),
		ops.GaugeFunc(reg, "tweetpipe_producer_kafka_connected", "1 while the last produce call succeeded.", nil, ops.Bool(&s.Connected)),
	)
	return func(d time.Duration) { batch.Observe(d.Seconds()) }, err
}
