// Package admin serves the MOSN-compatible admin API (config_dump, states,
// log levels, version, features, env) on admin.address. Components add
// their own endpoints with Handle.
package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"mosn.dev/proxy/config"
	"mosn.dev/proxy/log"
)

// Source is what the admin API reads from the running process.
type Source interface {
	// Config returns the config snapshot currently applied.
	Config() *config.Config
	// State returns the MOSN stage number (6 = Running).
	State() int
	// Logs returns the error-log manager.
	Logs() *log.Manager
}

// Server is the admin HTTP server.
type Server struct {
	src     Source
	version string
	log     *log.Logger
	mux     *http.ServeMux

	mu   sync.Mutex
	apis []string
	srv  *http.Server
	ln   net.Listener
	feat map[string]bool
}

// New returns an admin server with MOSN's endpoints registered.
func New(src Source, version string, lg *log.Logger) *Server {
	s := &Server{src: src, version: version, log: lg, mux: http.NewServeMux(), feat: map[string]bool{}}
	s.mux.HandleFunc("/", s.index)
	s.Handle("/api/v1/config_dump", s.configDump)
	s.Handle("/api/v1/version", s.versionAPI)
	s.Handle("/api/v1/states", s.states)
	s.Handle("/api/v1/update_loglevel", s.updateLogLevel)
	s.Handle("/api/v1/get_loglevel", s.getLogLevel)
	s.Handle("/api/v1/enable_log", s.enableLog)
	s.Handle("/api/v1/disable_log", s.disableLog)
	s.Handle("/api/v1/features", s.features)
	s.Handle("/api/v1/env", s.env)
	s.registerIstio()
	return s
}

// Handle registers an endpoint and lists it on "/". The log line follows
// MOSN's wording so existing log checks keep working.
func (s *Server) Handle(path string, h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mux.HandleFunc(path, h)
	s.apis = append(s.apis, path)
	s.log.Infof("[admin server] [register api] register a new api %s", path)
}

// SetFeature records a feature gate shown by /api/v1/features.
func (s *Server) SetFeature(name string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.feat[name] = on
}

// ServeHTTP lets tests drive the API without a socket.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Listen opens addr; Serve must follow.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("admin: listen on %s: %w", addr, err)
	}
	s.Use(ln)
	return nil
}

// Use serves on an already open socket (inherited during an upgrade).
func (s *Server) Use(ln net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ln = ln
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
}

// Socket returns the listening socket, or nil.
func (s *Server) Socket() net.Listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ln
}

// Serve serves until Close; call after Listen or Use.
func (s *Server) Serve() error {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.mu.Unlock()
	if srv == nil {
		return fmt.Errorf("admin: Serve before Listen")
	}
	s.log.Infof("[admin store] [start service] start service Mosn Admin Server on %s", ln.Addr())
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed && !errors.Is(err, net.ErrClosed) {
		// net.ErrClosed: the socket was handed to a new process.
		return err
	}
	return nil
}

// Close stops the server.
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	apis := append([]string(nil), s.apis...)
	s.mu.Unlock()
	sort.Strings(apis)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "support apis:")
	for _, a := range apis {
		fmt.Fprintln(w, a)
	}
}

func onlyMethod(w http.ResponseWriter, r *http.Request, m string) bool {
	if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
		return true
	}
	w.Header().Set("Allow", m)
	http.Error(w, fmt.Sprintf("method %s not allowed, use %s", r.Method, m), http.StatusMethodNotAllowed)
	return false
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

// configDump serves the effective config. Without parameters it returns
// {"mosn_config": <the loadable config>, "listener": {name: ...},
// "cluster": {name: ...}, "routers": {name: ...}}; one parameter selects a
// part: mosnconfig, alllisteners, allclusters, allrouters, listener=NAME,
// cluster=NAME, router=NAME.
func (s *Server) configDump(w http.ResponseWriter, r *http.Request) {
	if !onlyMethod(w, r, http.MethodGet) {
		return
	}
	cfg := s.src.Config()
	q := r.URL.Query()
	if len(q) > 1 {
		http.Error(w, "only one parameter is supported", http.StatusBadRequest)
		return
	}
	listeners := map[string]*config.Listener{}
	routers := map[string]*config.Router{}
	if srv := cfg.Server(); srv != nil {
		for i := range srv.Listeners {
			listeners[srv.Listeners[i].Name] = &srv.Listeners[i]
		}
		for i := range srv.Routers {
			routers[srv.Routers[i].RouterConfigName] = &srv.Routers[i]
		}
	}
	clusters := map[string]*config.Cluster{}
	for i := range cfg.ClusterManager.Clusters {
		clusters[cfg.ClusterManager.Clusters[i].Name] = &cfg.ClusterManager.Clusters[i]
	}
	var key string
	for k := range q {
		key = k
	}
	one := func(kind, name string, v any, ok bool) {
		if !ok {
			http.Error(w, fmt.Sprintf("%s %q not found", kind, name), http.StatusNotFound)
			return
		}
		writeJSON(w, v)
	}
	switch key {
	case "":
		writeJSON(w, map[string]any{
			"mosn_config": cfg,
			"listener":    listeners,
			"cluster":     clusters,
			"routers":     routers,
		})
	case "mosnconfig":
		writeJSON(w, cfg)
	case "alllisteners":
		writeJSON(w, listeners)
	case "allclusters":
		writeJSON(w, clusters)
	case "allrouters":
		writeJSON(w, routers)
	case "listener":
		n := q.Get(key)
		v, ok := listeners[n]
		one("listener", n, v, ok)
	case "cluster":
		n := q.Get(key)
		v, ok := clusters[n]
		one("cluster", n, v, ok)
	case "router":
		n := q.Get(key)
		v, ok := routers[n]
		one("router", n, v, ok)
	default:
		http.Error(w, fmt.Sprintf("unknown parameter %q (use mosnconfig, alllisteners, allclusters, allrouters, listener=, cluster=, router=)", key), http.StatusBadRequest)
	}
}

