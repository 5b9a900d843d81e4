package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// testCA makes a CA and a server certificate for 127.0.0.1 signed by it;
// it returns the server's TLS certificate and the CA's PEM file.
func testCA(t *testing.T, dir, name string) (tls.Certificate, string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, name+"-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, caFile
}

// secureBroker is a broker with a SASL_SSL listener: the real one named by
// KAFKA_SECURE_BROKERS (with KAFKA_SECURE_CA_FILE, KAFKA_SECURE_PASSWORD,
// set by make test-kafka), or an in-process kfake with TLS and SCRAM.
type secureBroker struct {
	addr, caFile, user, password, mechanism string
}

func newSecureBroker(t *testing.T) secureBroker {
	t.Helper()
	if b := os.Getenv("KAFKA_SECURE_BROKERS"); b != "" {
		t.Logf("using the real SASL_SSL broker at %s", b)
		return secureBroker{addr: b, caFile: os.Getenv("KAFKA_SECURE_CA_FILE"), user: "tweetpipe",
			password: os.Getenv("KAFKA_SECURE_PASSWORD"), mechanism: "SCRAM-SHA-512"}
	}
	if os.Getenv("KAFKA_BROKERS") != "" {
		t.Skip("KAFKA_BROKERS names a plaintext broker; set KAFKA_SECURE_BROKERS for the SASL_SSL one (make test-kafka does)")
	}
	cert, caFile := testCA(t, t.TempDir(), "broker")
	const password = "s3cret-pass"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", "tweetpipe", password),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return secureBroker{addr: c.ListenAddrs()[0], caFile: caFile, user: "tweetpipe", password: password, mechanism: "SCRAM-SHA-512"}
}

func (b secureBroker) env(password string) []string {
	return []string{"KAFKA_BROKERS=" + b.addr, "KAFKA_TLS=on", "KAFKA_TLS_CA_FILE=" + b.caFile,
		"KAFKA_SASL_MECHANISM=" + b.mechanism, "KAFKA_SASL_USERNAME=" + b.user, "KAFKA_SASL_PASSWORD=" + password,
		"KAFKA_STARTUP_TIMEOUT=60s"}
}

// TestPipelineOverTLSAndSASL: the whole pipeline through a SASL_SSL
// listener, and the password never in the logs.
func TestPipelineOverTLSAndSASL(t *testing.T) {
	b := newSecureBroker(t)
	topic := unique("tweets")
	out := t.TempDir()
	prod := start(t, "producer", append(b.env(b.password), "SYNTHETIC_RATE=0", "SYNTHETIC_COUNT=2000",
		"KAFKA_TOPIC="+topic, "KAFKA_CONTROL_TOPIC="+topic+".control")...)
	prod.wait(t, 60*time.Second)
	cons := start(t, "consumer", append(b.env(b.password), "KAFKA_TOPICS="+topic, "KAFKA_GROUP_ID="+unique("g"),
		"OUTPUT_DIR="+out, "BATCH_MAX_WAIT=100ms", "PARTITION_WATCH_INTERVAL=500ms")...)
	eventually(t, 60*time.Second, "2000 statuses in the output", func() bool { return countLines(t, out, topic) >= 2000 })
	cons.stop(t, 15*time.Second)
	if n := len(readOutput(t, out, topic)); n != 2000 {
		t.Fatalf("got %d lines; want 2000", n)
	}
	for _, p := range []*proc{prod, cons} {
		if strings.Contains(p.out.String(), b.password) {
			t.Fatalf("%s logged the SASL password", p.name)
		}
	}
}

// TestSecureMisconfiguration: each wrong setting ends the service quickly
// with an error naming the setting at fault, not a hang, and never shows
// the password.
func TestSecureMisconfiguration(t *testing.T) {
	b := newSecureBroker(t)
	_, otherCA := testCA(t, t.TempDir(), "other")
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"wrong password", b.env("not-the-password"), "check KAFKA_SASL_USERNAME"},
		{"untrusted certificate", append(b.env(b.password), "KAFKA_TLS_CA_FILE="+otherCA), "KAFKA_TLS_CA_FILE"},
		{"plaintext client on a TLS port", []string{"KAFKA_BROKERS=" + b.addr, "KAFKA_STARTUP_TIMEOUT=60s"}, "set KAFKA_TLS=on"},
	}
	for _, tt := range tests {
		for _, svc := range []string{"producer", "consumer"} {
			t.Run(tt.name+"/"+svc, func(t *testing.T) {
				p := start(t, svc, append(tt.env, "OUTPUT_DIR="+t.TempDir())...)
				select {
				case <-p.done:
				case <-time.After(40 * time.Second):
					t.Fatalf("%s still running after 40 s; want it to stop with an error", svc)
				}
				if p.err == nil {
					t.Fatalf("%s exited 0; want an error", svc)
				}
				out := p.out.String()
				if !strings.Contains(out, tt.want) {
					t.Fatalf("%s output does not name %q:\n%s", svc, tt.want, out)
				}
				if strings.Contains(out, "not-the-password") || strings.Contains(out, b.password) {
					t.Fatalf("%s logged a password:\n%s", svc, out)
				}
			})
		}
	}
}
