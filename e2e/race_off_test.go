//go:build !race

package e2e

// raceFlags: without -race, the services are built without it too.
var raceFlags []string
