package app

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"

	"mosn.dev/proxy/metrics"
	"mosn.dev/proxy/network"
	"mosn.dev/proxy/network/listener"
	"mosn.dev/proxy/upgrade"
)

// ErrUpgrade wraps a failure to take over from a running process; the
// command exits with code 2 (MOSN's) and the old process keeps serving.
var ErrUpgrade = errors.New("smooth upgrade failed")

// upgradeStats are the smooth-upgrade counters (mosn_upgrade_*). done and
// failed carry over from process to process.
type upgradeStats struct {
	done, failed, transferred, adopted *metrics.Counter
}

func newUpgradeStats(r *metrics.Registry) upgradeStats {
	s := r.Set("upgrade")
	return upgradeStats{
		done:        s.Counter("done_total"),
		failed:      s.Counter("failed_total"),
		transferred: s.Counter("connections_transferred_total"),
		adopted:     s.Counter("connections_adopted_total"),
	}
}

// upgradeEnabled reports whether this process takes part in smooth
// upgrades: not with disable_upgrade, and not for the embedded demo
// (which has no config folder to put its sockets in).
func (a *App) upgradeEnabled() bool {
	return !a.Config().DisableUpgrade && a.opts.ConfigPath != "" && !a.opts.NoUpgrade
}

// inherit asks a running process for its sockets. No process is a fresh
// start; a process that is there but fails the handshake stops this one.
func (a *App) inherit() error {
	if !a.upgradeEnabled() {
		return nil
	}
	h, err := upgrade.Inherit(a.UDSDir(), a.log)
	if errors.Is(err, upgrade.ErrNoOldProcess) {
		return nil
	}
	if err != nil {
		a.log.Errorf("[mosn] [NewMosn] getInheritListeners failed, exit: %v", err)
		return fmt.Errorf("%w: %v", ErrUpgrade, err)
	}
	a.inherited = h
	a.upg.done.Add(h.Done)
	a.upg.failed.Add(h.Failed)
	return nil
}

// listen opens a listener's socket, or takes it from the old process.
func (a *App) listen(l *listener.Listener) error {
	if f := a.inherited.Take("listener:"+l.Name(), l.Config().Address); f != nil {
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("listener %q: inherited socket: %w", l.Name(), err)
		}
		a.log.Infof("[network] [listener] %s: inherited %s from the old process", l.Name(), ln.Addr())
		l.Use(ln)
		return nil
	}
	return l.Listen()
}

// listenAux opens the admin, pprof or a metrics socket (name says which),
// or takes it from the old process, and remembers it for the next one.
func (a *App) listenAux(name, addr string) (net.Listener, error) {
	ln, err := a.takeOrListen(name, addr)
	if err != nil {
		return nil, err
	}
	a.aux = append(a.aux, auxSocket{name: name, ln: ln})
	return ln, nil
}

// takeOrListen takes the old process's socket called name at addr, or
// opens one.
func (a *App) takeOrListen(name, addr string) (net.Listener, error) {
	if f := a.inherited.Take(name, addr); f != nil {
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: inherited socket: %w", name, err)
		}
		return ln, nil
	}
	return net.Listen("tcp", addr)
}

type auxSocket struct {
	name string
	ln   net.Listener
}

// finishUpgrade runs once everything serves: it completes a handover
// (the old process then drains) or, on a fresh start, opens
// reconfig.sock and conn.sock for the next upgrade.
func (a *App) finishUpgrade() error {
	if !a.upgradeEnabled() {
		return nil
	}
	var (
		srv *upgrade.Server
		err error
	)
	if h := a.inherited; h != nil {
		a.inherited = nil
		srv, err = h.Ready(a)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrUpgrade, err)
		}
		a.upg.done.Inc()
		a.log.Infof("[mosn] [upgrade] took over from process %d (upgrade %d)", h.OldPid, a.upg.done.Value())
	} else {
		srv, err = upgrade.Listen(a.UDSDir(), a, a.log)
		if err != nil {
			// Serving matters more than being upgradable later.
			a.log.Errorf("[mosn] [start] smooth upgrade unavailable: %v", err)
			return nil
		}
	}
	a.upgSrv = srv
	srv.Serve()
	return nil
}

