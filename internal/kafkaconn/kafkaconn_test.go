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
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"nothing", Config{}, ""},
		{"scram", Config{TLS: true, SASLMechanism: "SCRAM-SHA-512", SASLUsername: "u", SASLPassword: "p"}, ""},
		{"unknown mechanism", Config{SASLMechanism: "GSSAPI"}, `KAFKA_SASL_MECHANISM="GSSAPI"`},
		{"no user", Config{SASLMechanism: "PLAIN", SASLPassword: "p"}, "KAFKA_SASL_USERNAME is required"},
		{"no password", Config{SASLMechanism: "SCRAM-SHA-256", SASLUsername: "u"}, "KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE) is required"},
		{"TLS files without TLS", Config{CAFile: "/ca.pem"}, "set KAFKA_TLS=on"},
		{"cert without key", Config{TLS: true, CertFile: "/c.pem"}, "KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE go together"},
		{"user without mechanism", Config{SASLUsername: "u", SASLPassword: "p"}, "KAFKA_SASL_MECHANISM is empty"},
		{"password without mechanism", Config{SASLPassword: "p"}, "KAFKA_SASL_MECHANISM is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("got %v; want %q", err, tt.wantErr)
			}
		})
	}
}

func TestValidateBrokers(t *testing.T) {
	for _, tt := range []struct {
		brokers []string
		wantErr string // "" when the list is good
	}{
		{[]string{"localhost:9092"}, ""},
		{[]string{"k1:9092", "10.0.0.2:19092", "[::1]:9092"}, ""},
		{nil, "KAFKA_BROKERS is empty"},
		{[]string{"kafka"}, `KAFKA_BROKERS: "kafka" is not host:port`},
		{[]string{"127.0.0.1:abc"}, `KAFKA_BROKERS: "127.0.0.1:abc" is not host:port`},
		{[]string{"127.0.0.1:99999"}, `KAFKA_BROKERS: "127.0.0.1:99999" is not host:port`},
		{[]string{"127.0.0.1:0"}, `KAFKA_BROKERS: "127.0.0.1:0" is not host:port`},
		{[]string{":9092"}, `KAFKA_BROKERS: ":9092" is not host:port`},
		{[]string{"http://127.0.0.1:9092"}, `KAFKA_BROKERS: "http://127.0.0.1:9092" is a URL`},
		{[]string{"k1:9092", " k2:9092"}, `KAFKA_BROKERS: " k2:9092" has spaces around it`},
	} {
		errs := ValidateBrokers(tt.brokers)
		switch {
		case tt.wantErr == "" && len(errs) > 0:
			t.Errorf("%q: got %v; want no error", tt.brokers, errs)
		case tt.wantErr != "" && (len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.wantErr)):
			t.Errorf("%q: got %v; want one error with %q", tt.brokers, errs, tt.wantErr)
		}
	}
}

func TestTLSFiles(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o600)
	if _, err := (Config{TLS: true, CAFile: bad}).Transport(quiet()); err == nil || !strings.Contains(err.Error(), "KAFKA_TLS_CA_FILE="+bad+": no PEM certificate") {
		t.Fatalf("got %v; want an error naming KAFKA_TLS_CA_FILE", err)
	}
	if _, err := (Config{TLS: true, CAFile: filepath.Join(dir, "missing.pem")}).Dialer(quiet()); err == nil || !strings.Contains(err.Error(), "KAFKA_TLS_CA_FILE") {
		t.Fatalf("got %v; want an error naming KAFKA_TLS_CA_FILE", err)
	}
	if _, err := (Config{TLS: true, CertFile: bad, KeyFile: bad}).Transport(quiet()); err == nil || !strings.Contains(err.Error(), "KAFKA_TLS_CERT_FILE") {
		t.Fatalf("got %v; want an error naming KAFKA_TLS_CERT_FILE", err)
	}
	tr, err := (Config{TLS: true, SkipVerify: true, SASLMechanism: "SCRAM-SHA-512", SASLUsername: "u", SASLPassword: "p"}).Transport(quiet())
	if err != nil || tr.TLS == nil || !tr.TLS.InsecureSkipVerify || tr.SASL == nil || tr.SASL.Name() != "SCRAM-SHA-512" {
		t.Fatalf("transport %+v, %v; want TLS without verification and SCRAM-SHA-512", tr, err)
	}
}

