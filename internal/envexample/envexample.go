// Package envexample reads the variables that .env.example lists and that
// a service's -h (envconfig's usage table) lists, as NAME=default, so that
// each service's tests can hold the two to each other. Only tests import
// it; it sits in the shared module so that both services' tests use the
// one copy.
package envexample

import "strings"

// Variables returns the NAME=default lines of a part of .env.example
// (commented out: "#NAME=default"), in order; comment lines that are
// prose are left out.
func Variables(part string) []string {
	var vars []string
	for _, line := range strings.Split(part, "\n") {
		if v, ok := strings.CutPrefix(line, "#"); ok && strings.Contains(v, "=") && !strings.ContainsAny(v[:strings.Index(v, "=")], " (") {
			vars = append(vars, v)
		}
	}
	return vars
}

// UsageVariables returns NAME=default for each row of the usage table
// (KEY TYPE DEFAULT DESCRIPTION, columns two or more spaces apart), in
// order; NAME= for a row without a default.
func UsageVariables(usage string) []string {
	var vars []string
	rows := false
	for _, line := range strings.Split(usage, "\n") {
		switch cols := splitColumns(line); {
		case len(cols) > 0 && cols[0] == "KEY":
			rows = true
		case rows && len(cols) >= 4: // KEY TYPE DEFAULT DESCRIPTION
			vars = append(vars, cols[0]+"="+cols[2])
		case rows && len(cols) == 3: // KEY TYPE DESCRIPTION: no default
			vars = append(vars, cols[0]+"=")
		}
	}
	return vars
}

// splitColumns splits a row of the usage table, whose columns are two or
// more spaces apart.
func splitColumns(line string) []string {
	var cols []string
	for _, c := range strings.Split(line, "  ") {
		if c = strings.TrimSpace(c); c != "" {
			cols = append(cols, c)
		}
	}
	return cols
}
