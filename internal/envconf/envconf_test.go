package envconf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type Embedded struct {
	Level string `envconfig:"ENVCONF_TEST_LEVEL" default:"info" desc:"a level"`
}

type spec struct {
	Embedded
	Wait    time.Duration `envconfig:"ENVCONF_TEST_WAIT" default:"1s" desc:"how long"`
	Token   Secret        `envconfig:"ENVCONF_TEST_TOKEN" desc:"a token"`
	Brokers []string      `envconfig:"ENVCONF_TEST_BROKERS" default:"a:1,b:2" desc:"brokers"`
}

func TestProcess(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		var s spec
		if err := Process(&s, map[string]*Secret{"ENVCONF_TEST_TOKEN": &s.Token}); err != nil {
			t.Fatal(err)
		}
		if s.Wait != time.Second || len(s.Brokers) != 2 || s.Token != "" || s.Level != "info" {
			t.Fatalf("got %+v; want the defaults", s)
		}
	})
	t.Run("a bad value names its variable", func(t *testing.T) {
		t.Setenv("ENVCONF_TEST_WAIT", "soon")
		var s spec
		err := Process(&s, nil)
		if err == nil || err.Error() != `ENVCONF_TEST_WAIT="soon": not a duration: a number and a unit, e.g. 500ms, 30s, 5m, 2h` {
			t.Fatalf("error = %v; want it to name ENVCONF_TEST_WAIT and its value", err)
		}
	})
	t.Run("a bad value is told in words, not Go's types", func(t *testing.T) {
		type kinds struct {
			Count int     `envconfig:"ENVCONF_TEST_COUNT"`
			Bytes int64   `envconfig:"ENVCONF_TEST_BYTES"`
			Rate  float64 `envconfig:"ENVCONF_TEST_RATE"`
			Flag  bool    `envconfig:"ENVCONF_TEST_FLAG"`
		}
		for _, tc := range []struct{ name, value, want string }{
			{"ENVCONF_TEST_COUNT", "3.5", `ENVCONF_TEST_COUNT="3.5": not a whole number`},
			{"ENVCONF_TEST_BYTES", "99999999999999999999", `ENVCONF_TEST_BYTES="99999999999999999999": out of range`},
			{"ENVCONF_TEST_RATE", "fast", `ENVCONF_TEST_RATE="fast": not a number`},
			{"ENVCONF_TEST_FLAG", "maybe", `ENVCONF_TEST_FLAG="maybe": not true or false`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Setenv(tc.name, tc.value)
				var k kinds
				if err := Process(&k, nil); err == nil || err.Error() != tc.want {
					t.Fatalf("error = %v; want %s", err, tc.want)
				}
			})
		}
	})
	t.Run("secret from a file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(path, []byte("s3cret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("ENVCONF_TEST_TOKEN_FILE", path)
		var s spec
		if err := Process(&s, map[string]*Secret{"ENVCONF_TEST_TOKEN": &s.Token}); err != nil {
			t.Fatal(err)
		}
		if s.Token.Reveal() != "s3cret" {
			t.Fatalf("token = %q; want the file's content without the newline", s.Token.Reveal())
		}
	})
	t.Run("secret and its file both set", func(t *testing.T) {
		t.Setenv("ENVCONF_TEST_TOKEN", "x")
		t.Setenv("ENVCONF_TEST_TOKEN_FILE", "/nonexistent")
		var s spec
		err := Process(&s, map[string]*Secret{"ENVCONF_TEST_TOKEN": &s.Token})
		if err == nil || err.Error() != "ENVCONF_TEST_TOKEN and ENVCONF_TEST_TOKEN_FILE are both set: set one" {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("missing secret file", func(t *testing.T) {
		t.Setenv("ENVCONF_TEST_TOKEN_FILE", "/nonexistent/token")
		var s spec
		err := Process(&s, map[string]*Secret{"ENVCONF_TEST_TOKEN": &s.Token})
		if err == nil || !strings.HasPrefix(err.Error(), "ENVCONF_TEST_TOKEN_FILE: reading /nonexistent/token:") {
			t.Fatalf("error = %v; want it to name the variable and the file", err)
		}
	})
}

func TestSecretNeverPrints(t *testing.T) {
	s := spec{Token: "s3cret", Wait: time.Second, Embedded: Embedded{Level: "debug"}}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "config", LogValue(s), "token", s.Token)
	j, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	printed := logs.String() + fmt.Sprintf("%v %s %+v", s.Token, s.Token, s) + string(j)
	if strings.Contains(printed, "s3cret") {
		t.Fatalf("the secret leaked: %s", printed)
	}
	if !strings.Contains(logs.String(), `"ENVCONF_TEST_TOKEN":"[redacted]"`) || !strings.Contains(logs.String(), `"ENVCONF_TEST_WAIT":"1s"`) ||
		!strings.Contains(logs.String(), `"ENVCONF_TEST_LEVEL":"debug"`) {
		t.Fatalf("want the config under its variables' names, the secret redacted; got %s", logs.String())
	}
}

func TestUsage(t *testing.T) {
	var b bytes.Buffer
	if err := Usage(&b, &spec{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ENVCONF_TEST_WAIT", "1s", "how long", "ENVCONF_TEST_BROKERS", "a:1,b:2", "ENVCONF_TEST_LEVEL", "a level"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("usage has no %q:\n%s", want, b.String())
		}
	}
}

// part is a package's config as a service embeds it (through an exported
// alias, Part): the fields read from the environment, one the service sets
// (ignored), and one of the package's own (unexported).
type part struct {
	Rate   int           `envconfig:"ENVCONF_TEST_RATE" default:"5" desc:"a rate"`
	Shared string        `ignored:"true"`
	Sink   io.Writer     `ignored:"true"`
	every  time.Duration // set by the package itself
}

type Part = part

// TestLogValueLeavesOutWhatIsNotRead: the fields that envconfig does not
// read (ignored, unexported) are not logged, and logging does not panic.
func TestLogValueLeavesOutWhatIsNotRead(t *testing.T) {
	c := struct {
		Name string `envconfig:"ENVCONF_TEST_NAME" desc:"a name"`
		Part
	}{Name: "n", Part: Part{Rate: 7, Shared: "shared", Sink: io.Discard, every: time.Second}}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "config", LogValue(c))
	if got, want := logs.String(), `"config":{"ENVCONF_TEST_NAME":"n","ENVCONF_TEST_RATE":"7"}}`; !strings.Contains(got, want) {
		t.Fatalf("got %s; want %s: only what envconfig reads", got, want)
	}
}

func TestSwitch(t *testing.T) {
	for in, want := range map[string]bool{"on": true, "ON": true, "true": true, "T": true, "1": true, "yes": true, "off": false, "false": false, "F": false, "0": false, "": false} {
		var s Switch
		if err := s.Decode(in); err != nil || bool(s) != want {
			t.Errorf("Decode(%q) = %v, %v; want %v", in, s, err, want)
		}
	}
	var s Switch
	if err := s.Decode("maybe"); err == nil {
		t.Error("Decode(maybe): want an error")
	}
	t.Setenv("ENVCONF_TEST_SWITCH", "maybe")
	var sp struct {
		On Switch `envconfig:"ENVCONF_TEST_SWITCH"`
	}
	if err := Process(&sp, nil); err == nil || err.Error() != `ENVCONF_TEST_SWITCH="maybe": not on or off (also true/false, yes/no, 1/0)` {
		t.Errorf("error = %v; want it to name the variable and say what it accepts", err)
	}
}
