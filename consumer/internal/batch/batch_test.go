package batch

import (
	"testing"
	"time"
)

func TestNewDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Limits
		want Limits
	}{
		{"zero takes defaults", Limits{}, Limits{MaxRecords: 10000, MaxBytes: 4 << 20, MaxWait: time.Second}},
		{"negative takes defaults", Limits{MaxRecords: -1, MaxBytes: -1, MaxWait: -time.Second}, Limits{MaxRecords: 10000, MaxBytes: 4 << 20, MaxWait: time.Second}},
		{"set fields kept", Limits{MaxRecords: 5, MaxBytes: 10, MaxWait: time.Minute}, Limits{MaxRecords: 5, MaxBytes: 10, MaxWait: time.Minute}},
		{"mixed", Limits{MaxBytes: 10}, Limits{MaxRecords: 10000, MaxBytes: 10, MaxWait: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := New(tt.in).Limits(); got != tt.want {
				t.Errorf("got %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestAdd(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	type add struct {
		n    int
		at   time.Duration // since t0
		full bool          // expected return of Add
	}
	tests := []struct {
		name      string
		limits    Limits
		adds      []add
		wantLen   int
		wantBytes int
	}{
		{
			name:    "full by record count",
			limits:  Limits{MaxRecords: 3, MaxBytes: 1000},
			adds:    []add{{10, 0, false}, {10, 0, false}, {10, 0, true}},
			wantLen: 3, wantBytes: 30,
		},
		{
			name:    "full when bytes reach the limit exactly",
			limits:  Limits{MaxRecords: 100, MaxBytes: 30},
			adds:    []add{{10, 0, false}, {20, 0, true}},
			wantLen: 2, wantBytes: 30,
		},
		{
			name:    "full when bytes cross the limit",
			limits:  Limits{MaxRecords: 100, MaxBytes: 30},
			adds:    []add{{25, 0, false}, {10, 0, true}},
			wantLen: 2, wantBytes: 35,
		},
		{
			name:    "record larger than MaxBytes is a batch of one",
			limits:  Limits{MaxRecords: 100, MaxBytes: 30},
			adds:    []add{{31, 0, true}},
			wantLen: 1, wantBytes: 31,
		},
		{
			name:    "empty record counts toward MaxRecords",
			limits:  Limits{MaxRecords: 2, MaxBytes: 30},
			adds:    []add{{0, 0, false}, {0, 0, true}},
			wantLen: 2, wantBytes: 0,
		},
		{
			name:    "time does not make Add report full",
			limits:  Limits{MaxRecords: 10, MaxBytes: 100, MaxWait: time.Second},
			adds:    []add{{1, 0, false}, {1, time.Hour, false}},
			wantLen: 2, wantBytes: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(tt.limits)
			for i, a := range tt.adds {
				if got := b.Add(a.n, t0.Add(a.at)); got != a.full {
					t.Errorf("Add #%d(%d): got full=%v; want %v", i, a.n, got, a.full)
				}
			}
			if got := b.Len(); got != tt.wantLen {
				t.Errorf("Len: got %d; want %d", got, tt.wantLen)
			}
			if got := b.Bytes(); got != tt.wantBytes {
				t.Errorf("Bytes: got %d; want %d", got, tt.wantBytes)
			}
		})
	}
}

func TestFits(t *testing.T) {
	tests := []struct {
		name    string
		already []int
		n       int
		want    bool
	}{
		{"empty batch fits anything", nil, 1 << 30, true},
		{"fits under the limit", []int{10}, 10, true},
		{"fits exactly at the limit", []int{10}, 20, true},
		{"does not fit past the limit", []int{10}, 21, false},
		{"zero bytes fit a full-size batch", []int{30}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(Limits{MaxBytes: 30})
			for _, n := range tt.already {
				b.Add(n, time.Time{})
			}
			if got := b.Fits(tt.n); got != tt.want {
				t.Errorf("Fits(%d) after %v: got %v; want %v", tt.n, tt.already, got, tt.want)
			}
		})
	}
}

func TestDeadlineAndDue(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	limits := Limits{MaxRecords: 3, MaxBytes: 100, MaxWait: time.Second}
	tests := []struct {
		name         string
		adds         []time.Duration // each adds a 1-byte record at t0+d
		now          time.Duration
		wantDeadline time.Duration
		wantOK       bool
		wantDue      bool
	}{
		{"empty batch has no deadline and is never due", nil, time.Hour, 0, false, false},
		{"young batch is not due", []time.Duration{0}, 999 * time.Millisecond, time.Second, true, false},
		{"due exactly at the deadline", []time.Duration{0}, time.Second, time.Second, true, true},
		{"due after the deadline", []time.Duration{0}, 2 * time.Second, time.Second, true, true},
		{"deadline runs from the first record", []time.Duration{0, 900 * time.Millisecond}, time.Second, time.Second, true, true},
		{"later first record, later deadline", []time.Duration{500 * time.Millisecond}, time.Second, 1500 * time.Millisecond, true, false},
		{"full batch is due at once", []time.Duration{0, 0, 0}, 0, time.Second, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(limits)
			for _, d := range tt.adds {
				b.Add(1, t0.Add(d))
			}
			deadline, ok := b.Deadline()
			if ok != tt.wantOK {
				t.Fatalf("Deadline ok: got %v; want %v", ok, tt.wantOK)
			}
			want := time.Time{}
			if tt.wantOK {
				want = t0.Add(tt.wantDeadline)
			}
			if !deadline.Equal(want) {
				t.Errorf("Deadline: got %v; want %v", deadline, want)
			}
			if got := b.Due(t0.Add(tt.now)); got != tt.wantDue {
				t.Errorf("Due(t0+%v): got %v; want %v", tt.now, got, tt.wantDue)
			}
		})
	}
}

