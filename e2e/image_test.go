package e2e

import (
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"
)

// TestImageBuildStage replays each Dockerfile's build stage without Docker:
// the build context is the repository as .dockerignore leaves it (read by
// the matcher Docker itself uses), each COPY copies from it into a scratch
// root, and the stage's go build runs in its WORKDIR with no go.work, as in
// the image: the RUN line's variables (CGO_ENABLED) and go build's flags
// (-tags, -ldflags, with the stage's ARG defaults) as the Dockerfile gives
// them. So a module the service needs but the image leaves out (a replace
// directive with no COPY, or a folder .dockerignore drops), a tag or a flag
// that breaks the build, fails here rather than at `make apps-up`; so does a
// binary that is not static (the runtime image, distroless static, has no
// libc) or lacks a module the image must link (imageDeps).
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
			args := map[string]string{} // the stage's ARG defaults
			built := false
			for _, l := range lines {
				f := strings.Fields(l)
				if strings.HasPrefix(l, "FROM ") && !strings.Contains(l, " AS build") {
					break // the build stage is the first
				}
				switch {
				case f[0] == "WORKDIR":
					workdir = path.Join(workdir, f[1])
				case f[0] == "ARG":
					name, value, _ := strings.Cut(f[1], "=")
					args[name] = value
				case f[0] == "COPY" && !strings.HasPrefix(f[1], "--"):
					dest := f[len(f)-1]
					if !path.IsAbs(dest) {
						dest = path.Join(workdir, dest)
					}
					for _, src := range f[1 : len(f)-1] {
						dockerCopy(t, ctx, src, filepath.Join(scratch, filepath.FromSlash(dest)), strings.HasSuffix(f[len(f)-1], "/"))
					}
				case f[0] == "RUN" && strings.Contains(l, "go build"):
					env, flags, err := goBuild(strings.TrimPrefix(l, "RUN "), args)
					if err != nil {
						t.Fatalf("%s/Dockerfile: %v", svc, err)
					}
					if slices.Contains(env, "CGO_ENABLED=1") {
						needStaticCgo(t)
					}
					bin := filepath.Join(t.TempDir(), svc)
					cmd := exec.Command("go", append(append([]string{"build"}, flags...), "-o", bin, ".")...)
					cmd.Dir = filepath.Join(scratch, filepath.FromSlash(workdir))
					cmd.Env = append(append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly"), env...)
					if out, err := cmd.CombinedOutput(); err != nil {
						t.Fatalf("%s/Dockerfile: %s in %s failed: %v\n%s", svc, strings.Join(append(env, cmd.Args...), " "), workdir, err, out)
					}
					checkImageBinary(t, svc, bin)
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

// imageDeps are modules a service's image must link: the producer's
// compresses zstd batches with the C library (the libzstd build).
var imageDeps = map[string][]string{
	"producer": {"github.com/DataDog/zstd"},
}

// checkImageBinary fails unless bin, the build stage's binary, runs on a
// root file system without libc (no ELF interpreter, no shared library) and
// links the modules imageDeps names for svc.
func checkImageBinary(t *testing.T, svc, bin string) {
	t.Helper()
	if runtime.GOOS == "linux" {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s/Dockerfile builds a dynamically linked binary (it has an ELF interpreter); the runtime image has no libc", svc)
			}
		}
		if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
			t.Errorf("%s/Dockerfile builds a binary that needs the shared libraries %v (%v); the runtime image has none", svc, libs, err)
		}
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range imageDeps[svc] {
		if !slices.ContainsFunc(info.Deps, func(m *debug.Module) bool { return m.Path == want }) {
			t.Errorf("%s/Dockerfile builds a binary without %s; want it linked (build settings: %v)", svc, want, info.Settings)
		}
	}
}

// needStaticCgo skips unless this machine can link a static cgo binary for
// Linux, as the golang image does: gcc and libc6-dev's libc.a.
func needStaticCgo(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("the build stage links a static cgo binary for Linux; this is %s", runtime.GOOS)
	}
	out, err := exec.Command("go", "env", "CC").Output()
	cc := strings.TrimSpace(string(out))
	if err != nil || cc == "" {
		t.Skipf("go env CC: %v", err)
	}
	libc, err := exec.Command(cc, "-print-file-name=libc.a").Output()
	if err != nil || !filepath.IsAbs(strings.TrimSpace(string(libc))) {
		t.Skipf("the build stage links a static cgo binary: %s finds no libc.a (install gcc and libc6-dev, as the golang image has them)", cc)
	}
}

// goBuild reads the go build command of a RUN line (one joined line, as
// dockerfile gives it) as the image's shell would, parsed and expanded by
// mvdan.cc/sh: env holds the command's NAME=value assignments, flags its
// words after `go build` but -o and its value and the package; variables
// expand to args (the stage's ARG defaults), and one args lacks is an
// error, as under `set -u`.
func goBuild(run string, args map[string]string) (env, flags []string, err error) {
	file, err := syntax.NewParser().Parse(strings.NewReader(run), "RUN")
	if err != nil {
		return nil, nil, err
	}
	var pairs []string
	for name, value := range args {
		pairs = append(pairs, name+"="+value)
	}
	cfg := &expand.Config{Env: expand.ListEnviron(pairs...), NoUnset: true}
	// The command with go build among those the line joins (&&, ;).
	var call *syntax.CallExpr
	syntax.Walk(file, func(n syntax.Node) bool {
		if c, ok := n.(*syntax.CallExpr); ok && call == nil && len(c.Args) >= 2 && c.Args[0].Lit() == "go" && c.Args[1].Lit() == "build" {
			call = c
		}
		return call == nil
	})
	if call == nil {
		return nil, nil, fmt.Errorf("no go build command in %q", run)
	}
	for _, a := range call.Assigns {
		v, err := expand.Literal(cfg, a.Value)
		if err != nil {
			return nil, nil, fmt.Errorf("%s in %q: %w (no ARG of the stage)", a.Name.Value, run, err)
		}
		env = append(env, a.Name.Value+"="+v)
	}
	cmd, err := expand.Fields(cfg, call.Args[2:]...)
	if err != nil {
		return nil, nil, fmt.Errorf("%q: %w (no ARG of the stage)", run, err)
	}
	pkgs := 0
	for i := 0; i < len(cmd); i++ {
		switch w := cmd[i]; {
		case w == "-o":
			i++ // the image's output path
		case strings.HasPrefix(w, "-o="):
		case strings.HasPrefix(w, "-"):
			flags = append(flags, w)
			// The build flags that take a value as the next word.
			if !strings.Contains(w, "=") && slices.Contains([]string{"-tags", "-ldflags", "-gcflags", "-asmflags", "-gccgoflags", "-mod", "-modfile", "-overlay", "-pgo", "-p", "-buildmode", "-compiler", "-installsuffix", "-pkgdir", "-toolexec", "-covermode", "-coverpkg", "-C"}, w) && i+1 < len(cmd) {
				i++
				flags = append(flags, cmd[i])
			}
		default:
			if w != "." {
				return nil, nil, fmt.Errorf("go build of %q; want the package in WORKDIR (.)", w)
			}
			pkgs++
		}
	}
	if pkgs != 1 {
		return nil, nil, fmt.Errorf("go build with %d packages; want the one in WORKDIR (.)", pkgs)
	}
	return env, flags, nil
}
