package admin

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

// Envoy's ServerInfo states, which pilot-agent reads for readiness.
const (
	envoyLive            = "LIVE"
	envoyDraining        = "DRAINING"
	envoyPreInitializing = "PRE_INITIALIZING"
	envoyInitializing    = "INITIALIZING"
)

// envoyState maps a MOSN stage number to Envoy's ServerInfo state the way
// MOSN does for Istio.
func envoyState(stage int) (name string, code int) {
	switch {
	case stage <= 2: // Nil, ParamsParsed, Initing
		return envoyPreInitializing, 2
	case stage <= 4: // PreStart, Starting
		return envoyInitializing, 3
	case stage <= 6 || stage == 12: // AfterStart, Running, StartingNewServer
		return envoyLive, 0
	default: // stopping stages and Upgrading
		return envoyDraining, 1
	}
}

var started = time.Now()

// registerIstio adds the Envoy-compatible endpoints pilot-agent polls.
func (s *Server) registerIstio() {
	s.Handle("/stats", s.istioStats)
	s.Handle("/server_info", s.serverInfo)
}

// istioStats is Envoy's /stats subset that pilot-agent reads: xDS update
// counters (0 until the xDS client lands), the server state and whether
// workers started.
func (s *Server) istioStats(w http.ResponseWriter, r *http.Request) {
	if !onlyMethod(w, r, http.MethodGet) {
		return
	}
	_, code := envoyState(s.src.State())
	workers := 0
	if code == 0 {
		workers = 1
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "cluster_manager.cds.update_success: 0\n")
	fmt.Fprintf(w, "cluster_manager.cds.update_rejected: 0\n")
	fmt.Fprintf(w, "listener_manager.lds.update_success: 0\n")
	fmt.Fprintf(w, "listener_manager.lds.update_rejected: 0\n")
	fmt.Fprintf(w, "server.state: %d\n", code)
	fmt.Fprintf(w, "listener_manager.workers_started: %d\n", workers)
}

// serverInfo is Envoy's admin.v3.ServerInfo JSON (the fields pilot-agent
// and operators read).
func (s *Server) serverInfo(w http.ResponseWriter, r *http.Request) {
	if !onlyMethod(w, r, http.MethodGet) {
		return
	}
	state, _ := envoyState(s.src.State())
	host, _ := os.Hostname()
	up := time.Since(started).Truncate(time.Second)
	writeJSON(w, map[string]any{
		"version":               s.version,
		"state":                 state,
		"hot_restart_version":   "mosn",
		"uptime_current_epoch":  fmt.Sprintf("%ds", int(up.Seconds())),
		"uptime_all_epochs":     fmt.Sprintf("%ds", int(up.Seconds())),
		"command_line_options":  map[string]any{"service_node": host},
		"node":                  map[string]any{"id": host},
		"mosn_stage":            s.src.State(),
		"mosn_stage_state_name": state,
	})
}