func TestReset(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	b := New(Limits{MaxRecords: 2, MaxBytes: 100, MaxWait: time.Second})
	b.Add(10, t0)
	b.Add(10, t0)
	b.Reset()

	if got := b.Len(); got != 0 {
		t.Errorf("Len after Reset: got %d; want 0", got)
	}
	if got := b.Bytes(); got != 0 {
		t.Errorf("Bytes after Reset: got %d; want 0", got)
	}
	if _, ok := b.Deadline(); ok {
		t.Errorf("Deadline after Reset: got ok=true; want false")
	}
	if b.Due(t0.Add(time.Hour)) {
		t.Errorf("Due after Reset: got true; want false")
	}
	// The clock restarts with the next first record.
	t1 := t0.Add(time.Minute)
	if full := b.Add(1, t1); full {
		t.Errorf("Add after Reset: got full=true; want false")
	}
	if d, _ := b.Deadline(); !d.Equal(t1.Add(time.Second)) {
		t.Errorf("Deadline after Reset and Add: got %v; want %v", d, t1.Add(time.Second))
	}
}

// TestDefaultsCutByBytes: at the defaults, a batch of posts of 1 KB or of
// 500 bytes (Jetstream events, small tweets) is cut by BATCH_MAX_BYTES, not
// by the record count: each batch costs fsyncs and a commit whatever it
// holds, and a backlog of 1.5 KB statuses took about a third longer to
// archive in 1,000-record batches.
func TestDefaultsCutByBytes(t *testing.T) {
	now := time.Now()
	for _, size := range []int{500, 1024, 1500} {
		b := New(Limits{})
		n := 0
		for !b.Full() {
			b.Add(size, now)
			n++
		}
		if want := int((DefaultMaxBytes + int64(size) - 1) / int64(size)); n != want {
			t.Errorf("%d-byte records: batch full after %d records (%d bytes); want %d records, the first to reach %d bytes",
				size, n, b.Bytes(), want, DefaultMaxBytes)
		}
	}
}