func (s *Server) versionAPI(w http.ResponseWriter, r *http.Request) {
	if !onlyMethod(w, r, http.MethodGet) {
		return
	}
	fmt.Fprintf(w, "mosn version: %s", s.version)
}

func (s *Server) states(w http.ResponseWriter, r *http.Request) {
	if !onlyMethod(w, r, http.MethodGet) {
		return
	}
	fmt.Fprintf(w, "pid=%d&state=%d", os.Getpid(), s.src.State())
}

type logLevelRequest struct {
	LogPath  string `json:"log_path"`
	LogLevel string `json:"log_level"`
}

func (s *Server) updateLogLevel(w http.ResponseWriter, r *http.Request) {
	if !onlyMethod(w, r, http.MethodPost) {
		return
	}
	var req logLevelRequest
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, "body must be {\"log_path\": ..., \"log_level\": ...}: "+err.Error(), http.StatusBadRequest)
		return
	}
	lvl, err := log.ParseLevel(req.LogLevel)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := s.src.Logs().SetLevel(req.LogPath, lvl); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.log.Infof("[admin api] [update loglevel] %s is now %s", req.LogPath, lvl)
	fmt.Fprintf(w, "update logger %s level to %s success\n", req.LogPath, lvl)
}

func (s *Server) getLogLevel(w http.ResponseWriter, r *http.Request) {
	if !onlyMethod(w, r, http.MethodGet) {
		return
	}
	out := map[string]string{}
	for p, l := range s.src.Logs().Loggers() {
		out[p] = l.String()
	}
	writeJSON(w, out)
}

func (s *Server) toggleLog(w http.ResponseWriter, r *http.Request, enable bool) {
	if !onlyMethod(w, r, http.MethodPost) {
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<10))
	path := strings.TrimSpace(string(body))
	var err error
	if enable {
		err = s.src.Logs().Enable(path)
	} else {
		err = s.src.Logs().Disable(path)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	verb := map[bool]string{true: "enable", false: "disable"}[enable]
	fmt.Fprintf(w, "%s %s success\n", verb, path)
}

func (s *Server) enableLog(w http.ResponseWriter, r *http.Request)  { s.toggleLog(w, r, true) }
func (s *Server) disableLog(w http.ResponseWriter, r *http.Request) { s.toggleLog(w, r, false) }

func (s *Server) features(w http.ResponseWriter, r *http.Request) {
	if !onlyMethod(w, r, http.MethodGet) {
		return
	}
	s.mu.Lock()
	feat := make(map[string]bool, len(s.feat))
	for k, v := range s.feat {
		feat[k] = v
	}
	s.mu.Unlock()
	if key := r.URL.Query().Get("key"); key != "" {
		fmt.Fprintf(w, "%t", feat[key])
		return
	}
	writeJSON(w, feat)
}

func (s *Server) env(w http.ResponseWriter, r *http.Request) {
	if !onlyMethod(w, r, http.MethodGet) {
		return
	}
	keys := r.URL.Query()["key"]
	if len(keys) == 0 {
		http.Error(w, "give one or more ?key=NAME parameters", http.StatusBadRequest)
		return
	}
	out := struct {
		Env      map[string]string `json:"env"`
		NotFound []string          `json:"not_found,omitempty"`
	}{Env: map[string]string{}}
	for _, k := range keys {
		if v, ok := os.LookupEnv(k); ok {
			out.Env[k] = v
		} else {
			out.NotFound = append(out.NotFound, k)
		}
	}
	writeJSON(w, out)
}
