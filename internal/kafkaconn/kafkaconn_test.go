package kafkaconn

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
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

// plaintextKafka answers every request on c as a Kafka ApiVersions v0
// request (one API, ApiVersions itself), until c fails: enough of a
// plaintext listener for kafka-go's Conn.ApiVersions. tlsHello says what it
// does with a TLS ClientHello (first byte 0x16): close, as Kafka does, or
// wait for the rest, as kfake does.
func plaintextKafka(c net.Conn, closeOnHello bool) {
	defer c.Close()
	for {
		var size int32
		if err := binary.Read(c, binary.BigEndian, &size); err != nil {
			return
		}
		if size>>24 == 0x16 { // a TLS record header read as a size
			if closeOnHello {
				return
			}
			io.Copy(io.Discard, c)
			return
		}
		req := make([]byte, size)
		if _, err := io.ReadFull(c, req); err != nil || len(req) < 8 {
			return
		}
		var resp bytes.Buffer
		resp.Write(req[4:8])                                     // correlation id
		binary.Write(&resp, binary.BigEndian, int16(0))          // no error
		binary.Write(&resp, binary.BigEndian, int32(1))          // one API:
		binary.Write(&resp, binary.BigEndian, []int16{18, 0, 0}) // ApiVersions v0
		binary.Write(c, binary.BigEndian, int32(resp.Len()))
		c.Write(resp.Bytes())
	}
}

// TestDiagnoseTLSOnPlaintext: with KAFKA_TLS=on, a plaintext Kafka listener
// (one that drops the TLS handshake, as Kafka does, or says nothing to it,
// as kfake does, and answers plaintext Kafka) is explained at once, naming
// KAFKA_TLS; a listener that drops every connection (a proxy with no broker
// behind it yet), one that says nothing at all, and a broker not listening
// are not: the services wait for them.
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
		want  string // "" for no error
	}{
		{"Kafka's plaintext listener", func(c net.Conn) { plaintextKafka(c, true) }, "closed the connection at the TLS handshake, and answers plaintext Kafka: KAFKA_BROKERS names a plaintext listener"},
		{"kfake", func(c net.Conn) { plaintextKafka(c, false) }, "did not answer the TLS handshake within 300ms, and answers plaintext Kafka: KAFKA_BROKERS names a plaintext listener"},
		{"proxy without a broker", func(c net.Conn) { c.Close() }, ""},
		{"silent", func(c net.Conn) { io.Copy(io.Discard, c) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := listen(t, tc.serve)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := on.Diagnose(ctx, []string{addr})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Diagnose = %v; want nil: nothing says it is a plaintext listener, so the services wait", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), "KAFKA_TLS is on but the broker at "+addr) || !strings.Contains(err.Error(), tc.want)):
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
