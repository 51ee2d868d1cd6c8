// Package app turns a config snapshot into a running proxy: it builds the
// cluster manager, listeners with their filter chains, access logs and the
// admin API, starts them, and stops them gracefully or at once.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"mosn.dev/proxy/accesslog"
	"mosn.dev/proxy/admin"
	"mosn.dev/proxy/config"
	"mosn.dev/proxy/log"
	"mosn.dev/proxy/metrics"
	"mosn.dev/proxy/network"
	"mosn.dev/proxy/network/listener"
	"mosn.dev/proxy/upgrade"
	"mosn.dev/proxy/upstream"
	"mosn.dev/proxy/upstream/circuit"
	"mosn.dev/proxy/upstream/healthcheck"
)

// Options says what to run.
type Options struct {
	// Config is the loaded config.
	Config *config.Config
	// ConfigPath is the file it came from ("" for the embedded default);
	// its directory is the default uds_dir.
	ConfigPath string
	// Version is reported by the admin API.
	Version string
	// DryRun builds and checks everything without opening any file or
	// socket (mosn validate).
	DryRun bool
	// NoUpgrade keeps the process out of smooth upgrades: it neither
	// looks for a process to take over from nor opens reconfig.sock.
	NoUpgrade bool
}

// App is one running proxy process.
type App struct {
	opts     Options
	cfg      atomic.Pointer[config.Config]
	logs     *log.Manager
	log      *log.Logger
	clusters *upstream.Manager
	access   *accesslog.Writers

	listeners []*listener.Listener
	checkers  []*healthcheck.Checker
	metrics   *metrics.Registry
	breakers  circuit.Set
	sinks     []*http.Server
	admin     *admin.Server
	pprof     *http.Server

	stage    atomic.Int32
	warnings []config.Problem

	// Smooth upgrade: the sockets received from an old process (until
	// Start completes), the server answering the next new process, the
	// admin-like sockets to hand over, and the transfer function set when
	// this process hands over and drains.
	inherited *upgrade.Handover
	upgSrv    *upgrade.Server
	aux       []auxSocket
	transfer  network.TransferFunc
	upg       upgradeStats
	poller    *network.Poller

	stopOnce sync.Once
	done     chan struct{}
	sigs     chan os.Signal
}

