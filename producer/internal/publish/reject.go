package publish

// Records Kafka refuses for good. A broker answers some errors for a
// record that no retry cures: INVALID_TIMESTAMP (its time is further from
// the broker's clock than the topic's message.timestamp.after.max.ms or
// before.max.ms allow), INVALID_RECORD, CORRUPT_MESSAGE,
// RECORD_LIST_TOO_LARGE, MESSAGE_TOO_LARGE (a batch, or a record, over the
// topic's max.message.bytes). Retried for ever, such a record would hold back
// every record behind it, since acknowledgements go in order. The broker
// answers for a whole partition's batch, so each record of a refused batch
// is first written alone: those the broker takes are done; one refused
// for its timestamp is written once more with the time it was read as its
// timestamp and its own time in the post_time header; one still refused
// goes to the dead-letter file with its reason, and is then acknowledged
// to its source like any other. Any other error is retried as before.
//
// Most records never get that far: kafkaMessage gives the time it was read
// to a record whose own time is beyond the limits the topics' configuration
// states (limits.go) or KAFKA_MAX_TIMESTAMP_AHEAD, before it is sent. What
// is refused anyway (clocks apart, a limit changed while running) is
// settled here. CORRUPT_MESSAGE is one kafka-go retries on its own; it gets
// here only once those attempts failed, and writing the record alone is
// one more.

import (
	"context"
	"errors"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tweetpipe/tweetpipe/internal/contract"
	"github.com/tweetpipe/tweetpipe/internal/retry"
	"github.com/tweetpipe/tweetpipe/producer/internal/deadletter"
)

// PostTimeHeader carries a record's own time when its timestamp is the
// time it was read instead (contract.HeaderPostTime).
const PostTimeHeader = contract.HeaderPostTime

// postTimeLayout is RFC 3339 with milliseconds, Kafka's resolution.
const postTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// refusalReason names an error the broker gives for a record that no retry
// cures, for the dead-letter file and the metric; "" for any other error.
func refusalReason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, kafka.InvalidTimestamp):
		return "invalid_timestamp"
	case errors.Is(err, kafka.InvalidRecord):
		return "invalid_record"
	case errors.Is(err, kafka.InvalidMessage): // CORRUPT_MESSAGE
		return "corrupt_message"
	case errors.Is(err, kafka.RecordListTooLarge):
		return "record_list_too_large"
	case errors.Is(err, kafka.MessageSizeTooLarge):
		// A batch over the topic's max.message.bytes: written alone, the
		// records that fit go; one too large alone is dead-lettered.
		return "message_too_large"
	}
	return ""
}

// retime gives m the time it was read (now when unknown) as its timestamp
// and its own time in the post_time header. It reports false when m was
// retimed already.
func retime(m *kafka.Message, read time.Time) bool {
	for _, h := range m.Headers {
		if h.Key == PostTimeHeader {
			return false
		}
	}
	if read.IsZero() {
		read = time.Now()
	}
	hs := make([]kafka.Header, 0, len(m.Headers)+1)
	hs = append(hs, m.Headers...)
	m.Headers = append(hs, kafka.Header{Key: PostTimeHeader, Value: []byte(m.Time.UTC().Format(postTimeLayout))})
	m.Time = read
	return true
}

// settleRefused writes alone, one by one in order, each batch[i] for i in
// refused: records the broker refused as part of a batch for a reason no
// retry cures. It returns those that then failed for another reason (to
// retry as usual), or errStopped when ctx ends first.
func (p *Publisher) settleRefused(ctx context.Context, batch []item, refused []int) ([]int, error) {
	var again []int
	for _, i := range refused {
		it := &batch[i]
		err := p.writeAlone(ctx, it.msg)
		if m := it.msg; errors.Is(err, kafka.InvalidTimestamp) && retime(&m, it.read) {
			if p.Stats.Retimed.Add(1) <= 5 {
				p.log.Warn("Kafka refused a record's timestamp; sending it with the time it was read, its own time in the "+PostTimeHeader+" header",
					"topic", m.Topic, "key", string(m.Key), "post_time", header(m, PostTimeHeader), "error", err)
			}
			it.msg = m // the spool copies a flight's sent records, not its items
			err = p.writeAlone(ctx, it.msg)
		}
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return nil, errStopped
		case isTooLarge(err):
			if err := p.tooLarge(ctx, it, err); err != nil {
				return nil, err
			}
		case refusalReason(err) != "":
			if err := p.deadLetter(ctx, it, refusalReason(err), err); err != nil {
				return nil, err
			}
		default:
			again = append(again, i)
		}
	}
	return again, nil
}

// writeAlone writes m in a produce request of its own and returns the
// broker's answer for it.
func (p *Publisher) writeAlone(ctx context.Context, m kafka.Message) error {
	err := p.one.WriteMessages(ctx, m)
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) && len(werrs) == 1 {
		return werrs[0]
	}
	return err
}

// deadLetter writes it to the dead-letter file and marks it dropped: it is
// acknowledged to its source with the records around it. A failing write
// is retried with backoff until ctx ends (errStopped): the record is not
// acknowledged before the file holds it.
func (p *Publisher) deadLetter(ctx context.Context, it *item, reason string, cause error) error {
	if w := p.cfg.DeadLetter; w != nil {
		r := deadletter.Record{Topic: it.msg.Topic, Key: it.msg.Key, Time: it.msg.Time, Reason: reason, Error: cause.Error(), Value: it.msg.Value}
		for _, h := range it.msg.Headers {
			r.Headers = append(r.Headers, deadletter.Header{Key: h.Key, Value: h.Value})
		}
		backoff := retry.Backoff{Initial: 100 * time.Millisecond, Max: 10 * time.Second, Jitter: 0.2}
		for {
			err := w.Write(r)
			if err == nil {
				break
			}
			wait := backoff.Next()
			p.log.Error("writing a record Kafka refused to the dead-letter file failed; retrying", "file", w.Path(), "retry_in", wait, "error", err)
			if !retry.Wait(ctx, wait) {
				return errStopped
			}
		}
	}
	it.drop = true
	p.Stats.addDeadLettered(reason)
	file := "(none: DEADLETTER_DIR is not set)"
	if p.cfg.DeadLetter != nil {
		file = p.cfg.DeadLetter.Path()
	}
	p.log.Error("Kafka refused a record for good; it is in the dead-letter file and the records behind it go on",
		"topic", it.msg.Topic, "key", string(it.msg.Key), "bytes", len(it.msg.Value), "reason", reason, "file", file, "error", cause)
	return nil
}

func header(m kafka.Message, key string) string {
	v, _ := contract.Header(m.Headers, key)
	return v
}
