// Command mosn is the proxy: mosn start -c mosn_config.json.
package main

import (
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"mosn.dev/proxy/app"
	"mosn.dev/proxy/config"
	_ "mosn.dev/proxy/plugins/all"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

//go:embed default_config.json
var defaultConfig []byte

const usage = `mosn - a MOSN-compatible cloud-native network proxy

Usage:
  mosn start [-c FILE]       run the proxy (without -c: a built-in demo config)
  mosn stop [-c FILE] [-f]   stop the running proxy found through its pid file
                             (graceful SIGTERM; -f sends SIGINT to stop at once)
  mosn validate -c FILE      check a config; prints every problem; exit 0 or 1
  mosn version               print the version

The config may also be given by the MOSN_CONFIG environment variable.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "start":
		return cmdStart(args[1:], stderr)
	case "stop":
		return cmdStop(args[1:], stdout, stderr)
	case "validate":
		return cmdValidate(args[1:], stdout, stderr)
	case "version", "-v", "--version":
		fmt.Fprintf(stdout, "mosn version %s\n", Version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "mosn: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

func configFlag(name string, args []string, stderr io.Writer) (*flag.FlagSet, *string, *bool, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", os.Getenv("MOSN_CONFIG"), "config `FILE`")
	fs.StringVar(path, "config", os.Getenv("MOSN_CONFIG"), "config `FILE` (same as -c)")
	force := fs.Bool("f", false, "stop at once (SIGINT) instead of draining")
	err := fs.Parse(args)
	return fs, path, force, err
}

// load reads the config file, or the embedded demo config when path is "".
func load(path string, stderr io.Writer) (*config.Config, bool) {
	var (
		cfg      *config.Config
		warnings []config.Problem
		err      error
	)
	if path == "" {
		cfg, warnings, err = config.Parse(defaultConfig, "default_config.json")
	} else {
		cfg, warnings, err = config.Load(path)
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "mosn: warning: %s\n", w)
	}
	if err != nil {
		printProblems(stderr, err)
		return nil, false
	}
	return cfg, true
}

func printProblems(stderr io.Writer, err error) {
	var ps config.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintf(stderr, "mosn: config error: %s\n", p)
		}
		return
	}
	fmt.Fprintf(stderr, "mosn: config error: %v\n", err)
}

func cmdStart(args []string, stderr io.Writer) int {
	_, path, _, err := configFlag("start", args, stderr)
	if err != nil {
		return 2
	}
	cfg, ok := load(*path, stderr)
	if !ok {
		return 1
	}
	a, err := app.New(app.Options{Config: cfg, ConfigPath: *path, Version: Version, NoUpgrade: *path == ""})
	if err != nil {
		printProblems(stderr, err)
		return 1
	}
	for _, w := range a.Warnings() {
		a.Log().Warnf("[config] %s", w)
	}
	if *path == "" {
		stop, err := startDemoUpstream("127.0.0.1:2046")
		if err != nil {
			fmt.Fprintf(stderr, "mosn: demo upstream: %v\n", err)
			return 1
		}
		defer stop()
		a.Log().Infof("[mosn] [start] no -c given: running the built-in demo (try: curl http://127.0.0.1:2045/)")
	}
	if err := a.Start(); err != nil {
		a.Log().Errorf("[mosn] [start] start failed: %v", err)
		fmt.Fprintf(stderr, "mosn: %v\n", err)
		if errors.Is(err, app.ErrUpgrade) {
			// MOSN's code for a failed takeover; the old process serves on.
			return 2
		}
		return 1
	}
	a.Run()
	return 0
}

// startDemoUpstream serves a one-line HTTP answer for the demo config.
func startDemoUpstream(addr string) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "Hello from the mosn demo upstream (%s %s)\n", r.Method, r.URL.Path)
		}),
	}
	go srv.Serve(ln)
	return func() { srv.Close() }, nil
}

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	_, path, _, err := configFlag("validate", args, stderr)
	if err != nil {
		return 2
	}
	if *path == "" {
		fmt.Fprintln(stderr, "mosn validate: give the config with -c FILE")
		return 2
	}
	cfg, ok := load(*path, stderr)
	if !ok {
		return 1
	}
	a, err := app.New(app.Options{Config: cfg, ConfigPath: *path, Version: Version, DryRun: true})
	if err != nil {
		printProblems(stderr, err)
		return 1
	}
	for _, w := range a.Warnings() {
		fmt.Fprintf(stderr, "mosn: warning: %s\n", w)
	}
	fmt.Fprintf(stdout, "%s: ok\n", *path)
	return 0
}

func cmdStop(args []string, stdout, stderr io.Writer) int {
	_, path, force, err := configFlag("stop", args, stderr)
	if err != nil {
		return 2
	}
	cfg := &config.Config{}
	if *path != "" {
		c, ok := load(*path, stderr)
		if !ok {
			return 1
		}
		cfg = c
	}
	pidPath := app.PidPath(cfg, *path)
	b, err := os.ReadFile(pidPath)
	if err != nil {
		fmt.Fprintf(stderr, "mosn stop: cannot read pid file: %v\n", err)
		return 1
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		fmt.Fprintf(stderr, "mosn stop: %s does not hold a pid\n", pidPath)
		return 1
	}
	sig := syscall.SIGTERM
	if *force {
		sig = syscall.SIGINT
	}
	if err := syscall.Kill(pid, sig); err != nil {
		fmt.Fprintf(stderr, "mosn stop: signal pid %d: %v\n", pid, err)
		return 1
	}
	wait := 30 * time.Second
	if s := cfg.Server(); s != nil {
		wait = s.GracefulTimeoutOrDefault()
	}
	deadline := time.Now().Add(wait + 5*time.Second)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			fmt.Fprintf(stdout, "mosn (pid %d) stopped\n", pid)
			return 0
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(stderr, "mosn stop: pid %d still running after %s\n", pid, wait+5*time.Second)
	return 1
}
