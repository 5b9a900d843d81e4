package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tweetpipe/tweetpipe/internal/envconf"
)

const (
	kafkaCompose = "docker-compose.kafka.yml"
	appsCompose  = "docker-compose.apps.yml"
	network      = "kafka-network"
)

// appServices are the services of docker-compose.apps.yml, each built from
// the module of the same name (with the Dockerfile there, from the
// repository's root) into the binary /<name>.
var appServices = []string{"producer", "consumer"}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// loadCompose parses file the way `docker compose` does, with env as the
// only environment for interpolation (no shell, no .env), and without
// reading env_file: .env is the user's copy of .env.example and need not
// exist. compose-go does not open secret files or build contexts while
// loading, so missing ./secrets/* do not fail it either.
func loadCompose(t *testing.T, root, file string, env ...string) *types.Project {
	t.Helper()
	return loadComposeProfiles(t, root, file, nil, env...)
}

// loadComposeProfiles is loadCompose with these Compose profiles enabled.
func loadComposeProfiles(t *testing.T, root, file string, profiles []string, env ...string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, file)},
		cli.WithWorkingDirectory(root),
		cli.WithName("tweetpipe"),
		cli.WithEnv(env),
		cli.WithProfiles(profiles),
		cli.WithLoadOptions(func(o *loader.Options) { o.SkipResolveEnvironment = true }),
	)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("loading %s with compose-go: %v", file, err)
	}
	return p
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// serviceVars returns the variables a service binary reads: the KEY column
// of its -h table, the *_FILE variables its descriptions name, and HTTP_ADDR.
func serviceVars(t *testing.T, svc string) []string {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, svc), "-h")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s -h: %v", svc, err)
	}
	var vars []string
	table := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 2 && f[0] == "KEY" && f[1] == "TYPE":
			table = true
		case table && len(f) > 0:
			vars = append(vars, f[0])
		}
	}
	if len(vars) == 0 {
		t.Fatalf("%s -h: no KEY column in\n%s", svc, out)
	}
	vars = append(vars, regexp.MustCompile(`\b[A-Z][A-Z0-9_]*_FILE\b`).FindAllString(string(out), -1)...)
	if !slices.Contains(vars, "HTTP_ADDR") {
		t.Errorf("%s -h does not list HTTP_ADDR; want it (the address of /healthz, /readyz and /metrics, default :8080)", svc)
		vars = append(vars, "HTTP_ADDR")
	}
	slices.Sort(vars)
	return slices.Compact(vars)
}

// documented returns the variables .env.example names, set or commented out.
func documented(t *testing.T, root string) map[string]bool {
	t.Helper()
	re := regexp.MustCompile(`(?m)^#?\s*([A-Z][A-Z0-9_]*)=`)
	doc := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(readFile(t, filepath.Join(root, ".env.example")), -1) {
		doc[m[1]] = true
	}
	return doc
}

// dockerfile is what the tests need of a Dockerfile: its instructions, with
// continuation lines joined and comments dropped.
func dockerfile(t *testing.T, name string) []string {
	t.Helper()
	text := strings.ReplaceAll(readFile(t, name), "\\\n", " ")
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, strings.Join(strings.Fields(l), " "))
		}
	}
	return lines
}

