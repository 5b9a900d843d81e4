// Package envconf is what the services' config packages share: reading the
// environment with envconfig, errors that name the variable at fault,
// secrets that never print and may come from files (Docker secrets), the
// usage table of -h, and the configuration as a log value.
package envconf

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/kelseyhightower/envconfig"
)

// Secret is a string that never prints: logs, errors and -h show it redacted.
type Secret string

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.redacted()) }

// String implements fmt.Stringer so %v and %s redact it too.
func (s Secret) String() string { return s.redacted() }

// MarshalJSON keeps the secret out of JSON output too.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.redacted()) }

// Reveal returns the secret itself, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) redacted() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// Process reads the environment into spec, a pointer to a struct whose
// fields carry envconfig tags. A value that does not parse is reported with
// its variable. Then each secret in secrets (by variable name) is read from
// the file named by that variable with _FILE appended, when that is set;
// setting both is an error.
func Process(spec any, secrets map[string]*Secret) error {
	if err := envconfig.Process("", spec); err != nil {
		var pe *envconfig.ParseError
		if errors.As(err, &pe) {
			return fmt.Errorf("%s=%q: %s", pe.KeyName, pe.Value, parseProblem(pe))
		}
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(secrets)) {
		path := os.Getenv(name + "_FILE")
		if path == "" {
			continue
		}
		if *secrets[name] != "" {
			return fmt.Errorf("%s and %s_FILE are both set: set one", name, name)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("%s_FILE: reading %s: %w", name, path, err)
		}
		*secrets[name] = Secret(strings.TrimSpace(string(b)))
	}
	return nil
}

// parseProblem says what is wrong with a value envconfig could not read, in
// the words of the settings' descriptions rather than Go's type names.
func parseProblem(pe *envconfig.ParseError) string {
	if errors.Is(pe.Err, strconv.ErrRange) {
		return "out of range"
	}
	switch t := pe.TypeName; {
	case t == "time.Duration":
		return "not a duration: a number and a unit, e.g. 500ms, 30s, 5m, 2h"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "not a whole number"
	case strings.HasPrefix(t, "float"):
		return "not a number"
	case t == "bool":
		return "not true or false"
	}
	return pe.Err.Error() // a type of ours (Decode): its error says it
}

// Switch is an on/off setting: on, off, true, false, yes, no, 1, 0, and t,
// f (what strconv.ParseBool also takes), in any case.
type Switch bool

// Decode implements envconfig.Decoder.
func (s *Switch) Decode(v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "t", "yes", "1":
		*s = true
	case "off", "false", "f", "no", "0", "":
		*s = false
	default:
		return errors.New("not on or off (also true/false, yes/no, 1/0)")
	}
	return nil
}

// String shows the setting as users write it.
func (s Switch) String() string {
	if s {
		return "on"
	}
	return "off"
}

// Usage writes every variable of spec (a pointer to a config struct) with
// its type, default and description.
func Usage(w io.Writer, spec any) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if err := envconfig.Usagef("", spec, tw, envconfig.DefaultTableFormat); err != nil {
		return err
	}
	return tw.Flush()
}

// LogValue returns the fields of spec, a config struct, under their
// variables' names, those of embedded structs among them; a Secret shows
// redacted. Fields that envconfig does not read (unexported, or tagged
// ignored:"true": what a service sets itself) are left out.
func LogValue(spec any) slog.Value {
	return slog.GroupValue(fields(reflect.ValueOf(spec), nil)...)
}

func fields(v reflect.Value, attrs []slog.Attr) []slog.Attr {
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if ignored, _ := strconv.ParseBool(f.Tag.Get("ignored")); ignored || !f.IsExported() {
			continue
		}
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			attrs = fields(v.Field(i), attrs)
			continue
		}
		attrs = append(attrs, slog.String(f.Tag.Get("envconfig"), fmt.Sprint(v.Field(i).Interface())))
	}
	return attrs
}
