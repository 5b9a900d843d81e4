package archive

// crashAt, when a test sets it, is called between the archive's file
// operations with the name of the point reached. The test stops the archive
// there by panicking, which leaves the files as a SIGKILL at that instant
// would (the archive writes with plain syscalls: nothing is held in user
// space), then recovers from a copy of them. Nil outside tests.
var crashAt func(point string)

func crashPoint(point string) {
	if crashAt != nil {
		crashAt(point)
	}
}
