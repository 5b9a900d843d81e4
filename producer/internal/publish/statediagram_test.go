package publish

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docSection is the publisher's state machine in docs/architecture.md.
func docSection(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "### The publisher's states")
	if start < 0 {
		t.Fatal(`docs/architecture.md has no "### The publisher's states" section`)
	}
	doc = doc[start+1:]
	if end := strings.Index(doc, "\n#"); end >= 0 {
		doc = doc[:end]
	}
	return doc
}

// TestDiagramMatchesTransitions: the mermaid diagram in docs/architecture.md
// draws every transition that moves or acts (an ignored event is in the
// table only), and where Run begins; its table lists every row, with its
// actions. Neither may drift from transitions().
func TestDiagramMatchesTransitions(t *testing.T) {
	doc := docSection(t)
	m := regexp.MustCompile("(?s)```mermaid\n(stateDiagram-v2\n.*?)```").FindStringSubmatch(doc)
	if m == nil {
		t.Fatal("no mermaid stateDiagram-v2 block in the publisher's states section")
	}
	edge := regexp.MustCompile(`^\s*(\[\*\]|\w+)\s*-->\s*(\w+)\s*:\s*(.+?)\s*$`)
	var drawn []string
	for _, line := range strings.Split(m[1], "\n")[1:] {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "%%") {
			continue
		}
		e := edge.FindStringSubmatch(line)
		if e == nil {
			t.Fatalf("diagram line %q: want `from --> to : event, event`", line)
		}
		if e[1] == "[*]" {
			drawn = append(drawn, "start -> "+e[2])
			continue
		}
		for _, ev := range strings.Split(e[3], ",") {
			drawn = append(drawn, fmt.Sprintf("%s %s -> %s", e[1], strings.TrimSpace(ev), e[2]))
		}
	}
	var code []string
	for _, empty := range []bool{true, false} {
		s, _ := initial(empty)
		code = append(code, "start -> "+s.String())
	}
	for _, r := range transitions() {
		if r.from != r.to || len(r.actions) > 0 {
			code = append(code, fmt.Sprintf("%s %s -> %s", r.from, r.ev, r.to))
		}
	}
	slices.Sort(drawn)
	slices.Sort(code)
	if !slices.Equal(drawn, code) {
		t.Errorf("the diagram draws:\n  %s\nthe code has:\n  %s", strings.Join(drawn, "\n  "), strings.Join(code, "\n  "))
	}

	row := regexp.MustCompile("^\\| `(\\w+)` \\| `(\\w+)` \\| `(\\w+)` \\| (.*?) \\|$")
	var listed []string
	for _, line := range strings.Split(doc, "\n") {
		r := row.FindStringSubmatch(line)
		if r == nil {
			continue
		}
		s := fmt.Sprintf("%s %s -> %s", r[1], r[2], r[3])
		if acts := strings.ReplaceAll(strings.ReplaceAll(r[4], "`", ""), "—", ""); strings.TrimSpace(acts) != "" {
			s += ": " + strings.TrimSpace(acts)
		}
		listed = append(listed, s)
	}
	tb := newTable(transitions())
	var rows []string
	for _, r := range transitions() {
		rows = append(rows, outcome(tb, r.from, r.ev))
	}
	if !slices.Equal(listed, rows) {
		t.Errorf("the table lists:\n  %s\nthe code has, in its order:\n  %s", strings.Join(listed, "\n  "), strings.Join(rows, "\n  "))
	}
}
