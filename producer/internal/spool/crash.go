package spool

// crashAt, when a test sets it, is called between the spool's file
// operations with the name of the point reached. crash_test.go stops the
// spool there by panicking, which leaves the files as a SIGKILL at that
// instant would, and reopens a copy of them. Nil outside tests.
var crashAt func(point string)

func crashPoint(point string) {
	if crashAt != nil {
		crashAt(point)
	}
}
