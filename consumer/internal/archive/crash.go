package archive

import "github.com/tweetpipe/tweetpipe/internal/crashpoint"

// crash is the archive's crash points (see package crashpoint): crashPoint
// is called between its file operations with the name of the point
// reached, and crash_test.go stops the archive there. The archive writes
// with plain syscalls, so nothing is held in user space that a SIGKILL
// would lose. Disarmed outside tests.
var crash crashpoint.Hook

func crashPoint(point string) { crash.Reach(point) }
