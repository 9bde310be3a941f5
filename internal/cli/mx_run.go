package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/smtpkit/smtpkit/internal/cli/render"
	"github.com/smtpkit/smtpkit/internal/mxcheck"
)

// maxLine bounds one input line; a longer one is reported as an invalid
// name and skipped, without being held whole.
const maxLine = 4096

// mxJob is one domain to look up, or an input line that is not one.
type mxJob struct {
	input string
	err   error
}

// mxRun looks up the argument domains, then in's lines, c.Concurrency
// at a time, and prints each report as it finishes. Memory stays bounded
// by the concurrency whatever the input's size.
func mxRun(ctx context.Context, g *globals, c *mxcheck.Checker, o *MxOptions, in io.Reader) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan mxJob, o.Concurrency)
	results := make(chan *mxcheck.Report, o.Concurrency)
	var readErr error
	go func() {
		defer close(jobs)
		send := func(j mxJob) bool {
			select {
			case jobs <- j:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for _, d := range o.Domains {
			if !send(mxJob{input: d}) {
				return
			}
		}
		if in != nil {
			readErr = readLines(in, send)
		}
	}()
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				var r *mxcheck.Report
				if j.err != nil {
					r = &mxcheck.Report{Input: j.input, Status: mxcheck.StatusInvalid, Error: j.err.Error(),
						MX: []mxcheck.Host{}, Findings: []string{}}
				} else {
					r = c.Domain(ctx, j.input)
				}
				results <- r
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()

	pr := g.printer()
	out := pr.MxStream()
	sum := render.MxSummaryJSON{ExitCode: ExitOK}
	var firstErr string
	var writeErr error
	for r := range results {
		code := mxExit(r)
		sum.Domains++
		if r.Status == mxcheck.StatusOK {
			sum.OK++
		} else {
			sum.Failed++
			if firstErr == "" {
				firstErr = r.Input + ": " + r.Error
			}
		}
		if len(r.Findings) > 0 {
			sum.Findings++
		}
		sum.ExitCode = worse(sum.ExitCode, code)
		if writeErr != nil {
			continue
		}
		writeErr = out.Domain(r, code)
		if writeErr == nil && len(results) == 0 {
			writeErr = out.Flush()
		}
		if writeErr != nil {
			cancel() // stdout is gone (a closed pipe): stop looking up
		}
	}
	if readErr != nil {
		sum.ExitCode = worse(sum.ExitCode, ExitIOErr)
	}
	if writeErr == nil {
		writeErr = out.Close(sum)
	}
	switch {
	case readErr != nil:
		return &ExitError{Code: ExitIOErr, Err: fmt.Errorf("reading --file: %w", readErr)}
	case writeErr != nil:
		return &ExitError{Code: ExitIOErr, Err: fmt.Errorf("writing output: %w", writeErr)}
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled) && sum.ExitCode == ExitOK:
		return &ExitError{Code: ExitTempFail, Err: errors.New("interrupted")}
	}
	if sum.ExitCode == ExitOK {
		return nil
	}
	return &ExitError{Code: sum.ExitCode, Err: errors.New(mxSummary(sum, firstErr))}
}

// mxSummary is the one stderr line of a run that did not succeed.
func mxSummary(sum render.MxSummaryJSON, firstErr string) string {
	switch {
	case sum.Failed == 1 && sum.Domains == 1:
		return firstErr
	case sum.Failed > 0 && sum.Findings > 0:
		return fmt.Sprintf("%d of %d domains failed, %d hold --fail-on conditions", sum.Failed, sum.Domains, sum.Findings)
	case sum.Failed > 0:
		return fmt.Sprintf("%d of %d domains failed", sum.Failed, sum.Domains)
	}
	return fmt.Sprintf("%d of %d domains hold --fail-on conditions", sum.Findings, sum.Domains)
}

// mxExit is the exit code one domain stands for (README, "Exit codes").
func mxExit(r *mxcheck.Report) int {
	switch r.Status {
	case mxcheck.StatusInvalid:
		return ExitData
	case mxcheck.StatusNoSuchDomain, mxcheck.StatusNullMX, mxcheck.StatusNoRoute:
		return ExitNoHost
	case mxcheck.StatusTemporary:
		return ExitTempFail
	case mxcheck.StatusBadAnswer:
		return ExitProtocol
	}
	if len(r.Findings) > 0 {
		return ExitFindings
	}
	return ExitOK
}

// readLines hands every domain line of r to send, trimmed, skipping blank
// lines and # comments, until send returns false. A line longer than
// maxLine is passed on as an error and the rest of it skipped.
func readLines(r io.Reader, send func(mxJob) bool) error {
	br := bufio.NewReaderSize(r, maxLine)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			head := string(bytes.TrimSpace(line[:64])) + "..."
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if !send(mxJob{input: head, err: fmt.Errorf("%s: invalid domain name: line longer than %d octets", head, maxLine)}) {
				return nil
			}
		} else if s := string(bytes.TrimSpace(line)); s != "" && s[0] != '#' {
			if !send(mxJob{input: s}) {
				return nil
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}
