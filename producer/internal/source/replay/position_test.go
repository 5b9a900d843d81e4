package replay

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDecodePosition(t *testing.T) {
	ok := Position{Path: "/data/*.tar", Input: "/data/a.tar", Member: "2018/03/10/14/03.json.bz2", Line: 42, Done: []string{"/data/0.tar", "/data/b.tar"}}
	tests := []struct {
		name    string
		data    string
		want    Position
		wantErr string
	}{
		{"as written", string(EncodePosition(ok)), ok, ""},
		{"plain file, no member", `{"version":2,"replay_path":"d","input":"d/a.json","member":"","line":1}`,
			Position{Path: "d", Input: "d/a.json", Line: 1}, ""},
		{"version 1: no done list", `{"version":1,"replay_path":"d","input":"d/a.json","member":"","line":1}`,
			Position{Path: "d", Input: "d/a.json", Line: 1, Legacy: true}, ""},
		{"version 1 with a done list", `{"version":1,"replay_path":"d","input":"i","line":1,"done":["a"]}`, Position{}, "version 1 with a done list"},
		{"empty", ``, Position{}, "not a replay position"},
		{"truncated", `{"version":1,"replay_path":"d"`, Position{}, "not a replay position"},
		{"unknown field", `{"version":1,"replay_path":"d","input":"i","line":1,"offset":3}`, Position{}, `unknown field "offset"`},
		{"two objects", `{"version":1,"replay_path":"d","input":"i","line":1}{}`, Position{}, "data after the object"},
		{"not an object", `[1]`, Position{}, "not a replay position"},
		{"line as string", `{"version":1,"replay_path":"d","input":"i","line":"1"}`, Position{}, "not a replay position"},
		{"other version", `{"version":3,"replay_path":"d","input":"i","line":1}`, Position{}, "version 3"},
		{"no version", `{"replay_path":"d","input":"i","line":1}`, Position{}, "version 0"},
		{"no path", `{"version":1,"input":"i","line":1}`, Position{}, "without replay_path"},
		{"no input", `{"version":1,"replay_path":"d","line":1}`, Position{}, "without input"},
		{"line 0", `{"version":1,"replay_path":"d","input":"i","line":0}`, Position{}, "line 0"},
		{"negative line", `{"version":1,"replay_path":"d","input":"i","line":-3}`, Position{}, "line -3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodePosition([]byte(tt.data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v; want %+v", got, tt.want)
			}
		})
	}
}

// TestSavePosition: the file is replaced whole and no temporary file stays.
func TestSavePosition(t *testing.T) {
	dir := t.TempDir()
	for line := int64(1); line <= 3; line++ {
		p := Position{Path: "p", Input: "i", Member: "m", Line: line}
		if err := savePosition(dir, p); err != nil {
			t.Fatal(err)
		}
		got, err := loadPosition(dir)
		if err != nil || !reflect.DeepEqual(*got, p) {
			t.Fatalf("loaded %+v, %v; want %+v", got, err, p)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != PositionFile {
		t.Fatalf("STATE_DIR holds %v; want only %s", entries, PositionFile)
	}
	if p, err := loadPosition(t.TempDir()); p != nil || err != nil {
		t.Fatalf("no file: got %+v, %v; want nil, nil", p, err)
	}
	write(t, filepath.Join(dir, PositionFile), []byte("{"))
	if _, err := loadPosition(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, PositionFile)) {
		t.Fatalf("err = %v; want one naming the file", err)
	}
}

func FuzzDecodePosition(f *testing.F) {
	f.Add(EncodePosition(Position{Path: "/data", Input: "/data/a.tar", Member: "2018/03/10/14/03.json.bz2", Line: 7}))
	f.Add([]byte(`{"version":1,"replay_path":"d","input":"i","line":1}`))
	f.Add([]byte(`{"version":1,"replay_path":"d","input":"i","line":1} `))
	f.Add([]byte(`{"version":1,"replay_path":"\u00e9","input":"\ud800","line":9007199254740993}`))
	f.Add([]byte(`{"VERSION":1,"Replay_Path":"d","input":"i","line":1e3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodePosition(data)
		if err != nil {
			return
		}
		if p.Path == "" || p.Input == "" || p.Line < 1 {
			t.Fatalf("accepted an invalid position %+v from %q", p, data)
		}
		again, err := DecodePosition(EncodePosition(p))
		if err != nil {
			t.Fatalf("decoding what EncodePosition wrote for %+v: %v", p, err)
		}
		if !reflect.DeepEqual(again, p) {
			t.Fatalf("round trip: got %+v; want %+v", again, p)
		}
	})
}
