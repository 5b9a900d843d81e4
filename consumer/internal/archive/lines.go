package archive

import "os"

// lines holds the lines of a batch not yet written to the data file: the
// records' own value slices, each followed by a newline. They are written
// with writev (lines_unix.go) instead of being copied into a buffer first,
// which saved a batch-sized buffer per partition (4 MiB by default) and a
// copy of every byte. The values belong to the caller of Append and stay
// untouched until it returns; lines never outlive an Append.
type lines struct {
	vecs [][]byte
	size int64
}

var newline = []byte{'\n'}

func (l *lines) add(v []byte) {
	l.vecs = append(l.vecs, v, newline)
	l.size += int64(len(v)) + 1
}

func (l *lines) reset() {
	clear(l.vecs) // do not keep the caller's values alive
	l.vecs = l.vecs[:0]
	l.size = 0
}

// writeTo writes the lines to f, all of them or an error.
func (l *lines) writeTo(f *os.File) error {
	if l.size == 0 {
		return nil
	}
	return writev(f, l.vecs)
}
