package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// cluster is a three-broker Apache Kafka started by scripts/kafka-local.sh
// start-cluster: KAFKA_CLUSTER_BROKERS names it and KAFKA_LOCAL_SCRIPT
// controls it (make test-kafka sets both).
type cluster struct {
	brokers string
	script  string
}

func newCluster(t *testing.T) cluster {
	t.Helper()
	b, script := os.Getenv("KAFKA_CLUSTER_BROKERS"), os.Getenv("KAFKA_LOCAL_SCRIPT")
	if b == "" || script == "" {
		t.Skip("needs a three-broker cluster: set KAFKA_CLUSTER_BROKERS and KAFKA_LOCAL_SCRIPT (make test-kafka starts one with scripts/kafka-local.sh start-cluster)")
	}
	return cluster{brokers: b, script: script}
}

func (c cluster) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(c.script, args...).CombinedOutput()
	t.Logf("kafka-local.sh %s: %s", strings.Join(args, " "), strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("kafka-local.sh %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// leader returns the node id leading partition 0 of topic (the last word
// the script prints).
func (c cluster) leader(t *testing.T, topic string) string {
	t.Helper()
	f := strings.Fields(c.run(t, "leader", topic, "0"))
	if len(f) == 0 {
		t.Fatal("kafka-local.sh leader printed nothing")
	}
	return f[len(f)-1]
}

func clusterProducerEnv(c cluster, topic, input string, n int) []string {
	return []string{"KAFKA_BROKERS=" + c.brokers, "SOURCE=replay", "REPLAY_PATH=" + input,
		"KAFKA_TOPIC=" + topic, "KAFKA_CONTROL_TOPIC=", "KAFKA_PARTITIONS=6",
		"KAFKA_REPLICATION_FACTOR=3", "KAFKA_MIN_INSYNC_REPLICAS=2", "REPLAY_SPEED=" + replaySpeed(n)}
}

// TestClusterLosesPartitionLeader: on three brokers with replication 3 and
// min.insync.replicas 2, the leader of a partition is SIGKILLed while
// statuses flow and restarted later; the archive holds every status once.
func TestClusterLosesPartitionLeader(t *testing.T) {
	c := newCluster(t)
	n := chaosCount(t, 100_000)
	input, want := genStatuses(t, n, 4)
	topic := unique("cluster")
	out := t.TempDir()
	prod := start(t, "producer", clusterProducerEnv(c, topic, input, n)...)
	cons := start(t, "consumer", consumerEnv(c.brokers, topic, unique("archiver"), out)...)
	time.Sleep(3 * time.Second)
	node := c.leader(t, topic)
	c.run(t, "kill-node", node)
	t.Logf("SIGKILLed node %s, the leader of %s/0", node, topic)
	time.Sleep(5 * time.Second)
	c.run(t, "resume-node", node)
	prod.wait(t, 5*time.Minute)
	waitForAllStatuses(t, out, topic, want)
	cons.stop(t, 30*time.Second)
	verifyExactlyOnce(t, out, topic, want)
	t.Logf("leader lost and back: %d statuses in, %d out, each once; producer: %s; consumer: %s", n, len(want),
		lastLine(prod.out.String(), "producer totals"), lastLine(cons.out.String(), "consumer totals"))
}

// TestClusterLosesTwoBrokers: with two of three brokers down the producer
// cannot get the acknowledgements min.insync.replicas=2 asks for; it says
// so, spools what the source gives it, and delivers all of it when the
// brokers return.
func TestClusterLosesTwoBrokers(t *testing.T) {
	c := newCluster(t)
	n := chaosCount(t, 100_000) / 2
	input, want := genStatuses(t, n, 5)
	topic := unique("cluster")
	out := t.TempDir()
	spool := t.TempDir()
	prod := start(t, "producer", append(clusterProducerEnv(c, topic, input, n), "SPOOL_DIR="+spool, "PENDING_MAX=2000")...)
	cons := start(t, "consumer", consumerEnv(c.brokers, topic, unique("archiver"), out)...)
	time.Sleep(3 * time.Second)
	before := len(prod.out.String())
	c.run(t, "kill-node", "2")
	c.run(t, "kill-node", "3")
	down := time.Now()
	eventually(t, 90*time.Second, "the producer to say Kafka refuses its writes", func() bool {
		return strings.Contains(prod.out.String()[before:], "kafka write failed")
	})
	t.Logf("producer reported failing writes %s after two brokers went down", time.Since(down).Round(time.Millisecond))
	eventually(t, 60*time.Second, "the producer to spool", func() bool {
		return strings.Contains(prod.out.String(), "spooling to disk")
	})
	time.Sleep(5 * time.Second)
	c.run(t, "resume-node", "2")
	c.run(t, "resume-node", "3")
	t.Logf("brokers back after %s", time.Since(down).Round(time.Second))
	prod.wait(t, 5*time.Minute)
	waitForAllStatuses(t, out, topic, want)
	cons.stop(t, 30*time.Second)
	verifyExactlyOnce(t, out, topic, want)
	logs := prod.out.String()
	t.Logf("two brokers lost: %d statuses in, %d out, each once; producer: %s; spool: %s", n, len(want),
		lastLine(logs, "producer totals"), lastLine(logs, "spool drained"))
}
