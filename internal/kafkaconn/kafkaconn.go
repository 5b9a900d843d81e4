// Package kafkaconn turns the KAFKA_TLS_* and KAFKA_SASL_* settings into
// kafka-go's dialer and transport, and explains connection failures in
// terms of the setting at fault. Both services use it.
package kafkaconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/tweetpipe/tweetpipe/internal/envconf"
)

// Config is how the services reach a secured cluster.
type Config struct {
	TLS           bool
	CAFile        string // PEM; empty: the system's roots
	CertFile      string // client certificate (mutual TLS), with KeyFile
	KeyFile       string
	SkipVerify    bool
	SASLMechanism string // "", PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	SASLUsername  string
	SASLPassword  string
}

// Security is the KAFKA_TLS_* and KAFKA_SASL_* variables. Each service's
// config embeds it, so both read the same variables the same way.
type Security struct {
	KafkaTLS           envconf.Switch `envconfig:"KAFKA_TLS" default:"off" desc:"on: connect to Kafka over TLS"`
	KafkaTLSCAFile     string         `envconfig:"KAFKA_TLS_CA_FILE" desc:"PEM file of the CA that signed the brokers' certificates (empty: the system's)"`
	KafkaTLSCertFile   string         `envconfig:"KAFKA_TLS_CERT_FILE" desc:"client certificate (PEM) for mutual TLS, with KAFKA_TLS_KEY_FILE"`
	KafkaTLSKeyFile    string         `envconfig:"KAFKA_TLS_KEY_FILE" desc:"client key (PEM) for mutual TLS"`
	KafkaTLSSkipVerify envconf.Switch `envconfig:"KAFKA_TLS_SKIP_VERIFY" default:"off" desc:"on: do not check the brokers' certificates (tests only; logged loudly)"`
	KafkaSASLMechanism string         `envconfig:"KAFKA_SASL_MECHANISM" desc:"PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no SASL)"`
	KafkaSASLUsername  string         `envconfig:"KAFKA_SASL_USERNAME" desc:"SASL user"`
	KafkaSASLPassword  envconf.Secret `envconfig:"KAFKA_SASL_PASSWORD" desc:"SASL password; or KAFKA_SASL_PASSWORD_FILE"`
}

// Kafka returns the settings that reach a secured cluster.
func (s Security) Kafka() Config {
	return Config{
		TLS:           bool(s.KafkaTLS),
		CAFile:        s.KafkaTLSCAFile,
		CertFile:      s.KafkaTLSCertFile,
		KeyFile:       s.KafkaTLSKeyFile,
		SkipVerify:    bool(s.KafkaTLSSkipVerify),
		SASLMechanism: s.KafkaSASLMechanism,
		SASLUsername:  s.KafkaSASLUsername,
		SASLPassword:  s.KafkaSASLPassword.Reveal(),
	}
}

