// Command broker runs franz-go's in-process Kafka-protocol broker (kfake) on
// a loopback port until SIGINT or SIGTERM, so that the benchmark can point
// the real binaries and kcat at the same broker as a separate process.
//
// It keeps everything in memory (no -data): a benchmark measures the
// clients, not kfake's disk format. With -commit-delay it answers each
// offset commit that much later, as a group coordinator a round trip away
// would, without holding back the other connections.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func main() {
	port := flag.Int("port", 0, "loopback port to listen on (0: any free port)")
	addrFile := flag.String("addr-file", "", "write the listen address to this file once ready")
	commitDelay := flag.Duration("commit-delay", 0, "answer each offset commit this much later")
	flag.Parse()
	if err := run(*port, *addrFile, *commitDelay); err != nil {
		log.Printf("broker: %v", err)
		os.Exit(1)
	}
}

func run(port int, addrFile string, commitDelay time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if port != 0 {
		opts = append(opts, kfake.Ports(port))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("starting kfake on 127.0.0.1:%d: %w", port, err)
	}
	defer c.Close()
	if commitDelay > 0 {
		c.ControlKey(int16(kmsg.OffsetCommit), func(kmsg.Request) (kmsg.Response, error, bool) {
			c.KeepControl()
			c.SleepControl(func() { time.Sleep(commitDelay) })
			return nil, nil, false
		})
	}
	addr := c.ListenAddrs()[0]
	if addrFile != "" {
		tmp := addrFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, addrFile); err != nil {
			return err
		}
	}
	fmt.Printf("broker: kfake listening on %s\n", addr)
	<-ctx.Done()
	return nil
}
