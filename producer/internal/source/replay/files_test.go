package replay

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"2018/03/01.json.bz2", "2018/03/02.json", "2018/03/02.txt", "x.jsonl"} {
		write(t, filepath.Join(dir, n), nil)
	}
	tests := []struct {
		name    string
		path    string
		want    []string
		wantErr string
	}{
		{"directory", dir, []string{"2018/03/01.json.bz2", "2018/03/02.json", "x.jsonl"}, ""},
		{"glob", filepath.Join(dir, "2018", "*", "*.json*"), []string{"2018/03/01.json.bz2", "2018/03/02.json"}, ""},
		{"one file, whatever its name", filepath.Join(dir, "2018/03/02.txt"), []string{"2018/03/02.txt"}, ""},
		{"nothing there", filepath.Join(dir, "missing.json"), nil, "REPLAY_PATH"},
		{"empty directory", t.TempDir(), nil, "REPLAY_PATH: no .json or .jsonl files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Files(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				got[i], _ = filepath.Rel(dir, got[i])
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("got %v; want %v", got, tt.want)
			}
		})
	}
}