// Validate checks what can be checked without a broker; errors name the
// variable.
func (c Config) Validate() error {
	var errs []error
	switch c.SASLMechanism {
	case "":
		if c.SASLUsername != "" || c.SASLPassword != "" {
			errs = append(errs, errors.New("KAFKA_SASL_USERNAME or KAFKA_SASL_PASSWORD is given but KAFKA_SASL_MECHANISM is empty: "+
				"set it to PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, or leave the credentials out"))
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if c.SASLUsername == "" {
			errs = append(errs, fmt.Errorf("KAFKA_SASL_USERNAME is required with KAFKA_SASL_MECHANISM=%s", c.SASLMechanism))
		}
		if c.SASLPassword == "" {
			errs = append(errs, fmt.Errorf("KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE) is required with KAFKA_SASL_MECHANISM=%s", c.SASLMechanism))
		}
	default:
		errs = append(errs, fmt.Errorf("KAFKA_SASL_MECHANISM=%q: accepts PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASLMechanism))
	}
	if !c.TLS && (c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" || c.SkipVerify) {
		errs = append(errs, errors.New("KAFKA_TLS_* settings are given but KAFKA_TLS is off: set KAFKA_TLS=on"))
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, errors.New("KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE go together: set both or neither"))
	}
	return errors.Join(errs...)
}

// ValidateBrokers checks KAFKA_BROKERS without dialling: at least one
// address, each host:port with a port from 1 to 65535, no scheme and no
// space around it (kafka-go would dial the space as part of the host).
func ValidateBrokers(brokers []string) []error {
	if len(brokers) == 0 {
		return []error{errors.New("KAFKA_BROKERS is empty: give at least one host:port")}
	}
	var errs []error
	for _, b := range brokers {
		if strings.Contains(b, "://") {
			errs = append(errs, fmt.Errorf("KAFKA_BROKERS: %q is a URL: give host:port, without a scheme", b))
			continue
		}
		if strings.TrimSpace(b) != b {
			errs = append(errs, fmt.Errorf("KAFKA_BROKERS: %q has spaces around it: separate the addresses with commas alone", b))
			continue
		}
		host, port, err := net.SplitHostPort(b)
		if err == nil {
			if n, perr := strconv.Atoi(port); perr != nil || n < 1 || n > 65535 {
				err = errors.New("bad port")
			}
		}
		if err != nil || host == "" {
			errs = append(errs, fmt.Errorf("KAFKA_BROKERS: %q is not host:port (a host, and a port from 1 to 65535)", b))
		}
	}
	return errs
}

// Dialer returns the dialer of the consumer group and partition readers.
func (c Config) Dialer(log *slog.Logger) (*kafka.Dialer, error) {
	tlsCfg, mech, err := c.build(log)
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: tlsCfg, SASLMechanism: mech}, nil
}

// Transport returns the transport of writers and admin clients.
func (c Config) Transport(log *slog.Logger) (*kafka.Transport, error) {
	tlsCfg, mech, err := c.build(log)
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{DialTimeout: 10 * time.Second, TLS: tlsCfg, SASL: mech}, nil
}

func (c Config) build(log *slog.Logger) (*tls.Config, sasl.Mechanism, error) {
	var tlsCfg *tls.Config
	if c.TLS {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
		if c.CAFile != "" {
			pem, err := os.ReadFile(c.CAFile)
			if err != nil {
				return nil, nil, fmt.Errorf("KAFKA_TLS_CA_FILE: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, nil, fmt.Errorf("KAFKA_TLS_CA_FILE=%s: no PEM certificate in it", c.CAFile)
			}
			tlsCfg.RootCAs = pool
		}
		if c.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
			if err != nil {
				return nil, nil, fmt.Errorf("KAFKA_TLS_CERT_FILE=%s, KAFKA_TLS_KEY_FILE=%s: %w", c.CertFile, c.KeyFile, err)
			}
			tlsCfg.Certificates = []tls.Certificate{cert}
		}
		if c.SkipVerify {
			log.Warn("KAFKA_TLS_SKIP_VERIFY is on: the broker's certificate is NOT checked; anyone on the path can read and change the traffic, credentials included")
			tlsCfg.InsecureSkipVerify = true
		}
	}
	var mech sasl.Mechanism
	switch c.SASLMechanism {
	case "PLAIN":
		mech = plain.Mechanism{Username: c.SASLUsername, Password: c.SASLPassword}
	case "SCRAM-SHA-256", "SCRAM-SHA-512":
		algo := scram.SHA256
		if c.SASLMechanism == "SCRAM-SHA-512" {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, c.SASLUsername, c.SASLPassword)
		if err != nil {
			return nil, nil, fmt.Errorf("KAFKA_SASL_MECHANISM=%s: %w", c.SASLMechanism, err)
		}
		mech = m
	}
	if mech != nil && tlsCfg == nil {
		log.Warn("SASL without TLS: the credentials cross the network in the clear (PLAIN) or can be attacked offline (SCRAM); set KAFKA_TLS=on", "mechanism", c.SASLMechanism)
	}
	return tlsCfg, mech, nil
}

// Fatal reports whether err is a connection failure that retrying cannot
// fix, and returns it explained in terms of the setting at fault; for
// anything else it returns false and err unchanged.
func (c Config) Fatal(err error) (bool, error) {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var recordHeader tls.RecordHeaderError
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, kafka.SASLAuthenticationFailed):
		return true, fmt.Errorf("the broker refused the credentials: check KAFKA_SASL_USERNAME=%q and KAFKA_SASL_PASSWORD for KAFKA_SASL_MECHANISM=%s: %w", c.SASLUsername, c.SASLMechanism, err)
	case errors.Is(err, kafka.UnsupportedSASLMechanism):
		return true, fmt.Errorf("the broker does not accept KAFKA_SASL_MECHANISM=%s: %w", c.SASLMechanism, err)
	case errors.As(err, &unknownCA):
		return true, fmt.Errorf("the broker's certificate is not signed by a CA this service trusts: set KAFKA_TLS_CA_FILE to the CA that signed it (now %q): %w", c.CAFile, err)
	case errors.As(err, &hostname):
		return true, fmt.Errorf("the broker's certificate is not for the address in KAFKA_BROKERS: %w", err)
	case errors.As(err, &invalid):
		return true, fmt.Errorf("the broker's certificate is not valid (expired, or not for a server): %w", err)
	case errors.As(err, &recordHeader):
		return true, fmt.Errorf("KAFKA_TLS is on but the broker did not answer with TLS: is KAFKA_BROKERS a plaintext listener? %w", err)
	case !c.TLS && plaintextOnTLS(err):
		return true, fmt.Errorf("the broker closed the connection at the first request: if it is a TLS listener, set KAFKA_TLS=on (and KAFKA_TLS_CA_FILE): %w", err)
	}
	return false, err
}

