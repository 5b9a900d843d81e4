//go:build race

package e2e

// raceFlags: the services and devstack are built as the tests are, with the
// race detector when `go test -race` runs them (it needs cgo, so a C
// compiler: make test leaves -race out where Go finds none).
var raceFlags = []string{"-race"}