// New builds the process from opts.Config without listening on anything.
// Every problem found is returned in a config.Problems error, each naming
// its JSON path.
func New(opts Options) (*App, error) {
	a := &App{opts: opts, logs: log.NewManager(), done: make(chan struct{})}
	a.setStage(StageParamsParsed)
	cfg := opts.Config
	a.cfg.Store(cfg)

	problems := cfg.Validate()
	if len(problems) > 0 {
		return nil, problems
	}
	a.setStage(StageIniting)
	srv := cfg.Server()
	if srv == nil {
		srv = &config.Server{}
	}
	if err := a.setupLog(srv); err != nil {
		return nil, config.Problems{{Path: "servers[0].default_log_path", Msg: err.Error()}}
	}
	if p := srv.Processor; p != nil && *p > 0 && !opts.DryRun {
		runtime.GOMAXPROCS(int(*p))
	}

	var matcher *config.StatsMatcher
	if cfg.Metrics != nil {
		matcher = cfg.Metrics.StatsMatcher
		for i, sink := range cfg.Metrics.Sinks {
			if sink.Type != "prometheus" {
				problems = append(problems, cfg.Problemf(config.Path("metrics", "sinks", i, "type"), "unknown metrics sink %q (this build has: prometheus)", sink.Type))
				continue
			}
			var pc promSinkConfig
			if _, err := cfg.DecodeRaw(config.Path("metrics", "sinks", i, "config"), sink.Config, &pc); err != nil {
				if ps, ok := err.(config.Problems); ok {
					problems = append(problems, ps...)
				}
			} else if pc.Port == 0 || pc.Port > 65535 {
				problems = append(problems, cfg.Problemf(config.Path("metrics", "sinks", i, "config", "port"), "a prometheus sink needs a port (1..65535)"))
			}
		}
	}
	a.metrics = metrics.NewRegistry(matcher)
	a.metrics.SetVersion(opts.Version)
	a.upg = newUpgradeStats(a.metrics)
	a.clusters = upstream.NewManager()
	a.clusters.SetOutlierListener(upstream.OutlierLogger(a.log, a.metrics))
	for i := range cfg.ClusterManager.Clusters {
		cc := &cfg.ClusterManager.Clusters[i]
		if err := a.clusters.AddOrUpdate(cc); err != nil {
			problems = append(problems, config.Problem{Path: config.Path("cluster_manager", "clusters", i), Msg: err.Error()})
		}
		if cc.HealthCheck != nil {
			if err := healthcheck.Validate(cc.HealthCheck); err != nil {
				problems = append(problems, cfg.Problemf(config.Path("cluster_manager", "clusters", i, "health_check"), "%v", err))
			}
		}
	}

	a.access = accesslog.NewWriters()
	for i := range srv.Listeners {
		l, errs := a.buildListener(cfg, &srv.Listeners[i], config.Path("servers", 0, "listeners", i))
		problems = append(problems, errs...)
		if l != nil {
			a.listeners = append(a.listeners, l)
		}
	}
	// Redirect/tproxy listeners hand connections to the listener configured
	// for their original destination (bind_port false ones included).
	handoff := listener.NewRegistry(a.listeners)
	for _, l := range a.listeners {
		l.SetHandoff(handoff.Lookup)
	}
	if len(problems) > 0 {
		a.access.CloseAll()
		return nil, problems
	}
	if cfg.Admin != nil && !opts.DryRun {
		a.admin = admin.New(a, opts.Version, a.log)
		a.admin.Handle("/api/v1/stats", a.statsAPI)
		a.admin.Handle("/api/v1/stats_glob", a.statsGlobAPI)
	}
	return a, nil
}

// Warnings returns the non-fatal problems found while building.
func (a *App) Warnings() []config.Problem { return a.warnings }

func (a *App) warn(p config.Problem) { a.warnings = append(a.warnings, p) }

func (a *App) setupLog(srv *config.Server) error {
	path := srv.DefaultLogPath
	if a.opts.DryRun {
		path = "stderr"
	}
	lg, err := a.logs.Get(path)
	if err != nil {
		return err
	}
	if srv.DefaultLogLevel != "" {
		lvl, err := log.ParseLevel(srv.DefaultLogLevel)
		if err != nil {
			return err
		}
		lg.SetLevel(lvl)
	}
	a.logs.SetDefault(lg)
	a.log = lg
	return nil
}

