package envconf

// Unjoin returns the errors joined in err (by errors.Join), err alone when
// it joins none, and none when it is nil. A service's Validate puts the
// errors of its parts' Validate among its own, each on its own line, so
// that it can sort them into one stable message.
func Unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
