package spool

import "github.com/tweetpipe/tweetpipe/internal/crashpoint"

// crash is the spool's crash points (see package crashpoint): crashPoint is
// called between its file operations with the name of the point reached,
// and crash_test.go stops the spool there. Disarmed outside tests.
var crash crashpoint.Hook

func crashPoint(point string) { crash.Reach(point) }