// TestSkipVerifyIsLoud: turning verification off is logged as a warning.
func TestSkipVerifyIsLoud(t *testing.T) {
	var b strings.Builder
	log := slog.New(slog.NewTextHandler(&b, nil))
	if _, err := (Config{TLS: true, SkipVerify: true}).Dialer(log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "level=WARN") || !strings.Contains(b.String(), "KAFKA_TLS_SKIP_VERIFY is on") {
		t.Fatalf("log %q; want a warning naming KAFKA_TLS_SKIP_VERIFY", b.String())
	}
}

func TestFatal(t *testing.T) {
	cfg := Config{SASLMechanism: "SCRAM-SHA-512", SASLUsername: "tweetpipe", SASLPassword: "hunter2", CAFile: "/ca.pem", TLS: true}
	plain := Config{}
	tests := []struct {
		name      string
		cfg       Config
		err       error
		wantFatal bool
		wantText  string
	}{
		{"wrong password", cfg, fmt.Errorf("sasl: %w", kafka.SASLAuthenticationFailed), true, "check KAFKA_SASL_USERNAME"},
		{"mechanism refused", cfg, kafka.UnsupportedSASLMechanism, true, "does not accept KAFKA_SASL_MECHANISM=SCRAM-SHA-512"},
		{"untrusted certificate", cfg, &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, true, "set KAFKA_TLS_CA_FILE"},
		{"TLS client, plaintext listener", cfg, tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, true, "is KAFKA_BROKERS a plaintext listener"},
		{"plaintext client, TLS listener", plain, fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), true, "set KAFKA_TLS=on"},
		{"broker down", plain, errors.New("dial tcp 127.0.0.1:9092: connect: connection refused"), false, "connection refused"},
		{"EOF with TLS on is not a TLS mix-up", cfg, io.EOF, false, "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fatal, err := tt.cfg.Fatal(tt.err)
			if fatal != tt.wantFatal || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("Fatal = %v, %v; want %v and %q", fatal, err, tt.wantFatal, tt.wantText)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the password leaked: %v", err)
			}
		})
	}
}

// TestDiagnoseTLSOnPlaintext: with KAFKA_TLS=on, a broker that takes the
// connection and drops the TLS handshake (Kafka's plaintext listener) or
// says nothing to it (kfake's) is explained at once, naming KAFKA_TLS; a
// broker not listening is not (the services wait for it).
func TestDiagnoseTLSOnPlaintext(t *testing.T) {
	defer func(w time.Duration) { handshakeWait = w }(handshakeWait)
	handshakeWait = 300 * time.Millisecond
	listen := func(t *testing.T, serve func(net.Conn)) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go serve(c)
			}
		}()
		return l.Addr().String()
	}
	on := Config{TLS: true}
	for _, tc := range []struct {
		name  string
		serve func(net.Conn)
		want  string
	}{
		{"closes", func(c net.Conn) { c.Read(make([]byte, 4)); c.Close() }, "closed the connection at the TLS handshake: is KAFKA_BROKERS a plaintext listener?"},
		{"silent", func(c net.Conn) { io.Copy(io.Discard, c) }, "did not answer the TLS handshake within 300ms: is KAFKA_BROKERS a plaintext listener?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := listen(t, tc.serve)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := on.Diagnose(ctx, []string{addr})
			if err == nil || !strings.Contains(err.Error(), "KAFKA_TLS is on but the broker at "+addr) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Diagnose = %v; want it to name KAFKA_TLS, %s and %q", err, addr, tc.want)
			}
		})
	}
	t.Run("not listening", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		if err := on.Diagnose(context.Background(), []string{addr}); err != nil {
			t.Fatalf("Diagnose = %v; want nil: a broker not up yet is waited for", err)
		}
	})
}