func TestComposeFiles(t *testing.T) {
	root := repoRoot(t)
	kafka := loadCompose(t, root, kafkaCompose)
	apps := loadCompose(t, root, appsCompose, "TWEETPIPE_VERSION=1.2.3")
	projects := map[string]*types.Project{kafkaCompose: kafka, appsCompose: apps}

	t.Run("no top-level version", func(t *testing.T) {
		// compose-go drops `version` with a warning, so read the files.
		re := regexp.MustCompile(`(?m)^["']?version["']?\s*:`)
		for file := range projects {
			if re.MatchString(readFile(t, filepath.Join(root, file))) {
				t.Errorf("%s has a top-level version key; want none (obsolete in the Compose specification)", file)
			}
		}
	})

	t.Run("external network", func(t *testing.T) {
		for file, p := range projects {
			n, ok := p.Networks["default"]
			if !ok || !bool(n.External) || n.Name != network {
				t.Errorf("%s: networks.default = %+v; want {name: %s, external: true}", file, n, network)
			}
			for _, s := range p.Services {
				for name := range s.Networks {
					if name != "default" {
						t.Errorf("%s: service %s joins network %q; want only the default (%s)", file, s.Name, name, network)
					}
				}
			}
		}
	})

	t.Run("healthchecks", func(t *testing.T) {
		for file, p := range projects {
			for _, s := range p.Services {
				if h := s.HealthCheck; h == nil || h.Disable || len(h.Test) == 0 {
					t.Errorf("%s: service %s has no healthcheck; want one", file, s.Name)
				}
			}
		}
		for _, svc := range appServices {
			s := apps.Services[svc]
			want := []string{"CMD", "/" + svc, "-healthcheck"}
			if s.HealthCheck == nil || !slices.Equal([]string(s.HealthCheck.Test), want) {
				t.Errorf("%s: %s healthcheck test = %v; want %q (the binary probes itself: no shell or curl in the image)", appsCompose, svc, s.HealthCheck, want)
			}
		}
	})

	t.Run("consumer scales", func(t *testing.T) {
		s, ok := apps.Services["consumer"]
		if !ok {
			t.Fatalf("%s has no consumer service", appsCompose)
		}
		if s.ContainerName != "" {
			t.Errorf("consumer container_name = %q; want none (--scale consumer=N needs distinct names)", s.ContainerName)
		}
		for _, p := range s.Ports {
			if p.Published != "" {
				t.Errorf("consumer publishes host port %s; want none (--scale consumer=N would collide)", p.Published)
			}
		}
	})

	t.Run("app services", func(t *testing.T) {
		for _, svc := range appServices {
			s, ok := apps.Services[svc]
			if !ok {
				t.Errorf("%s has no %s service", appsCompose, svc)
				continue
			}
			if s.Restart == "" || s.Restart == "no" {
				t.Errorf("%s restart = %q; want a restart policy", svc, s.Restart)
			}
			if !slices.ContainsFunc(s.EnvFiles, func(e types.EnvFile) bool { return e.Path == filepath.Join(root, ".env") }) {
				t.Errorf("%s env_file = %v; want .env (the user's copy of .env.example)", svc, s.EnvFiles)
			}
			if want := "tweetpipe-" + svc + ":1.2.3"; s.Image != want {
				t.Errorf("%s image with TWEETPIPE_VERSION=1.2.3 = %q; want %q", svc, s.Image, want)
			}
			if s.Build == nil || s.Build.Context != root || s.Build.Dockerfile != svc+"/Dockerfile" {
				t.Errorf("%s build = %+v; want the context . (the modules it shares with the other service are there) and the dockerfile %s/Dockerfile", svc, s.Build, svc)
			} else if v := s.Build.Args["VERSION"]; v == nil || *v != "1.2.3" {
				t.Errorf("%s build arg VERSION = %v; want TWEETPIPE_VERSION (1.2.3)", svc, v)
			}
			if a := s.Environment["HTTP_ADDR"]; a == nil || *a != ":8080" {
				t.Errorf("%s environment HTTP_ADDR = %v; want \":8080\" (the port the image EXPOSEs)", svc, a)
			}
		}
	})

	t.Run("consumer output on the host", func(t *testing.T) {
		s := apps.Services["consumer"]
		dir := s.Environment["OUTPUT_DIR"]
		if dir == nil || *dir == "" {
			t.Fatalf("consumer environment OUTPUT_DIR not set; want the mount point of the host folder")
		}
		if !slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
			return v.Type == types.VolumeTypeBind && v.Target == *dir && !v.ReadOnly
		}) {
			t.Errorf("consumer volumes = %+v; want a writable bind mount of a host folder at OUTPUT_DIR=%s", s.Volumes, *dir)
		}
	})

	doc := documented(t, root)
	vars := map[string][]string{}
	for _, svc := range appServices {
		vars[svc] = serviceVars(t, svc)
	}

	t.Run("variables documented", func(t *testing.T) {
		for _, svc := range appServices {
			for _, v := range vars[svc] {
				if !doc[v] {
					t.Errorf("%s reads %s; .env.example does not list it", svc, v)
				}
			}
			// What compose sets must be something the service reads.
			for k := range apps.Services[svc].Environment {
				if !slices.Contains(vars[svc], k) {
					t.Errorf("%s: %s environment sets %s; the %s does not read it (its -h does not list it)", appsCompose, svc, k, svc)
				}
			}
		}
		// .env is also where Compose reads its own variables from.
		model, err := loader.LoadModelWithContext(context.Background(), types.ConfigDetails{
			WorkingDir:  root,
			ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, appsCompose)}},
		}, func(o *loader.Options) {
			o.SkipInterpolation = true
			o.SkipResolveEnvironment = true
			o.SetProjectName("tweetpipe", true)
		})
		if err != nil {
			t.Fatalf("loading the raw model of %s: %v", appsCompose, err)
		}
		for name := range template.ExtractVariables(model, template.DefaultPattern) {
			if !doc[name] {
				t.Errorf("%s interpolates ${%s}; .env.example does not list it", appsCompose, name)
			}
		}
	})

	t.Run("secrets as files", func(t *testing.T) {
		// Every secret the producer can read from a file (X_FILE for a
		// variable X it reads; not KAFKA_TLS_CA_FILE and the like, which
		// are paths in their own right) names a Compose secret the service
		// mounts and the file declares with `file:`.
		reads := map[string]bool{}
		for _, v := range vars["producer"] {
			reads[v] = true
		}
		s := apps.Services["producer"]
		mounted := map[string]string{} // target path -> secret
		for _, sec := range s.Secrets {
			target := sec.Target
			if target == "" {
				target = sec.Source
			}
			if !path.IsAbs(target) {
				target = "/run/secrets/" + target
			}
			mounted[target] = sec.Source
		}
		n := 0
		for _, v := range vars["producer"] {
			if !strings.HasSuffix(v, "_FILE") || !reads[strings.TrimSuffix(v, "_FILE")] {
				continue
			}
			n++
			p := s.Environment[v]
			if p == nil {
				t.Errorf("producer environment does not set %s; want the path of a Compose secret", v)
				continue
			}
			name, ok := mounted[*p]
			if !ok {
				t.Errorf("producer %s=%s; no secret is mounted there (mounted: %v)", v, *p, mounted)
				continue
			}
			if d, ok := apps.Secrets[name]; !ok || d.File == "" {
				t.Errorf("secret %s = %+v; want a file-based secret (secrets.%s.file)", name, d, name)
			}
		}
		if n == 0 {
			t.Errorf("producer -h names no *_FILE variable; want the Twitter credentials readable from files")
		}
	})

	t.Run("containers reach kafka:9092 whatever .env says", func(t *testing.T) {
		// .env is for the host (KAFKA_BROKERS=localhost:9094 there), but
		// Compose interpolates it into the file and env_file hands it to
		// the containers: environment must win, with kafka:9092.
		for _, env := range [][]string{nil, {"KAFKA_BROKERS=localhost:9094"}} {
			p := loadCompose(t, root, appsCompose, env...)
			for _, svc := range appServices {
				got := p.Services[svc].Environment["KAFKA_BROKERS"]
				if got == nil || *got != "kafka:9092" {
					t.Errorf("%s with %q: %s environment KAFKA_BROKERS = %v; want kafka:9092", appsCompose, env, svc, deref(got))
				}
			}
		}
		p := loadCompose(t, root, appsCompose, "TWEETPIPE_KAFKA_BROKERS=broker-1:9092")
		for _, svc := range appServices {
			if got := p.Services[svc].Environment["KAFKA_BROKERS"]; got == nil || *got != "broker-1:9092" {
				t.Errorf("%s with TWEETPIPE_KAFKA_BROKERS=broker-1:9092: %s KAFKA_BROKERS = %v; want broker-1:9092", appsCompose, svc, deref(got))
			}
		}
	})

	t.Run("a project per stack", func(t *testing.T) {
		// One project for both (the folder's name) makes each stack's
		// containers orphans of the other: `up` warns, and
		// `down --remove-orphans` of the apps stops Kafka.
		names := map[string]string{}
		for file := range projects {
			m := regexp.MustCompile(`(?m)^name:\s*(\S+)\s*$`).FindStringSubmatch(readFile(t, filepath.Join(root, file)))
			if m == nil {
				t.Errorf("%s has no top-level name; want a Compose project of its own", file)
				continue
			}
			opts, err := cli.NewProjectOptions([]string{filepath.Join(root, file)}, cli.WithWorkingDirectory(root),
				cli.WithLoadOptions(func(o *loader.Options) { o.SkipResolveEnvironment = true }))
			if err != nil {
				t.Fatal(err)
			}
			p, err := opts.LoadProject(context.Background())
			if err != nil {
				t.Fatalf("loading %s: %v", file, err)
			}
			if p.Name != m[1] {
				t.Errorf("%s: project name = %q; want %q (its name key)", file, p.Name, m[1])
			}
			names[file] = p.Name
		}
		if len(names) == 2 && names[kafkaCompose] == names[appsCompose] {
			t.Errorf("both stacks are project %q; want one each", names[kafkaCompose])
		}
	})

	t.Run("hardened", func(t *testing.T) {
		// Where each service may write besides its volumes: Kafka's
		// entrypoint renders /opt/kafka/config, the broker logs to
		// /opt/kafka/logs, the JVM unpacks native libraries to /tmp; the
		// Go services write only to their mounts.
		tmpfs := map[string][]string{"kafka": {"/opt/kafka/config", "/opt/kafka/logs", "/tmp"}}
		for file, p := range projects {
			for _, s := range p.Services {
				if !s.ReadOnly {
					t.Errorf("%s: %s read_only = false; want a read-only root file system", file, s.Name)
				}
				if !slices.Equal(s.CapDrop, []string{"ALL"}) || len(s.CapAdd) > 0 {
					t.Errorf("%s: %s cap_drop = %v, cap_add = %v; want [ALL] and none", file, s.Name, s.CapDrop, s.CapAdd)
				}
				if !slices.ContainsFunc(s.SecurityOpt, func(o string) bool {
					return o == "no-new-privileges:true" || o == "no-new-privileges"
				}) {
					t.Errorf("%s: %s security_opt = %v; want no-new-privileges:true", file, s.Name, s.SecurityOpt)
				}
				var got []string
				for _, m := range s.Tmpfs {
					got = append(got, strings.SplitN(m, ":", 2)[0])
				}
				slices.Sort(got)
				if want := tmpfs[s.Name]; !slices.Equal(got, want) {
					t.Errorf("%s: %s tmpfs at %q; want %q (only where it writes)", file, s.Name, got, want)
				}
			}
		}
	})

	t.Run("image build takes the Go proxy from the shell", func(t *testing.T) {
		// A site with its own module proxy (or none but a mirror) builds
		// the images the way its Go does.
		vars := []string{"GOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GOFLAGS"}
		var env []string
		for _, v := range vars {
			env = append(env, v+"=site-"+strings.ToLower(v))
		}
		withGo := loadCompose(t, root, appsCompose, env...)
		for _, svc := range appServices {
			for _, v := range vars {
				want := "site-" + strings.ToLower(v)
				if a := withGo.Services[svc].Build.Args[v]; a == nil || *a != want {
					t.Errorf("%s with %s=%s in the shell: build arg %s = %s; want %s", svc, v, want, v, deref(a), want)
				}
				// Unset in the shell: left out, so Go's defaults apply.
				if a, ok := apps.Services[svc].Build.Args[v]; ok {
					t.Errorf("%s with %s unset: build arg %s = %s; want it left out", svc, v, v, deref(a))
				}
			}
			lines := dockerfile(t, filepath.Join(root, svc, "Dockerfile"))
			download := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "RUN go mod download") })
			for _, v := range vars {
				if i := slices.Index(lines, "ARG "+v); i < 0 || download < 0 || i > download {
					t.Errorf("%s/Dockerfile: ARG %s at line %d, go mod download at %d; want the ARG before it", svc, v, i, download)
				}
			}
		}
	})

	t.Run("kafka version", func(t *testing.T) {
		k, ok := kafka.Services["kafka"]
		if !ok {
			t.Fatalf("%s has no kafka service", kafkaCompose)
		}
		m := regexp.MustCompile(`^apache/kafka:(\d+\.\d+\.\d+)$`).FindStringSubmatch(k.Image)
		if m == nil {
			t.Fatalf("kafka image = %q; want apache/kafka:<x.y.z>", k.Image)
		}
		// scripts/kafka-local.sh (the Docker-free broker of make test-kafka
		// and CI) parses the version from the same file: run its parser.
		script := readFile(t, filepath.Join(root, "scripts", "kafka-local.sh"))
		fn := regexp.MustCompile(`(?ms)^kafka_version\(\) \{\n.*?^\}\n`).FindString(script)
		if fn == "" {
			t.Fatalf("scripts/kafka-local.sh has no kafka_version function")
		}
		cmd := exec.Command("bash", "-c", "die() { echo \"$*\" >&2; exit 1; }\n"+fn+"kafka_version")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "COMPOSE_FILE=" + filepath.Join(root, kafkaCompose)}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kafka_version of scripts/kafka-local.sh: %v: %s", err, stderr.String())
		}
		if got := strings.TrimSpace(string(out)); got != m[1] {
			t.Errorf("scripts/kafka-local.sh runs Kafka %s; %s runs %s; want the same", got, kafkaCompose, m[1])
		}
	})

	t.Run("images", func(t *testing.T) {
		goFrom := regexp.MustCompile(`^FROM golang:(\d+)\.(\d+)(?:\.(\d+))?\S* AS \S+$`)
		goDirective := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)(?:\.(\d+))?$`)
		var tags []string
		for _, svc := range appServices {
			lines := dockerfile(t, filepath.Join(root, svc, "Dockerfile"))
			var gm []string
			for _, l := range lines {
				if m := goFrom.FindStringSubmatch(l); m != nil {
					gm = m
					tags = append(tags, strings.Fields(l)[1])
				}
			}
			if gm == nil {
				t.Errorf("%s/Dockerfile: no `FROM golang:<x.y.z>-... AS build` stage", svc)
				continue
			}
			dm := goDirective.FindStringSubmatch(readFile(t, filepath.Join(root, svc, "go.mod")))
			if dm == nil {
				t.Fatalf("%s/go.mod has no go directive", svc)
			}
			if gm[1] != dm[1] || gm[2] != dm[2] || atoi(gm[3]) < atoi(dm[3]) {
				t.Errorf("%s/Dockerfile builds with Go %s.%s.%s; go.mod says go %s.%s.%s: want the same minor, at least that patch",
					svc, gm[1], gm[2], gm[3], dm[1], dm[2], dm[3])
			}
			for _, want := range []string{
				"FROM gcr.io/distroless/static-debian12:nonroot",
				"EXPOSE 8080",
				`ENTRYPOINT ["/` + svc + `"]`,
			} {
				if !slices.Contains(lines, want) {
					t.Errorf("%s/Dockerfile has no line %q", svc, want)
				}
			}
			// The licence the label names ships in the repository and the
			// image; no label points at a source address nobody checked.
			for _, l := range lines {
				if strings.Contains(l, "org.opencontainers.image.source=") {
					t.Errorf("%s/Dockerfile labels a source address (%s); want none", svc, l)
				}
			}
			if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, `org.opencontainers.image.licenses="Apache-2.0"`) }) {
				t.Errorf("%s/Dockerfile has no label org.opencontainers.image.licenses=\"Apache-2.0\"", svc)
			}
			if !slices.Contains(lines, "COPY LICENSE /LICENSE") {
				t.Errorf("%s/Dockerfile does not COPY LICENSE /LICENSE into the image", svc)
			}
			if !slices.ContainsFunc(lines, func(l string) bool {
				return strings.HasPrefix(l, "HEALTHCHECK ") && strings.HasSuffix(l, `CMD ["/`+svc+`", "-healthcheck"]`)
			}) {
				t.Errorf("%s/Dockerfile has no HEALTHCHECK ... CMD [\"/%s\", \"-healthcheck\"]", svc, svc)
			}
		}
		if len(tags) == 2 && tags[0] != tags[1] {
			t.Errorf("the Dockerfiles build with %s and %s; want the same Go image", tags[0], tags[1])
		}
		lic, err := os.ReadFile(filepath.Join(root, "LICENSE"))
		if err != nil {
			t.Fatalf("the images are labelled Apache-2.0; the licence text: %v", err)
		}
		if f := strings.Fields(string(lic)); len(f) < 4 || strings.Join(f[:4], " ") != "Apache License Version 2.0," {
			t.Errorf("LICENSE begins %q; want the Apache License, Version 2.0", lic[:min(len(lic), 80)])
		}
	})
}

func deref(p *string) string {
	if p == nil {
		return "<unset>"
	}
	return *p
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// TestComposeConfigCLI runs `docker compose config` (Compose v2, the
// reference implementation) on both files: the Compose users run must
// accept them, not only compose-go. Debian's docker-compose 1.29 cannot: it
// rejects the top-level name each stack's project needs.
func TestComposeConfigCLI(t *testing.T) {
	if err := exec.Command("docker", "compose", "version").Run(); err != nil {
		t.Skip("docker compose (Compose v2) not found: scripts/docker-engine.sh compose builds it")
	}
	root := repoRoot(t)
	ver, _ := exec.Command("docker", "compose", "version", "--short").Output()
	t.Logf("docker compose version %s", strings.TrimSpace(string(ver)))

	// A project folder as `make apps-up` leaves it: .env copied from
	// .env.example, the build contexts, no secrets files yet.
	dir := t.TempDir()
	for _, f := range []string{kafkaCompose, appsCompose} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(readFile(t, filepath.Join(root, f))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(readFile(t, filepath.Join(root, ".env.example"))), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, svc := range appServices {
		if err := os.Symlink(filepath.Join(root, svc), filepath.Join(dir, svc)); err != nil {
			t.Fatal(err)
		}
	}
	for f, project := range map[string]string{kafkaCompose: "tweetpipe-kafka", appsCompose: "tweetpipe"} {
		cmd := exec.Command("docker", "compose", "-f", f, "config")
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("docker compose -f %s config: %v\n%s", f, err, stderr.String())
			continue
		}
		if !bytes.HasPrefix(out, []byte("name: "+project+"\n")) {
			t.Errorf("docker compose -f %s config: project is not %s in\n%s", f, project, out)
		}
		if !bytes.Contains(out, []byte("name: "+network)) {
			t.Errorf("docker compose -f %s config: no network named %s in\n%s", f, network, out)
		}
	}
}

// TestMakeComposeTargets runs the Makefile's Compose targets with a stand-in
// for `docker compose` that records what it was asked and with which of
// Compose's variables: what a hand-typed command would get wrong, make must
// get right.
func TestMakeComposeTargets(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make not found: %v", err)
	}
	root := repoRoot(t)
	run := func(t *testing.T, args ...string) (string, error) {
		t.Helper()
		dir := t.TempDir()
		log := filepath.Join(dir, "calls")
		fake := filepath.Join(dir, "compose")
		script := "#!/bin/sh\necho \"$* | uid=${TWEETPIPE_UID-} gid=${TWEETPIPE_GID-} version=${TWEETPIPE_VERSION-} out=${HOST_OUTPUT_DIR-}\" >>" + log + "\n"
		if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("make", append([]string{"--no-print-directory", "COMPOSE=" + fake, "VERSION=9.9.9"}, args...)...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		calls, _ := os.ReadFile(log)
		if err != nil {
			return string(calls), fmt.Errorf("make %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(calls), nil
	}
	ids := fmt.Sprintf("uid=%d gid=%d version=9.9.9 out=./data", os.Getuid(), os.Getgid())

	t.Run("scale keeps uid and version", func(t *testing.T) {
		calls, err := run(t, "scale", "CONSUMERS=3")
		if err != nil {
			t.Fatal(err)
		}
		want := "-f docker-compose.apps.yml up -d --scale consumer=3 consumer | " + ids + "\n"
		if calls != want {
			t.Errorf("make scale CONSUMERS=3 ran compose\n%s; want\n%s", calls, want)
		}
		if _, err := run(t, "scale"); err == nil {
			t.Errorf("make scale without CONSUMERS succeeded; want a usage error")
		}
	})

	t.Run("logs follows both stacks", func(t *testing.T) {
		calls, err := run(t, "logs")
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Split(strings.TrimSpace(calls), "\n")
		slices.Sort(got)
		want := []string{
			"-f docker-compose.apps.yml logs -f --tail=100 | uid= gid= version= out=",
			"-f docker-compose.kafka.yml logs -f --tail=100 | uid= gid= version= out=",
		}
		if !slices.Equal(got, want) {
			t.Errorf("make logs ran compose\n%s; want\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("down stops both stacks", func(t *testing.T) {
		calls, err := run(t, "down")
		if err != nil {
			t.Fatal(err)
		}
		// --profile '*': the s3 profile's server too, whether or not
		// COMPOSE_PROFILES still names it.
		want := "-f docker-compose.apps.yml --profile * down | uid= gid= version= out=\n-f docker-compose.kafka.yml down | uid= gid= version= out=\n"
		if calls != want {
			t.Errorf("make down ran compose\n%s; want\n%s", calls, want)
		}
	})
}

// TestComposeS3Profile checks the s3 profile of docker-compose.apps.yml: off,
// the stack is as it was; on, versitygw (the server of scripts/s3-local.sh)
// serves ./s3data, hardened like the other services, its key pair from
// Compose secrets only, and make points the consumer at it.
func TestComposeS3Profile(t *testing.T) {
	root := repoRoot(t)
	off := loadCompose(t, root, appsCompose)
	on := loadComposeProfiles(t, root, appsCompose, []string{"s3"})

	t.Run("off by default", func(t *testing.T) {
		if _, ok := off.Services["s3"]; ok {
			t.Errorf("%s without a profile runs s3; want it only with the s3 profile", appsCompose)
		}
		if _, ok := off.DisabledServices["s3"]; !ok {
			t.Errorf("%s has no s3 service behind a profile", appsCompose)
		}
		d, ok := off.Services["consumer"].DependsOn["s3"]
		if !ok || d.Required || d.Condition != types.ServiceConditionHealthy {
			t.Errorf("consumer depends_on s3 = %+v (present %v); want condition service_healthy, required false (no s3 without the profile)", d, ok)
		}
	})

	s, ok := on.Services["s3"]
	if !ok {
		t.Fatalf("%s with COMPOSE_PROFILES=s3 has no s3 service", appsCompose)
	}

	t.Run("versitygw of scripts/s3-local.sh", func(t *testing.T) {
		if !slices.Equal(s.Profiles, []string{"s3"}) {
			t.Errorf("s3 profiles = %v; want [s3]", s.Profiles)
		}
		m := regexp.MustCompile(`(?m)^VERSITYGW_VERSION=(\S+)$`).FindStringSubmatch(readFile(t, filepath.Join(root, "scripts", "s3-local.sh")))
		if m == nil {
			t.Fatal("scripts/s3-local.sh sets no VERSITYGW_VERSION")
		}
		// scripts/docker-images.sh makes this image from that script's build.
		if want := "versity/versitygw:" + m[1]; s.Image != want {
			t.Errorf("s3 image = %q; want %q (the version scripts/s3-local.sh builds)", s.Image, want)
		}
		if s.Build != nil {
			t.Errorf("s3 build = %+v; want none (scripts/docker-images.sh makes the image)", s.Build)
		}
		if s.Restart == "" || s.Restart == "no" {
			t.Errorf("s3 restart = %q; want a restart policy", s.Restart)
		}
		if s.HealthCheck == nil || s.HealthCheck.Disable || !slices.ContainsFunc(s.HealthCheck.Test, func(a string) bool { return strings.Contains(a, "/health") }) {
			t.Errorf("s3 healthcheck = %+v; want a probe of versitygw's /health", s.HealthCheck)
		}
		if c := on.Services["consumer"]; s.User != c.User || s.User != "65532:65532" {
			t.Errorf("s3 user = %q, consumer user = %q; want both TWEETPIPE_UID:TWEETPIPE_GID (65532:65532 unset)", s.User, c.User)
		}
		if !s.ReadOnly || !slices.Equal(s.CapDrop, []string{"ALL"}) || len(s.CapAdd) > 0 || len(s.Tmpfs) > 0 ||
			!slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("s3 read_only %v, cap_drop %v, cap_add %v, tmpfs %v, security_opt %v; want read-only, [ALL], none, none, no-new-privileges:true",
				s.ReadOnly, s.CapDrop, s.CapAdd, s.Tmpfs, s.SecurityOpt)
		}
		if !slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
			return v.Type == types.VolumeTypeBind && v.Source == filepath.Join(root, "s3data") && v.Target == "/data" && !v.ReadOnly
		}) {
			t.Errorf("s3 volumes = %+v; want ./s3data bound writable at /data", s.Volumes)
		}
		cmd := strings.Join(append(append([]string{}, s.Entrypoint...), s.Command...), " ")
		for _, want := range []string{"mkdir -p /data/tweetpipe", "--port :7070", "posix /data"} {
			if !strings.Contains(cmd, want) {
				t.Errorf("s3 runs %q; want %q in it (the bucket tweetpipe is a folder of the posix backend)", cmd, want)
			}
		}
	})

	t.Run("key pair from Compose secrets only", func(t *testing.T) {
		for k := range s.Environment {
			t.Errorf("s3 environment sets %s; want none (the key pair comes from secrets, invisible to docker inspect)", k)
		}
		cmd := strings.Join(append(append([]string{}, s.Entrypoint...), s.Command...), " ")
		for _, svc := range []*types.ServiceConfig{&s, ptr(on.Services["consumer"])} {
			got := map[string]string{}
			for _, sec := range svc.Secrets {
				got[sec.Source] = sec.Target
			}
			for _, name := range []string{"s3_access_key", "s3_secret_key"} {
				if target, ok := got[name]; !ok || (target != "" && target != "/run/secrets/"+name) {
					t.Errorf("%s secrets = %v; want %s at /run/secrets/%s", svc.Name, svc.Secrets, name, name)
				}
				if svc.Name == "s3" && !strings.Contains(cmd, "cat /run/secrets/"+name) {
					t.Errorf("s3 runs %q; want it to read /run/secrets/%s", cmd, name)
				}
				if d, ok := on.Secrets[name]; !ok || d.File != filepath.Join(root, "secrets", name) {
					t.Errorf("secret %s = %+v; want the file ./secrets/%s", name, d, name)
				}
			}
		}
	})

	t.Run("consumer reads .env.s3 after .env", func(t *testing.T) {
		c := on.Services["consumer"]
		var paths []string
		for _, e := range c.EnvFiles {
			paths = append(paths, e.Path)
			if e.Path == filepath.Join(root, ".env.s3") && e.Required {
				t.Errorf("consumer env_file .env.s3 required; want required: false (make writes it for the s3 profile only)")
			}
		}
		if want := []string{filepath.Join(root, ".env"), filepath.Join(root, ".env.s3")}; !slices.Equal(paths, want) {
			t.Errorf("consumer env_file = %q; want %q", paths, want)
		}
		for k := range c.Environment {
			if strings.HasPrefix(k, "S3_") || strings.HasPrefix(k, "AWS_") || k == "OUTPUT_URL" {
				t.Errorf("consumer environment sets %s; want it in .env.s3 only (environment would override the user's .env without the profile)", k)
			}
		}
	})
}

// TestMakeS3Profile runs `make apps-up` in a copy of the project with a
// stand-in for `docker compose`: with COMPOSE_PROFILES=s3 it writes .env.s3,
// the key pair and the bucket's folder; without, it removes .env.s3 again.
func TestMakeS3Profile(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make not found: %v", err)
	}
	root := repoRoot(t)
	dir := t.TempDir()
	copyProject(t, root, dir)
	log := filepath.Join(dir, "calls")
	fake := filepath.Join(dir, "compose")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho \"$* | profiles=${COMPOSE_PROFILES-}\" >>"+log+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	apps := func(t *testing.T, profiles string) string {
		t.Helper()
		_ = os.Remove(log)
		// -o network: the kafka-network target asks the Docker engine.
		cmd := exec.Command("make", "--no-print-directory", "-o", "network", "COMPOSE="+fake, "VERSION=9.9.9", "apps-up")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "COMPOSE_PROFILES="+profiles, "APPS_CHECK_SECONDS=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("COMPOSE_PROFILES=%s make apps-up: %v\n%s", profiles, err, out)
		}
		calls, _ := os.ReadFile(log)
		return string(calls)
	}

	calls := apps(t, "s3")
	if want := "-f docker-compose.apps.yml up -d --build | profiles=s3\n" + appsCheckCall + " | profiles=s3\n"; calls != want {
		t.Errorf("COMPOSE_PROFILES=s3 make apps-up ran compose\n%s; want\n%s", calls, want)
	}
	env := map[string]string{}
	for _, l := range strings.Split(readFile(t, filepath.Join(dir, ".env.s3")), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			env[k] = v
		}
	}
	want := map[string]string{
		"OUTPUT_URL":                 "s3://tweetpipe/archive",
		"S3_ENDPOINT":                "http://s3:7070",
		"S3_PATH_STYLE":              "on",
		"AWS_ACCESS_KEY_ID_FILE":     "/run/secrets/s3_access_key",
		"AWS_SECRET_ACCESS_KEY_FILE": "/run/secrets/s3_secret_key",
	}
	if !maps.Equal(env, want) {
		t.Errorf(".env.s3 = %v; want %v", env, want)
	}
	consumerReads := serviceVars(t, "consumer")
	for k := range env {
		if !slices.Contains(consumerReads, k) {
			t.Errorf(".env.s3 sets %s; the consumer does not read it", k)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "s3data", "tweetpipe")); err != nil || !fi.IsDir() {
		t.Errorf("./s3data/tweetpipe (the bucket's folder): %v; want a folder", err)
	}
	if got := readFile(t, filepath.Join(dir, "secrets", "s3_access_key")); got != "tweetpipe" {
		t.Errorf("secrets/s3_access_key = %q; want tweetpipe", got)
	}
	secretFile := filepath.Join(dir, "secrets", "s3_secret_key")
	secret := readFile(t, secretFile)
	if !regexp.MustCompile(`^[0-9a-f]{48}$`).MatchString(secret) {
		t.Errorf("secrets/s3_secret_key = %q; want 48 random hex digits", secret)
	}
	if fi, err := os.Stat(secretFile); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("secrets/s3_secret_key mode %v; want 0600", fi.Mode().Perm())
	}

	// Off again: .env.s3 goes, the key pair stays as it was.
	if calls := apps(t, ""); calls != "-f docker-compose.apps.yml up -d --build | profiles=\n"+appsCheckCall+" | profiles=\n" {
		t.Errorf("make apps-up ran compose\n%s", calls)
	}
	if _, err := os.Stat(filepath.Join(dir, ".env.s3")); !os.IsNotExist(err) {
		t.Errorf(".env.s3 after make apps-up without the profile: %v; want it removed", err)
	}
	if got := readFile(t, secretFile); got != secret {
		t.Errorf("secrets/s3_secret_key changed to %q on the next make apps-up; want it kept", got)
	}
}

func ptr[T any](v T) *T { return &v }

// TestAppsHeaderMakesEverySecret: the steps at the top of
// docker-compose.apps.yml, for starting it without make, create every
// secret file the stack mounts; Compose refuses to start when one is
// missing ("bind source path does not exist").
func TestAppsHeaderMakesEverySecret(t *testing.T) {
	root := repoRoot(t)
	apps := loadCompose(t, root, appsCompose, "TWEETPIPE_VERSION=1.2.3")
	var header strings.Builder
	for _, line := range strings.Split(readFile(t, filepath.Join(root, appsCompose)), "\n") {
		if !strings.HasPrefix(line, "#") {
			break
		}
		header.WriteString(line + "\n")
	}
	i := strings.Index(header.String(), "touch")
	if i < 0 {
		t.Fatalf("the header of %s has no touch step:\n%s", appsCompose, header.String())
	}
	steps := header.String()[i:]
	if j := strings.Index(steps, "docker compose"); j > 0 {
		steps = steps[:j]
	}
	touched := strings.Fields(strings.NewReplacer("#", " ", "\\", " ").Replace(steps))
	for name, s := range apps.Secrets {
		if !slices.Contains(touched, filepath.Base(s.File)) {
			t.Errorf("secret %s (%s) is not created by the header's steps:\n%s", name, s.File, steps)
		}
	}
}

// TestMakeHostFoldersFromEnv: the host folders .env may name for the Compose
// stack (HOST_OUTPUT_DIR, REPLAY_DIR, STATE_DIR_HOST) are the ones make up
// creates, as the user, and mounts: make passed HOST_OUTPUT_DIR=./data over
// .env's, and left the others for the Docker engine to create as root,
// which the producer, running as the user, could not write.
func TestMakeHostFoldersFromEnv(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make not found: %v", err)
	}
	root := repoRoot(t)
	dir := t.TempDir()
	copyProject(t, root, dir)
	env := "HOST_OUTPUT_DIR=\"./my archive\"   # the archive\nREPLAY_DIR=./replays2\nSTATE_DIR_HOST=~/state2\n"
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o644); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "calls")
	fake := filepath.Join(dir, "compose")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho \"$* | out=${HOST_OUTPUT_DIR-}\" >>"+log+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "--no-print-directory", "-o", "network", "COMPOSE="+fake, "VERSION=9.9.9", "apps-up")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "APPS_CHECK_SECONDS=0", "HOME="+home)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make apps-up: %v\n%s", err, out)
	}
	if calls := readFile(t, log); calls != "-f docker-compose.apps.yml up -d --build | out=./my archive\n"+appsCheckCall+" | out=./my archive\n" {
		t.Errorf("make apps-up ran compose\n%s; want HOST_OUTPUT_DIR=./my archive, as .env says", calls)
	}
	for _, d := range []string{filepath.Join(dir, "my archive"), filepath.Join(dir, "replays2"), filepath.Join(home, "state2")} {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			t.Errorf("%s, named in .env: %v; want a folder made by make", d, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "~")); err == nil {
		t.Error("make made a folder named ~; want ~/ read as the home folder, as Compose reads it")
	}
}

// TestKnownCoversEveryVariable: envconf.Known, against which a misspelled
// setting is told, holds every variable either service reads (their -h),
// so that none of them is taken for a misspelling of another.
func TestKnownCoversEveryVariable(t *testing.T) {
	for _, svc := range []string{"producer", "consumer"} {
		for _, v := range serviceVars(t, svc) {
			if !slices.Contains(envconf.Known, v) {
				t.Errorf("%s reads %s; envconf.Known does not list it", svc, v)
			}
		}
	}
}

// appsCheckCall is how scripts/apps-check.sh, run by make apps-up after
// up -d, asks compose for the services' states.
const appsCheckCall = "-f docker-compose.apps.yml ps -a --format {{.Service}} {{.State}} {{.ExitCode}}"

// copyProject copies what make apps-up reads into dir: the Makefile,
// .env.example, the apps' compose file and scripts/apps-check.sh.
func copyProject(t *testing.T, root, dir string) {
	t.Helper()
	for _, f := range []string{"Makefile", ".env.example", appsCompose, "scripts/apps-check.sh"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(readFile(t, filepath.Join(root, f))), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAppsCheckFailsOnACrashLoop: scripts/apps-check.sh, the end of make
// apps-up, fails naming a service that keeps restarting (a setting it
// refuses) or exited with an error, with its last log lines; a service that
// exited 0 (a finished replay) and running ones pass. make up said the
// stack had started while the producer restarted for ever.
func TestAppsCheckFailsOnACrashLoop(t *testing.T) {
	root := repoRoot(t)
	for _, tc := range []struct {
		name, states string
		fail         bool
	}{
		{"running", "producer running 0\nconsumer running 0\n", false},
		{"replay finished", "producer exited 0\nconsumer running 0\n", false},
		{"restarting", "producer restarting 2\nconsumer running 0\n", true},
		{"exited with an error", "producer running 0\nconsumer exited 1\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fake := filepath.Join(dir, "compose")
			script := "#!/bin/sh\ncase \"$*\" in\n*' ps '*) printf '" + strings.ReplaceAll(tc.states, "\n", "\\n") + "';;\n" +
				"*' logs '*) echo 'level=ERROR msg=\"invalid configuration\" error=\"SYNTHETIC_RATE=\\\"fast\\\": not a number\"';;\nesac\n"
			if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(filepath.Join(root, "scripts", "apps-check.sh"), fake, "-f", appsCompose)
			cmd.Env = append(os.Environ(), "APPS_CHECK_SECONDS=0")
			out, err := cmd.CombinedOutput()
			switch {
			case !tc.fail && err != nil:
				t.Fatalf("apps-check.sh: %v\n%s; want success", err, out)
			case tc.fail && err == nil:
				t.Fatalf("apps-check.sh succeeded:\n%s; want a failure", out)
			case tc.fail && (!strings.Contains(string(out), "is not running") || !strings.Contains(string(out), `SYNTHETIC_RATE=\"fast\": not a number`)):
				t.Fatalf("apps-check.sh said:\n%s\nwant the service named and its last log lines", out)
			}
		})
	}
}
