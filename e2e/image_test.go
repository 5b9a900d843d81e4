package e2e

import (
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// TestImageBuildStage replays each Dockerfile's build stage without Docker:
// the build context is the repository as .dockerignore leaves it (read by
// the matcher Docker itself uses), each COPY copies from it into a scratch
// root, and the stage's go build runs in its WORKDIR with no go.work, as in
// the image. So a module the service needs but the image leaves out (a
// replace directive with no COPY, or a folder .dockerignore drops) fails
// here rather than at `make apps-up`.
func TestImageBuildStage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both services")
	}
	root := repoRoot(t)
	ctx := buildContext(t, root)
	for _, svc := range appServices {
		t.Run(svc, func(t *testing.T) {
			lines := dockerfile(t, filepath.Join(root, svc, "Dockerfile"))
			// The modules go.mod points at must be in the context.
			for _, m := range regexp.MustCompile(`(?m)^replace \S+ => (\.\./\S+)$`).FindAllStringSubmatch(readFile(t, filepath.Join(root, svc, "go.mod")), -1) {
				dir := path.Clean(path.Join(svc, m[1]))
				if _, err := os.Stat(filepath.Join(ctx, dir, "go.mod")); err != nil {
					t.Errorf("%s/go.mod replaces a module with %s, which the build context (.dockerignore) leaves out", svc, dir)
				}
			}
			scratch := t.TempDir()
			workdir := "/"
			built := false
			for _, l := range lines {
				f := strings.Fields(l)
				if strings.HasPrefix(l, "FROM ") && !strings.Contains(l, " AS build") {
					break // the build stage is the first
				}
				switch {
				case f[0] == "WORKDIR":
					workdir = path.Join(workdir, f[1])
				case f[0] == "COPY" && !strings.HasPrefix(f[1], "--"):
					dest := f[len(f)-1]
					if !path.IsAbs(dest) {
						dest = path.Join(workdir, dest)
					}
					for _, src := range f[1 : len(f)-1] {
						dockerCopy(t, ctx, src, filepath.Join(scratch, filepath.FromSlash(dest)), strings.HasSuffix(f[len(f)-1], "/"))
					}
				case f[0] == "RUN" && strings.Contains(l, "go build"):
					cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(t.TempDir(), svc), ".")
					cmd.Dir = filepath.Join(scratch, filepath.FromSlash(workdir))
					cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly", "CGO_ENABLED=0")
					if out, err := cmd.CombinedOutput(); err != nil {
						t.Fatalf("%s/Dockerfile: go build in %s failed: %v\n%s", svc, workdir, err, out)
					}
					built = true
				}
			}
			if !built {
				t.Fatalf("%s/Dockerfile: no RUN ... go build in the build stage", svc)
			}
		})
	}
}

// buildContext copies the files of root that .dockerignore lets into the
// build context to a temporary folder, and returns it.
func buildContext(t *testing.T, root string) string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}
	ctx := t.TempDir()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		excluded, err := pm.MatchesOrParentMatches(rel)
		if err != nil {
			return err
		}
		if d.IsDir() {
			// An excluded folder is still walked when a ! pattern may
			// take something inside it back, as Docker does.
			if excluded && !slices.ContainsFunc(pm.Patterns(), func(p *patternmatcher.Pattern) bool {
				return p.Exclusion() && strings.HasPrefix(p.String(), rel+"/")
			}) {
				return filepath.SkipDir
			}
			return nil
		}
		if excluded || !d.Type().IsRegular() {
			return nil
		}
		return copyFile(p, filepath.Join(ctx, filepath.FromSlash(rel)))
	})
	if err != nil {
		t.Fatalf("building the context: %v", err)
	}
	return ctx
}

// dockerCopy does what COPY name dest does with the build context ctx: a
// folder's contents go into dest, a file goes to dest (into it when dest
// ends with /).
func dockerCopy(t *testing.T, ctx, name, dest string, destIsDir bool) {
	t.Helper()
	src := filepath.Join(ctx, filepath.FromSlash(name))
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatalf("COPY %s: not in the build context (.dockerignore)", name)
	}
	if !fi.IsDir() {
		if destIsDir {
			dest = filepath.Join(dest, filepath.Base(src))
		}
		if err := copyFile(src, dest); err != nil {
			t.Fatal(err)
		}
		return
	}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		return copyFile(p, filepath.Join(dest, rel))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(src, dest string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dest, b, 0o644)
}
