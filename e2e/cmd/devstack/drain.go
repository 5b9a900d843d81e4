package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// archived names what the consumer archives: its group and topics, from
// the environment it is given or, unset there, its own defaults.
type archived struct {
	group  string
	topics []string
}

// consumerSettings reads KAFKA_GROUP_ID and KAFKA_TOPICS from env, and any
// that env leaves unset from the defaults `consumer -h` prints, so devstack
// and the consumer never disagree about them.
func consumerSettings(bin string, env []string) (archived, error) {
	lookup := func(key string) string {
		v := ""
		for _, kv := range env {
			if k, val, ok := strings.Cut(kv, "="); ok && k == key {
				v = val // the last one wins, as in the child's environment
			}
		}
		return v
	}
	group, topics := lookup("KAFKA_GROUP_ID"), lookup("KAFKA_TOPICS")
	if group == "" || topics == "" {
		usage, err := exec.Command(filepath.Join(bin, "consumer"), "-h").Output()
		if err != nil {
			return archived{}, fmt.Errorf("reading the consumer's defaults (consumer -h): %w", err)
		}
		if group == "" {
			group = usageDefault(usage, "KAFKA_GROUP_ID")
		}
		if topics == "" {
			topics = usageDefault(usage, "KAFKA_TOPICS")
		}
	}
	if group == "" || topics == "" {
		return archived{}, fmt.Errorf("the consumer's KAFKA_GROUP_ID (%q) and KAFKA_TOPICS (%q) must not be empty", group, topics)
	}
	a := archived{group: group}
	for _, t := range strings.Split(topics, ",") {
		if t = strings.TrimSpace(t); t != "" {
			a.topics = append(a.topics, t)
		}
	}
	return a, nil
}

// usageDefault is the DEFAULT column of key's row in envconfig's usage
// table (KEY, TYPE, DEFAULT, REQUIRED, DESCRIPTION, separated by two or
// more spaces), or "" when the row has no default.
func usageDefault(usage []byte, key string) string {
	columns := regexp.MustCompile(`\s{2,}`)
	sc := bufio.NewScanner(bytes.NewReader(usage))
	for sc.Scan() {
		f := columns.Split(strings.TrimSpace(sc.Text()), -1)
		if f[0] == key && len(f) >= 4 {
			return f[2]
		}
	}
	return ""
}

// partitionKey is one partition of a topic.
type partitionKey struct {
	topic     string
	partition int
}

// behind is how many messages the group has yet to commit: for each
// partition, its end offset less the group's committed offset (none
// committed counts from 0).
func behind(ends, committed map[partitionKey]int64) int64 {
	var n int64
	for p, end := range ends {
		c, ok := committed[p]
		if !ok || c < 0 {
			c = 0
		}
		if end > c {
			n += end - c
		}
	}
	return n
}

// lag asks the broker how many messages of the archived topics the group
// has not committed yet. A topic that does not exist has nothing to wait for.
func lag(ctx context.Context, client *kafka.Client, a archived) (int64, error) {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: a.topics})
	if err != nil {
		return 0, fmt.Errorf("reading the topics' metadata: %w", err)
	}
	list := map[string][]kafka.OffsetRequest{}
	fetch := map[string][]int{}
	for _, t := range md.Topics {
		if t.Error != nil {
			continue
		}
		for _, p := range t.Partitions {
			list[t.Name] = append(list[t.Name], kafka.LastOffsetOf(p.ID))
			fetch[t.Name] = append(fetch[t.Name], p.ID)
		}
	}
	if len(list) == 0 {
		return 0, nil
	}
	offs, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: list})
	if err != nil {
		return 0, fmt.Errorf("listing the partitions' end offsets: %w", err)
	}
	ends := map[partitionKey]int64{}
	for topic, ps := range offs.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return 0, fmt.Errorf("end offset of %s/%d: %w", topic, p.Partition, p.Error)
			}
			ends[partitionKey{topic, p.Partition}] = p.LastOffset
		}
	}
	com, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: a.group, Topics: fetch})
	if err != nil {
		return 0, fmt.Errorf("fetching the committed offsets of group %s: %w", a.group, err)
	}
	if com.Error != nil {
		return 0, fmt.Errorf("fetching the committed offsets of group %s: %w", a.group, com.Error)
	}
	committed := map[partitionKey]int64{}
	for topic, ps := range com.Topics {
		for _, p := range ps {
			if p.Error == nil {
				committed[partitionKey{topic, p.Partition}] = p.CommittedOffset
			}
		}
	}
	return behind(ends, committed), nil
}

// waitArchived returns once the consumer's group has committed every
// message of the topics it archives, which it does only after writing
// them; or when ctx ends (the consumer exited, or a second Ctrl-C).
func waitArchived(ctx context.Context, brokers string, a archived) {
	client := &kafka.Client{Addr: kafka.TCP(brokers), Timeout: 5 * time.Second}
	said := false
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := lag(ctx, client, a)
		switch {
		case err != nil && ctx.Err() == nil:
			fmt.Fprintf(os.Stderr, "devstack: %v; asking again\n", err)
		case err == nil && n == 0:
			fmt.Printf("devstack: the consumer has written everything the producer published to %s\n", strings.Join(a.topics, ", "))
			return
		case err == nil && !said:
			fmt.Printf("devstack: the producer has stopped; waiting for the consumer to write its last %d messages (Ctrl-C stops it now; the next run writes the rest)\n", n)
			said = true
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
