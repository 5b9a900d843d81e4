package publish

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tweetpipe/tweetpipe/producer/internal/message"
	"github.com/tweetpipe/tweetpipe/producer/internal/spool"
)

func TestTimestampLimits(t *testing.T) {
	for _, tc := range []struct {
		name    string
		configs map[string]string
		want    TimestampLimits
	}{
		{"Kafka 4 defaults", map[string]string{configTimestampType: "CreateTime", configAfterMax: "3600000", configBeforeMax: "9223372036854775807"}, TimestampLimits{Ahead: time.Hour}},
		{"Kafka 3.6 defaults", map[string]string{configAfterMax: "9223372036854775807", configBeforeMax: "9223372036854775807", configDifferenceMax: "9223372036854775807"}, TimestampLimits{}},
		{"both set", map[string]string{configAfterMax: "600000", configBeforeMax: "86400000"}, TimestampLimits{Ahead: 10 * time.Minute, Behind: 24 * time.Hour}},
		{"difference, before 3.6", map[string]string{configDifferenceMax: "7200000"}, TimestampLimits{Ahead: 2 * time.Hour, Behind: 2 * time.Hour}},
		{"difference tighter", map[string]string{configAfterMax: "3600000", configDifferenceMax: "1800000"}, TimestampLimits{Ahead: 30 * time.Minute, Behind: 30 * time.Minute}},
		{"LogAppendTime: the broker sets the time", map[string]string{configTimestampType: logAppendTime, configAfterMax: "3600000"}, TimestampLimits{}},
		{"nothing said", nil, TimestampLimits{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := timestampLimits(tc.configs); got != tc.want {
				t.Fatalf("got %+v; want %+v", got, tc.want)
			}
		})
	}
}

func TestTimestampLimitsWithin(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		limits                TimestampLimits
		maxAhead              time.Duration
		wantAhead, wantBehind time.Duration
	}{
		{"Kafka 4 defaults", TimestampLimits{Ahead: time.Hour}, 55 * time.Minute, 55 * time.Minute, 0},
		{"the topic allows less", TimestampLimits{Ahead: 12 * time.Minute, Behind: 24 * time.Hour}, 55 * time.Minute, 11 * time.Minute, 22 * time.Hour},
		{"the topic allows more", TimestampLimits{Ahead: 24 * time.Hour}, 55 * time.Minute, 55 * time.Minute, 0},
		{"off", TimestampLimits{Ahead: time.Hour}, 0, 0, 0},
		{"unknown", TimestampLimits{}, 55 * time.Minute, 55 * time.Minute, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ahead, behind := tc.limits.Within(tc.maxAhead)
			if ahead != tc.wantAhead || behind != tc.wantBehind {
				t.Fatalf("got %s ahead, %s behind; want %s, %s", ahead, behind, tc.wantAhead, tc.wantBehind)
			}
		})
	}
}

// TestReadTimestampLimits: the least limits of the topics, read from a
// broker that answers DescribeConfigs as Apache Kafka does.
func TestReadTimestampLimits(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	configs := map[string]map[string]string{
		"tweets":         {configTimestampType: "CreateTime", configAfterMax: "3600000", configBeforeMax: "9223372036854775807"},
		"tweets.control": {configTimestampType: "CreateTime", configAfterMax: "600000", configBeforeMax: "604800000"},
	}
	c.ControlKey(int16(kmsg.DescribeConfigs), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.DescribeConfigsRequest)
		resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
		for _, r := range req.Resources {
			rr := kmsg.NewDescribeConfigsResponseResource()
			rr.ResourceType, rr.ResourceName = r.ResourceType, r.ResourceName
			for k, v := range configs[r.ResourceName] {
				e := kmsg.NewDescribeConfigsResponseResourceConfig()
				e.Name, e.Value = k, kmsg.StringPtr(v)
				rr.Configs = append(rr.Configs, e)
			}
			resp.Resources = append(resp.Resources, rr)
		}
		return resp, nil, true
	})
	client := &kafka.Client{Addr: kafka.TCP(c.ListenAddrs()...)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := ReadTimestampLimits(ctx, client, []string{"tweets", "tweets.control"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (TimestampLimits{Ahead: 10 * time.Minute, Behind: 7 * 24 * time.Hour}); got != want {
		t.Fatalf("got %+v; want %+v", got, want)
	}
}

// TestKafkaMessageTimestamp: a record keeps its own time as its timestamp
// while the topic accepts it; beyond the limits it gets the time it was
// read, its own time in the post_time header.
func TestKafkaMessageTimestamp(t *testing.T) {
	read := time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)
	p := &Publisher{cfg: Config{RetimeAhead: 55 * time.Minute, RetimeBehind: 22 * time.Hour}, log: quiet(), Stats: &Stats{}}
	for _, tc := range []struct {
		name         string
		own          time.Time
		wantTime     time.Time
		wantPostTime string
	}{
		{"now", read, read, ""},
		{"50 minutes ahead", read.Add(50 * time.Minute), read.Add(50 * time.Minute), ""},
		{"two hours ahead", read.Add(2 * time.Hour), read, "2026-03-07T14:00:00.000Z"},
		{"a day behind", read.Add(-24 * time.Hour), read, "2026-03-06T12:00:00.000Z"},
		{"an hour behind", read.Add(-time.Hour), read.Add(-time.Hour), ""},
		{"no time of its own", time.Time{}, read, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := p.kafkaMessage("tweets", message.Message{Kind: message.KindStatus, Key: []byte("1"), Time: tc.own}, read)
			if !m.Time.Equal(tc.wantTime) || header(m, PostTimeHeader) != tc.wantPostTime {
				t.Fatalf("timestamp %s, post_time %q; want %s, %q", m.Time, header(m, PostTimeHeader), tc.wantTime, tc.wantPostTime)
			}
		})
	}
}

// TestKafkaMessageTimeOutsideRange: a record whose own time is before 1970
// (Kafka's clients take no negative timestamp) or after 9999 (the spool
// keeps years 1 to 9999) gets the time it was read, even with the topic's
// limits off (KAFKA_MAX_TIMESTAMP_AHEAD=0), so the spool can always hold it.
func TestKafkaMessageTimeOutsideRange(t *testing.T) {
	read := time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)
	p := &Publisher{log: quiet(), Stats: &Stats{}}
	sp, err := spool.Open(t.TempDir(), spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	for _, tc := range []struct {
		name         string
		own          time.Time
		wantTime     time.Time
		wantPostTime string
	}{
		{"year 0", time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), read, "0000-01-01T00:00:00.000Z"},
		{"1969", time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), read, "1969-12-31T23:59:59.000Z"},
		{"1970", time.Unix(0, 0), time.Unix(0, 0), ""},
		{"9999", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), ""},
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), read, "10000-01-01T00:00:00.000Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := p.kafkaMessage("tweets", message.Message{Kind: message.KindStatus, Key: []byte("1"), Value: []byte(`{}`), Time: tc.own}, read)
			if !m.Time.Equal(tc.wantTime) || header(m, PostTimeHeader) != tc.wantPostTime {
				t.Fatalf("timestamp %s, post_time %q; want %s, %q", m.Time, header(m, PostTimeHeader), tc.wantTime, tc.wantPostTime)
			}
			if err := sp.Append(toSpool(m)); err != nil {
				t.Fatalf("the spool refuses the record: %v", err)
			}
		})
	}
	if got := p.Stats.Retimed.Load(); got != 3 {
		t.Errorf("%d records counted as retimed; want 3", got)
	}
}
