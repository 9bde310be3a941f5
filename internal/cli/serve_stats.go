package cli

import (
	"log/slog"
	"os"
	"os/signal"
	"runtime"

	"github.com/smtpkit/smtpkit/internal/mda"
	"github.com/smtpkit/smtpkit/internal/smtp"
)

// logStatsOnSignal logs a "stats" line on each SIGUSR1 (as dnsmasq and
// unbound dump theirs) until the returned function is called: what a load
// test compares before and after to find leaked sessions or goroutines.
// log is not quieted by -q: the line was asked for.
func logStatsOnSignal(log *slog.Logger, srv *smtp.Server, be *mda.Backend) (stop func()) {
	if len(statsSignals) == 0 {
		return func() {}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, statsSignals...)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-sig:
				log.Info("stats", "sessions", srv.Conns(), "goroutines", runtime.NumGoroutine(), "messages", be.Messages())
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sig)
		close(done)
		<-finished
	}
}
