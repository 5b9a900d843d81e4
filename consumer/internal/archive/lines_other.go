//go:build !unix

package archive

import (
	"bytes"
	"os"
)

// writev writes vecs to f: joined and written at once where there is no
// writev.
func writev(f *os.File, vecs [][]byte) error {
	_, err := f.Write(bytes.Join(vecs, nil))
	return err
}
