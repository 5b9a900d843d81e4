package spool

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzSpoolRecovery: any bytes as the only segment file. Open never panics;
// it either fails with ErrCorrupt or keeps a prefix of the file whose
// records all read back, and the spool then works.
func FuzzSpoolRecovery(f *testing.F) {
	dir := f.TempDir()
	s := open(f, dir, Options{NoSync: true})
	appendEach(f, s, 0, 3)
	if err := s.Append(recs(3, 6)...); err != nil {
		f.Fatal(err)
	}
	if err := s.Append(sampleRecords()[:5]...); err != nil {
		f.Fatal(err)
	}
	closeSpool(f, s)
	valid, err := os.ReadFile(segmentFiles(f, dir)[0])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-7])
	f.Add(valid[:segmentHeaderLen+3])
	f.Add(append(bytes.Clone(valid), make([]byte, 100)...))
	damaged := bytes.Clone(valid)
	damaged[segmentHeaderLen+20] ^= 1
	f.Add(damaged)
	f.Add([]byte(segmentMagic))
	f.Add([]byte("TPSP"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		name := filepath.Join(dir, segmentName(1))
		if err := os.WriteFile(name, data, 0o640); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, Options{NoSync: true, Logger: quiet()})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open: %v; want ErrCorrupt or success", err)
			}
			return
		}
		defer s.Close()
		got := peekAll(t, s)
		if int64(len(got)) != s.Len() {
			t.Fatalf("Peek gave %d records; Len says %d", len(got), s.Len())
		}
		if kept, err := os.ReadFile(name); err == nil {
			if !bytes.HasPrefix(data, kept) {
				t.Fatalf("recovered file (%d bytes) is not a prefix of the input (%d bytes)", len(kept), len(data))
			}
		} else if len(got) > 0 {
			t.Fatalf("segment gone but %d records recovered: %v", len(got), err)
		}
		if err := s.Append(rec(1)); err != nil {
			t.Fatalf("Append after recovery: %v", err)
		}
		all := peekAll(t, s)
		if len(all) != len(got)+1 || sameRecord(all[len(got)], rec(1)) != "" {
			t.Fatalf("after Append: %d records; want %d ending with the new one", len(all), len(got)+1)
		}
	})
}

// FuzzDecodeRecord: any payload decodes or fails with ErrCorrupt, and what
// decodes encodes back to the same record.
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range sampleRecords() {
		b, err := appendRecord(nil, r, flagFirst)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[recordHeaderLen:])
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		r, flags, err := decodeRecord(p)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeRecord: %v; want ErrCorrupt", err)
			}
			return
		}
		b, err := appendRecord(nil, r, flags&^flagTime)
		if err != nil {
			t.Fatalf("encoding a decoded record: %v", err)
		}
		again, _, err := decodeRecord(b[recordHeaderLen:])
		if err != nil {
			t.Fatalf("decoding a re-encoded record: %v", err)
		}
		if d := sameRecord(again, r); d != "" {
			t.Fatal(d)
		}
	})
}
