// Package corpus forwards to the shared module's internal/corpus, the one
// copy, for the tests that still import it by this path.
package corpus

import (
	"testing"

	shared "github.com/tweetpipe/tweetpipe/internal/corpus"
)

// Path is shared.Path: a file of the project's corpus, named with slashes.
func Path(t testing.TB, name string) string {
	t.Helper()
	return shared.Path(t, name)
}

// Shared is shared.Shared: shared/fixtures/tweets beside the repository,
// the test skipped where it is missing (failed with CI=true).
func Shared(t testing.TB) string {
	t.Helper()
	return shared.Shared(t)
}
