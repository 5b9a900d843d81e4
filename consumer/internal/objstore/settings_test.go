package objstore

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/tweetpipe/tweetpipe/consumer/internal/archive"
)

// storeWith returns a store on s's bucket under s's prefix plus sub, with
// layout and compression.
func storeWith(t *testing.T, s *Store, sub string, layout archive.Layout, compression string) *Store {
	t.Helper()
	cfg := s.cfg
	cfg.Prefix += sub
	cfg.Layout, cfg.Compression = layout, compression
	st, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestCheckRecordsSettings: the first consumer to start on a prefix
// records its OUTPUT_LAYOUT and OUTPUT_COMPRESSION there; one with the
// same settings starts, one with others is refused at start with an error
// naming each variable that differs, the prefix's value and who recorded
// it.
func TestCheckRecordsSettings(t *testing.T) {
	s := testStore(t) // Check recorded the defaults: dated, none
	ctx := context.Background()
	rec, found, err := s.readSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !found || rec.Layout != "dated" || rec.Compression != "none" || rec.Host == "" || rec.Time.IsZero() {
		t.Fatalf("the prefix's settings = %+v, found %v; want dated, none, with the host and time", rec, found)
	}
	by := fmt.Sprintf("recorded in %s by host %s at %s", s.cfg.SettingsKey(), rec.Host, rec.Time.Format("2006-01-02T15:04:05Z07:00"))
	for _, tt := range []struct {
		layout      archive.Layout
		compression string
		want        string // "": starts
	}{
		{"", "", ""},
		{archive.LayoutDated, archive.CompressionNone, ""},
		{archive.LayoutHive, "", "OUTPUT_LAYOUT=hive, but OUTPUT_URL=" + s.cfg.URL + " is written with OUTPUT_LAYOUT=dated (" + by +
			"): set OUTPUT_LAYOUT=dated, or write to another OUTPUT_URL prefix"},
		{archive.LayoutDated, archive.CompressionZstd, "OUTPUT_COMPRESSION=zstd, but OUTPUT_URL=" + s.cfg.URL + " is written with OUTPUT_COMPRESSION=none (" + by +
			"): set OUTPUT_COMPRESSION=none, or write to another OUTPUT_URL prefix"},
		{archive.LayoutHive, archive.CompressionGzip, "OUTPUT_LAYOUT=hive and OUTPUT_COMPRESSION=gzip, but OUTPUT_URL=" + s.cfg.URL +
			" is written with OUTPUT_LAYOUT=dated and OUTPUT_COMPRESSION=none (" + by +
			"): set OUTPUT_LAYOUT=dated OUTPUT_COMPRESSION=none, or write to another OUTPUT_URL prefix"},
	} {
		err := storeWith(t, s, "", tt.layout, tt.compression).Check(ctx)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("Check with OUTPUT_LAYOUT=%q OUTPUT_COMPRESSION=%q: got %q; want %q", tt.layout, tt.compression, got, tt.want)
		}
	}
	if again, _, err := s.readSettings(ctx); err != nil || again != rec {
		t.Fatalf("the prefix's settings after the others started: %+v (%v); want %+v, unchanged", again, err, rec)
	}
	// Another prefix of the same bucket is another archive: it takes the
	// settings of the first consumer that starts there.
	other := storeWith(t, s, "/other", archive.LayoutHive, archive.CompressionGzip)
	if err := other.Check(ctx); err != nil {
		t.Fatalf("Check on an empty prefix: got %v; want nil", err)
	}
	if got, _, err := other.readSettings(ctx); err != nil || got.Layout != "hive" || got.Compression != "gzip" {
		t.Fatalf("the empty prefix's settings: %+v (%v); want hive, gzip", got, err)
	}
}

// TestCheckSettingsRace: consumers with different settings starting
// together on an empty prefix: one records its settings, the others are
// refused (the record is written with If-None-Match: *).
func TestCheckSettingsRace(t *testing.T) {
	s := testStore(t)
	ctx := context.Background()
	for round := range 3 {
		sub := fmt.Sprintf("/race%d", round)
		stores := []*Store{
			storeWith(t, s, sub, archive.LayoutDated, archive.CompressionNone),
			storeWith(t, s, sub, archive.LayoutHive, archive.CompressionNone),
			storeWith(t, s, sub, archive.LayoutDated, archive.CompressionZstd),
		}
		errs := make([]error, len(stores))
		var wg sync.WaitGroup
		for i, st := range stores {
			wg.Go(func() { errs[i] = st.Check(ctx) })
		}
		wg.Wait()
		rec, _, err := stores[0].readSettings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		started := 0
		for i, st := range stores {
			if errs[i] == nil {
				started++
				if want := st.cfg.settings(); rec.Layout != want.Layout || rec.Compression != want.Compression {
					t.Errorf("round %d: a consumer with %+v started; the prefix records %+v", round, want, rec)
				}
			}
		}
		if started != 1 {
			t.Errorf("round %d: %d consumers started (errors %v); want 1", round, started, errs)
		}
	}
}