// buildListener builds one listener's filter chain and access logs.
func (a *App) buildListener(cfg *config.Config, lc *config.Listener, path string) (*listener.Listener, config.Problems) {
	var problems config.Problems
	var logs []*accesslog.Logger
	for i, al := range lc.AccessLogs {
		ap := config.Path(path, "access_logs", i)
		f, err := accesslog.Compile(al.Format)
		if err != nil {
			problems = append(problems, config.Problem{Path: ap + ".log_format", Msg: err.Error()})
			continue
		}
		if a.opts.DryRun {
			continue
		}
		l, err := a.access.Open(al.Path, f)
		if err != nil {
			problems = append(problems, config.Problem{Path: ap + ".log_path", Msg: err.Error()})
			continue
		}
		logs = append(logs, l)
	}
	if len(lc.StreamFilters) > 0 && !hasFilter(lc, "proxy") {
		a.warn(config.Problem{Path: path + ".stream_filters", Msg: "stream filters run only inside the proxy network filter, which this listener does not have; ignored"})
	}
	if !lc.BindPort {
		a.warn(config.Problem{Path: path + ".bind_port", Msg: "false: the listener opens no socket and only serves connections handed over by an original-dst listener"})
	}
	chain := &listener.Chain{}
	fallbackSet := false
	switch n := len(lc.FilterChains); {
	case n > 1:
		problems = append(problems, config.Problem{Path: path + ".filter_chains", Msg: fmt.Sprintf("%d filter chains given; MOSN supports exactly one", n)})
	case n == 1:
		fc := lc.FilterChains[0]
		for j, f := range fc.Filters {
			fp := config.Path(path, "filter_chains", 0, "filters", j)
			factory, ok := network.Filters.Get(f.Type)
			if !ok {
				problems = append(problems, config.Problem{Path: fp + ".type", Msg: fmt.Sprintf("unknown network filter %q (this build has: %v)", f.Type, network.Filters.Names())})
				continue
			}
			bc := &network.BuildContext{
				Config:     cfg,
				Listener:   lc,
				Path:       fp + ".config",
				Clusters:   a.clusters,
				Log:        a.log,
				AccessLogs: logs,
				Warn:       a.warn,
				Metrics:    a.metrics,
				Breakers:   &a.breakers,
			}
			built, err := factory(bc, f.Config)
			if err != nil {
				var ps config.Problems
				if errors.As(err, &ps) {
					problems = append(problems, ps...)
				} else {
					problems = append(problems, config.Problem{Path: fp, Msg: err.Error()})
				}
				continue
			}
			switch b := built.(type) {
			case network.Handler:
				if fb, ok := chain.Handler.(fallbacker); ok && fb.FallbackForUnknownProtocol() && f.Type == "tcp_proxy" {
					// proxy with fallback_for_unknown_protocol, then
					// tcp_proxy for what it does not recognise.
					fb.SetFallback(b)
					fallbackSet = true
					continue
				}
				if chain.Handler != nil {
					problems = append(problems, config.Problem{Path: fp, Msg: fmt.Sprintf("%s after a terminal filter: only one of tcp_proxy/proxy may end a chain (or tcp_proxy after a proxy with fallback_for_unknown_protocol)", f.Type)})
				}
				chain.Handler = b
			case network.ConnFilter:
				if chain.Handler != nil {
					problems = append(problems, config.Problem{Path: fp, Msg: fmt.Sprintf("%s must come before the terminal filter", f.Type)})
				}
				chain.Filters = append(chain.Filters, b)
			default:
				problems = append(problems, config.Problem{Path: fp, Msg: fmt.Sprintf("filter %s built an unusable %T", f.Type, built)})
			}
		}
	}
	if fb, ok := chain.Handler.(fallbacker); ok && fb.FallbackForUnknownProtocol() && !fallbackSet {
		a.warn(config.Problem{Path: path + ".filter_chains", Msg: "fallback_for_unknown_protocol needs a tcp_proxy filter after the proxy filter; connections in an unknown protocol are closed"})
	}
	if chain.Handler == nil && len(problems) == 0 {
		a.warn(config.Problem{Path: path + ".filter_chains", Msg: "no tcp_proxy or proxy filter: connections are closed at once"})
		chain.Handler = closer{}
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return listener.New(lc, chain, a.log), nil
}

// fallbacker is the proxy filter's fallback_for_unknown_protocol.
type fallbacker interface {
	FallbackForUnknownProtocol() bool
	SetFallback(network.Handler)
}

// closer serves a listener that has no terminal filter.
type closer struct{}

func (closer) ServeConn(c *network.Conn) { c.Close() }

// Config returns the config snapshot in force.
func (a *App) Config() *config.Config { return a.cfg.Load() }

// State returns the MOSN stage number.
func (a *App) State() int { return int(a.stage.Load()) }

// Logs returns the error-log manager.
func (a *App) Logs() *log.Manager { return a.logs }

// Log returns the default error logger.
func (a *App) Log() *log.Logger { return a.log }

// Clusters returns the cluster manager.
func (a *App) Clusters() *upstream.Manager { return a.clusters }

// Listeners returns the built listeners.
func (a *App) Listeners() []*listener.Listener { return a.listeners }

func (a *App) setStage(s int) {
	a.stage.Store(int32(s))
	if a.log != nil {
		a.log.Infof("[stagemanager] state changed to %d", s)
	}
}

// UDSDir is where the pid file and upgrade sockets live: uds_dir, else the
// config file's directory, else the working directory.
func (a *App) UDSDir() string { return UDSDir(a.Config(), a.opts.ConfigPath) }

// UDSDir resolves the unix-socket directory for cfg loaded from path.
func UDSDir(cfg *config.Config, path string) string {
	dir := "."
	switch {
	case cfg.UDSDir != "":
		dir = cfg.UDSDir
	case path != "":
		dir = filepath.Dir(path)
	}
	// Absolute, so that logs name the sockets unambiguously.
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// PidPath is the pid file: "pid" from the config, else mosn.pid in UDSDir.
func PidPath(cfg *config.Config, path string) string {
	if cfg.Pid != "" {
		return cfg.Pid
	}
	return filepath.Join(UDSDir(cfg, path), "mosn.pid")
}

// Start opens every socket and starts serving. If any socket cannot be
// opened, everything opened so far is closed and the error says which.
func (a *App) Start() error {
	if a.opts.DryRun {
		return errors.New("app: Start on a dry-run build")
	}
	a.setStage(StagePreStart)
	a.notifySignals()
	cfg := a.Config()
	var opened []*listener.Listener
	fail := func(err error) error {
		for _, l := range opened {
			l.Close()
		}
		if a.admin != nil {
			a.admin.Close()
		}
		for _, s := range a.aux {
			s.ln.Close()
		}
		if a.pprof != nil {
			a.pprof.Close()
		}
		for _, s := range a.sinks {
			s.Close()
		}
		if a.inherited != nil {
			// The old process sees the handshake end and serves on,
			// with its reconfig.sock and pid file untouched.
			a.inherited.Abort()
			a.inherited = nil
			a.log.Errorf("[start] failed to start application at stage: %d", a.State())
			if !errors.Is(err, ErrUpgrade) {
				err = fmt.Errorf("%w: %w", ErrUpgrade, err)
			}
		}
		a.setStage(StageStopped)
		return err
	}
	if err := a.inherit(); err != nil {
		return fail(err)
	}
	if a.inherited == nil {
		// Before any socket listens, so that whoever can reach the proxy
		// can also stop it through the pid file. A failed start puts back
		// the file it found: another instance may own it.
		restore := a.claimPid()
		inner := fail
		fail = func(err error) error {
			restore()
			return inner(err)
		}
	}
	// Idle connections park in one epoll set instead of each holding a
	// goroutine; without it (not Linux) they wait on their goroutines.
	if p, err := network.NewPoller(); err == nil {
		a.poller = p
		for _, l := range a.listeners {
			l.SetPoller(p)
		}
		go quietGC(p, a.done, a.log)
	} else {
		a.log.Infof("[mosn] [start] idle connections keep their goroutines: %v", err)
	}
	for _, l := range a.listeners {
		if !l.Config().BindPort {
			continue
		}
		if err := a.listen(l); err != nil {
			return fail(err)
		}
		opened = append(opened, l)
	}
	if a.admin != nil {
		ln, err := a.takeOrListen("admin", cfg.Admin.Addr())
		if err != nil {
			return fail(fmt.Errorf("admin: listen on %s: %w", cfg.Admin.Addr(), err))
		}
		a.admin.Use(ln)
	}
	if cfg.Pprof != nil && cfg.Pprof.Debug {
		if err := a.startPprof(cfg.Pprof); err != nil {
			return fail(err)
		}
	}
	if err := a.startSinks(cfg); err != nil {
		return fail(err)
	}
	for _, cl := range a.clusters.All() {
		if cl.Config().HealthCheck == nil {
			continue
		}
		hc, err := healthcheck.Start(cl, a.log)
		if err != nil {
			for _, c := range a.checkers {
				c.Stop()
			}
			return fail(fmt.Errorf("cluster %q: health check: %w", cl.Name(), err))
		}
		a.checkers = append(a.checkers, hc)
	}
	a.setStage(StageStarting)
	upgrading := a.inherited != nil
	for _, l := range opened {
		a.log.Infof("[network] [listener start] listener %s serving on %s", l.Name(), l.Addr())
		go func() {
			if err := l.Serve(); err != nil {
				a.log.Errorf("[network] [listener] %s stopped: %v", l.Name(), err)
			}
		}()
	}
	if a.admin != nil {
		go func() {
			if err := a.admin.Serve(); err != nil {
				a.log.Errorf("[admin] server stopped: %v", err)
			}
		}()
	}
	if err := a.finishUpgrade(); err != nil {
		// We serve on the inherited sockets, but the old process did not
		// confirm: leave it in charge and drain what we accepted.
		a.log.Errorf("[mosn] [NewMosn] %v, exit", err)
		a.Shutdown(true)
		return err
	}
	if upgrading {
		// Only now is this process the one a stop must reach.
		if err := a.writePid(); err != nil {
			a.log.Warnf("[mosn] [start] cannot write pid file: %v", err)
		}
	}
	a.setStage(StageAfterStart)
	a.setStage(StageRunning)
	a.log.Infof("[mosn] [start] mosn started, pid %d", os.Getpid())
	return nil
}

func (a *App) startPprof(p *config.Pprof) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	a.pprof = &http.Server{Addr: p.Addr(), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ln, err := a.listenAux("pprof", p.Addr())
	if err != nil {
		return fmt.Errorf("pprof: %w", err)
	}
	go a.pprof.Serve(ln)
	a.log.Infof("[mosn] [start] pprof serving on %s", ln.Addr())
	return nil
}

func (a *App) writePid() error {
	p := PidPath(a.Config(), a.opts.ConfigPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(strconv.Itoa(os.Getpid())), 0o644)
}

// claimPid writes the pid file and returns what undoes it: the file's
// previous content is written back, or the file removed if there was none.
func (a *App) claimPid() (restore func()) {
	p := PidPath(a.Config(), a.opts.ConfigPath)
	prev, prevErr := os.ReadFile(p)
	if err := a.writePid(); err != nil {
		a.log.Warnf("[mosn] [start] cannot write pid file: %v", err)
		return func() {}
	}
	return func() {
		if prevErr == nil {
			os.WriteFile(p, prev, 0o644)
			return
		}
		a.removePid()
	}
}

func (a *App) removePid() {
	p := PidPath(a.Config(), a.opts.ConfigPath)
	if b, err := os.ReadFile(p); err == nil && string(b) == strconv.Itoa(os.Getpid()) {
		os.Remove(p)
	}
}

// Shutdown stops the process. Graceful: stop accepting, let open
// connections finish for up to graceful_timeout, then close what is left.
// Otherwise close everything at once. It returns when everything is closed.
func (a *App) Shutdown(graceful bool) {
	a.stopOnce.Do(func() {
		defer close(a.done)
		a.setStage(StageBeforeStop)
		for _, l := range a.listeners {
			l.StopAccepting(a.transfer)
		}
		if graceful {
			a.setStage(StageGracefulStopping)
			timeout := 30 * time.Second
			if srv := a.Config().Server(); srv != nil {
				timeout = srv.GracefulTimeoutOrDefault()
			}
			active := 0
			for _, l := range a.listeners {
				active += l.ActiveConns()
			}
			a.log.Infof("[mosn] [stop] graceful stop: waiting up to %s for %d connections", timeout, active)
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			for _, l := range a.listeners {
				if err := l.Drain(ctx); err != nil {
					a.log.Warnf("[mosn] [stop] listener %s: %d connections still open after %s, closing them", l.Name(), l.ActiveConns(), timeout)
				}
			}
			cancel()
		}
		a.setStage(StageStopping)
		for _, l := range a.listeners {
			l.CloseConns()
		}
		if a.poller != nil {
			a.poller.Close()
		}
		for _, c := range a.checkers {
			c.Stop()
		}
		if a.admin != nil {
			a.admin.Close()
		}
		if a.pprof != nil {
			a.pprof.Close()
		}
		for _, s := range a.sinks {
			s.Close()
		}
		if a.upgSrv != nil {
			a.upgSrv.Close()
		}
		a.setStage(StageAfterStop)
		a.removePid()
		a.access.CloseAll()
		a.setStage(StageStopped)
		a.log.Infof("[mosn] [stop] mosn stopped")
	})
	<-a.done
}

// Done is closed when Shutdown has finished.
func (a *App) Done() <-chan struct{} { return a.done }

func hasFilter(lc *config.Listener, typ string) bool {
	for _, fc := range lc.FilterChains {
		for _, f := range fc.Filters {
			if f.Type == typ {
				return true
			}
		}
	}
	return false
}

// promSinkConfig is a prometheus sink's config.
type promSinkConfig struct {
	// Port serves the exposition on all interfaces (MOSN's behaviour).
	Port uint32 `json:"port,omitempty"`
	// Endpoint is the path. Default /metrics.
	Endpoint string `json:"endpoint,omitempty"`
	// DisableCollectProcess and DisableCollectGo drop the process and Go
	// runtime families.
	DisableCollectProcess bool `json:"disable_collect_process,omitempty"`
	DisableCollectGo      bool `json:"disable_collect_go,omitempty"`
	// Percentiles is MOSN's; histograms are exported as buckets instead.
	Percentiles []int `json:"percentiles,omitempty"`
}

// Metrics returns the process's metric registry.
func (a *App) Metrics() *metrics.Registry { return a.metrics }

func (a *App) startSinks(cfg *config.Config) error {
	if cfg.Metrics == nil {
		return nil
	}
	for i, sink := range cfg.Metrics.Sinks {
		var pc promSinkConfig
		cfg.DecodeRaw(config.Path("metrics", "sinks", i, "config"), sink.Config, &pc)
		ep := pc.Endpoint
		if ep == "" {
			ep = "/metrics"
		}
		a.metrics.SetCollect(!pc.DisableCollectProcess, !pc.DisableCollectGo)
		mux := http.NewServeMux()
		mux.Handle(ep, a.metrics.Handler())
		addr := fmt.Sprintf(":%d", pc.Port)
		ln, err := a.listenAux(fmt.Sprintf("metrics:%d", i), addr)
		if err != nil {
			return fmt.Errorf("metrics.sinks[%d]: prometheus: %w", i, err)
		}
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		a.sinks = append(a.sinks, srv)
		go srv.Serve(ln)
		a.log.Infof("[metrics] [prometheus] serving %s on %s", ep, ln.Addr())
	}
	return nil
}

// statsAPI is /api/v1/stats: every metric set as JSON, or ?key=<type.labels>.
func (a *App) statsAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	var v any = a.metrics.StatsJSON()
	if key := r.URL.Query().Get("key"); key != "" {
		one, ok := a.metrics.Stats(key)
		if !ok {
			http.Error(w, fmt.Sprintf("no metrics for key %q", key), http.StatusNotFound)
			return
		}
		v = one
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	w.Write(append(b, '\n'))
}

// statsGlobAPI is /api/v1/stats_glob: the downstream totals as key:value.
func (a *App) statsGlobAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, a.metrics.StatsGlob())
}
