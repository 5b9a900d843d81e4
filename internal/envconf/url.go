package envconf

import (
	"encoding/json"
	"log/slog"
	"net/url"
	"slices"
	"strings"
)

// redactedPart stands for a credential inside a URL. It needs no escaping
// in userinfo, query or fragment.
const redactedPart = "xxxxx"

// URL is a setting that holds a URL, which may carry credentials: a user
// and password, or a token in the query. Logs, errors and JSON show it
// through RedactURL.
type URL string

// LogValue implements slog.LogValuer.
func (u URL) LogValue() slog.Value { return slog.StringValue(RedactURL(string(u))) }

// String implements fmt.Stringer so %v and %s redact it too.
func (u URL) String() string { return RedactURL(string(u)) }

// MarshalJSON keeps the credentials out of JSON output too.
func (u URL) MarshalJSON() ([]byte, error) { return json.Marshal(RedactURL(string(u))) }

// Reveal returns the URL itself, for the one place that connects to it.
func (u URL) Reveal() string { return string(u) }

// RedactURL returns s for a log or an error: the userinfo (user and
// password), the fragment, and the value of every query parameter whose
// name looks like a credential (secretParam) replaced by "xxxxx", the rest
// as written. A string that ParseURL refuses shows as "[unparsable]".
func RedactURL(s string) string {
	u, ok := ParseURL(s)
	if !ok {
		return "[unparsable]"
	}
	if u.User != nil {
		u.User = url.User(redactedPart)
	}
	u.RawQuery = redactParams(u.RawQuery)
	if u.Fragment != "" {
		// Never sent to a server, a fragment has no use in a stream URL
		// but may hold a token (#access_token=...): all of it goes.
		u.Fragment, u.RawFragment = redactedPart, ""
	}
	return u.String()
}

// ParseURL parses s as RedactURL and URLSecrets read it, and reports
// false where they could not tell its credentials from the rest: s does not
// parse, is opaque ("https:user:pass@host/...", "user:pass@host/..." read
// as the scheme "user"), or holds an '@' yet has no user
// ("https://user:12/pass@host/" parses with the host "user:12"). Such a URL
// is never printed and never used.
func ParseURL(s string) (*url.URL, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || (u.User == nil && strings.Contains(s, "@")) {
		return nil, false
	}
	return u, true
}

// URLSecrets returns the credentials s holds, as RedactURL finds them, each
// as written and unescaped: what an error or a server's answer that quotes
// the URL must not show. ScrubSecrets takes them out of a text. Of a
// string that ParseURL refuses, where the credentials cannot be told from
// the rest, they are the whole string, all of it before its last '@', and
// that part without what reads as a scheme and "//".
func URLSecrets(s string) []string {
	u, ok := ParseURL(s)
	if !ok {
		out := []string{s}
		if at := strings.LastIndex(s, "@"); at > 0 {
			out = append(out, s[:at])
			if _, rest, ok := strings.Cut(s[:at], ":"); ok && strings.TrimLeft(rest, "/") != "" {
				out = append(out, strings.TrimLeft(rest, "/"))
			}
		}
		return out
	}
	var out []string
	add := func(v string) {
		if v == "" {
			return
		}
		out = append(out, v)
		if esc := url.QueryEscape(v); esc != v {
			out = append(out, esc)
		}
		if esc := url.PathEscape(v); esc != v {
			out = append(out, esc)
		}
	}
	if u.User != nil {
		add(u.User.Username())
		p, _ := u.User.Password()
		add(p)
	}
	add(u.Fragment)
	add(u.EscapedFragment())
	for _, pair := range strings.Split(u.RawQuery, "&") {
		name, value, ok := strings.Cut(pair, "=")
		if !ok || !secretParam(name) {
			continue
		}
		add(value)
		if v, err := url.QueryUnescape(value); err == nil {
			add(v)
		}
	}
	return out
}

// ScrubSecrets replaces each of secrets in text with "xxxxx", longest
// first, so that a secret holding another is replaced whole.
func ScrubSecrets(text string, secrets []string) string {
	sorted := slices.Clone(secrets)
	slices.SortFunc(sorted, func(a, b string) int { return len(b) - len(a) })
	for _, s := range sorted {
		if s != "" {
			text = strings.ReplaceAll(text, s, redactedPart)
		}
	}
	return text
}

// redactParams replaces the values of credential-looking parameters in a
// raw query, keeping the order and spelling of the others.
func redactParams(raw string) string {
	if raw == "" {
		return raw
	}
	pairs := strings.Split(raw, "&")
	for i, pair := range pairs {
		if name, _, ok := strings.Cut(pair, "="); ok && secretParam(name) {
			pairs[i] = name + "=" + redactedPart
		}
	}
	return strings.Join(pairs, "&")
}

// secretParam reports whether a (raw) parameter name looks like it names a
// credential: it holds one of the words below, in any case, as access_token,
// api_key, apikey, client_secret, password, sig, X-Amz-Signature,
// X-Amz-Credential, auth and session_id do.
func secretParam(raw string) bool {
	name, err := url.QueryUnescape(raw)
	if err != nil {
		name = raw
	}
	name = strings.ToLower(name)
	for _, w := range [...]string{"token", "secret", "pass", "pwd", "key", "auth", "sig", "credential", "session", "cookie", "jwt", "bearer"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}
