package app

import (
	"os"
	"os/signal"
	"syscall"
)

// Run waits for signals and stops the process accordingly: SIGTERM drains
// gracefully within graceful_timeout, SIGINT (or a second SIGTERM) stops at
// once, SIGUSR1 reopens log files (for logrotate). It returns when the
// process has stopped.
func (a *App) Run() {
	sigs := a.sigs
	if sigs == nil {
		sigs = a.notifySignals()
	}
	defer signal.Stop(sigs)
	stopping := false
	for {
		select {
		case <-a.done:
			return
		case s := <-sigs:
			switch s {
			case syscall.SIGUSR1:
				if err := a.logs.ReopenAll(); err != nil {
					a.log.Errorf("[mosn] [signal] reopen logs: %v", err)
				}
				if err := a.access.ReopenAll(); err != nil {
					a.log.Errorf("[mosn] [signal] reopen access logs: %v", err)
				}
				// Logged after the reopen so it is the new file's first line.
				a.log.Infof("[mosn] [signal] SIGUSR1: log files reopened")
			case syscall.SIGHUP:
				a.spawnSuccessor()
			case syscall.SIGTERM:
				if stopping {
					a.log.Infof("[mosn] [signal] second SIGTERM: stopping now")
					a.forceStop()
					continue
				}
				stopping = true
				a.log.Infof("[mosn] [signal] SIGTERM: graceful stop")
				go a.Shutdown(true)
			case syscall.SIGINT:
				a.log.Infof("[mosn] [signal] SIGINT: stopping now")
				a.forceStop()
			}
		}
	}
}

// forceStop cuts every connection; a graceful Shutdown already running
// then finishes at once because its drain sees no connection left.
func (a *App) forceStop() {
	for _, l := range a.listeners {
		l.StopAccepting(nil)
		l.CloseConns()
	}
	go a.Shutdown(false)
}

// notifySignals starts queueing the signals Run handles. Start calls it
// before opening any socket, so a signal sent as soon as the proxy is
// reachable is handled rather than killing the process.
func (a *App) notifySignals() chan os.Signal {
	a.sigs = make(chan os.Signal, 8)
	signal.Notify(a.sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGHUP)
	return a.sigs
}