// Sockets is upgrade.Handler: every listening socket, duplicated.
func (a *App) Sockets() ([]upgrade.Socket, error) {
	var out []upgrade.Socket
	add := func(name string, ln net.Listener) error {
		fl, ok := ln.(interface{ File() (*os.File, error) })
		if !ok {
			return fmt.Errorf("%s: %T cannot be handed over", name, ln)
		}
		f, err := fl.File()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, upgrade.Socket{Name: name, Addr: ln.Addr().String(), File: f})
		return nil
	}
	var err error
	for _, l := range a.listeners {
		if ln := l.Socket(); ln != nil {
			if e := add("listener:"+l.Name(), ln); e != nil && err == nil {
				err = e
			}
		}
	}
	if a.admin != nil {
		if ln := a.admin.Socket(); ln != nil {
			if e := add("admin", ln); e != nil && err == nil {
				err = e
			}
		}
	}
	for _, s := range a.aux {
		if e := add(s.name, s.ln); e != nil && err == nil {
			err = e
		}
	}
	return out, err
}

// Begin is upgrade.Handler: a new process is taking over.
func (a *App) Begin() { a.setStage(StageUpgrading) }

// Failed is upgrade.Handler: the new process did not take over.
func (a *App) Failed(err error) {
	a.upg.failed.Inc()
	a.setStage(StageRunning)
}

// HandedOver is upgrade.Handler: the new process serves every socket, so
// this one drains, passing idle connections to it, and exits.
func (a *App) HandedOver() {
	dir := a.UDSDir()
	a.transfer = func(c *network.Conn) error {
		sc, ok := c.Conn.(syscall.Conn)
		if !ok {
			return fmt.Errorf("%T cannot be transferred", c.Conn)
		}
		if err := upgrade.Transfer(dir, c.Listener, c.OriginalDst, sc); err != nil {
			a.log.Debugf("[network] [transfer] connection %d not transferred, closing it: %v", c.ID, err)
			return err
		}
		a.upg.transferred.Inc()
		return nil
	}
	// The admin, pprof and metrics sockets now answer from the new
	// process only; connections already open here finish.
	if a.admin != nil {
		if ln := a.admin.Socket(); ln != nil {
			ln.Close()
		}
	}
	for _, s := range a.aux {
		s.ln.Close()
	}
	go a.Shutdown(true)
}

// Adopt is upgrade.Handler: serve a connection an older process passed.
func (a *App) Adopt(name, originalDst string, f *os.File) error {
	defer f.Close()
	var l *listener.Listener
	for _, x := range a.listeners {
		if x.Name() == name {
			l = x
			break
		}
	}
	if l == nil {
		return fmt.Errorf("no listener %q", name)
	}
	raw, err := net.FileConn(f)
	if err != nil {
		return err
	}
	a.upg.adopted.Inc()
	l.ServeHandoff(&network.Conn{
		Conn:        raw,
		ID:          network.NextConnID(),
		OriginalDst: originalDst,
		Start:       time.Now(),
	})
	return nil
}

// Counters is upgrade.Handler.
func (a *App) Counters() (done, failed int64) {
	return a.upg.done.Value(), a.upg.failed.Value()
}

// spawnSuccessor is SIGHUP: start a copy of this process with the same
// arguments; it takes over through reconfig.sock like any new process.
func (a *App) spawnSuccessor() {
	if !a.upgradeEnabled() {
		a.log.Warnf("[mosn] [signal] SIGHUP: smooth upgrade is disabled (disable_upgrade, or no config file); ignored")
		return
	}
	if a.State() != StageRunning {
		a.log.Warnf("[mosn] [signal] SIGHUP: not running (stage %d); ignored", a.State())
		return
	}
	exe, err := os.Executable()
	if err != nil {
		a.log.Errorf("[mosn] [signal] SIGHUP: cannot find this binary: %v", err)
		return
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	a.setStage(StageStartingNewServer)
	if err := cmd.Start(); err != nil {
		a.log.Errorf("[mosn] [signal] SIGHUP: cannot start the new process: %v", err)
		a.setStage(StageRunning)
		return
	}
	a.log.Infof("[mosn] [signal] SIGHUP: started new process %d to take over", cmd.Process.Pid)
	go func() {
		err := cmd.Wait()
		if err != nil {
			a.log.Errorf("[mosn] [upgrade] new process %d failed: %v", cmd.Process.Pid, err)
		}
		// It never connected (it failed before): serve on as before.
		a.stage.CompareAndSwap(StageStartingNewServer, StageRunning)
	}()
}