// Diagnose connects to each broker as the services do (TLS handshake, SASL
// authentication, one request) and returns the first failure that retrying
// cannot fix, explained; nil when there is none. kafka-go's Transport
// reports a failed handshake or authentication only as "Broker Not
// Available", so the wait loops ask Diagnose why.
func (c Config) Diagnose(ctx context.Context, brokers []string) error {
	d, err := c.Dialer(slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	for _, b := range brokers {
		if d.TLS != nil {
			if err := noHandshake(ctx, d.TLS, b); err != nil {
				return err
			}
		}
		err := func() error {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			conn, err := d.DialContext(ctx, "tcp", b)
			if err != nil {
				return err
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			_, err = conn.ApiVersions()
			return err
		}()
		if fatal, explained := c.Fatal(err); fatal {
			return explained
		}
	}
	return nil
}

// handshakeWait bounds noHandshake's TLS handshake.
var handshakeWait = 5 * time.Second

// noHandshake connects to broker and starts a TLS handshake, and returns
// an explained error when the broker took the connection but ended it, or
// said nothing, before the handshake's first answer, and answers a
// plaintext Kafka request: a plaintext listener with KAFKA_TLS=on (Kafka
// drops a ClientHello, read as a request far above
// socket.request.max.bytes; others wait for more bytes), which kafka-go
// reports only as EOF or a timeout, so that the services would wait out
// KAFKA_STARTUP_TIMEOUT. A broker not reached, one that answers TLS, or one
// that does not answer plaintext Kafka either (a proxy with no broker
// behind it yet, a broker still starting) is left to the caller: nil.
func noHandshake(parent context.Context, cfg *tls.Config, broker string) error {
	ctx, cancel := context.WithTimeout(parent, handshakeWait)
	defer cancel()
	var nd net.Dialer
	raw, err := nd.DialContext(ctx, "tcp", broker)
	if err != nil {
		return nil
	}
	defer raw.Close()
	cfg = cfg.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(broker)
	}
	err = tls.Client(raw, cfg).HandshakeContext(ctx)
	var netErr net.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		if answersPlaintext(parent, broker) {
			return fmt.Errorf("KAFKA_TLS is on but the broker at %s closed the connection at the TLS handshake, and answers plaintext Kafka: KAFKA_BROKERS names a plaintext listener (%w)", broker, err)
		}
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		if parent.Err() == nil && answersPlaintext(parent, broker) {
			return fmt.Errorf("KAFKA_TLS is on but the broker at %s did not answer the TLS handshake within %s, and answers plaintext Kafka: KAFKA_BROKERS names a plaintext listener (%w)", broker, handshakeWait, err)
		}
	}
	return nil
}

// answersPlaintext reports whether broker answers a plaintext Kafka request
// (ApiVersions) within handshakeWait.
func answersPlaintext(ctx context.Context, broker string) bool {
	ctx, cancel := context.WithTimeout(ctx, handshakeWait)
	defer cancel()
	conn, err := (&kafka.Dialer{}).DialContext(ctx, "tcp", broker)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(handshakeWait))
	_, err = conn.ApiVersions()
	return err == nil
}

// plaintextOnTLS reports the signs of a plaintext client talking to a TLS
// listener: the broker drops the connection (or answers garbage) at once.
func plaintextOnTLS(err error) bool {
	var netErr net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || strings.Contains(err.Error(), "connection reset") ||
		(errors.As(err, &netErr) && netErr.Timeout() && strings.Contains(err.Error(), "read"))
}
