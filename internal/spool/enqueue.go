package spool

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/smtpkit/smtpkit/internal/durable"
)

// maxTries bounds the retries when a fresh name is taken anyway.
const maxTries = 8

// newID returns an upper-case hex ID that sorts by creation time: the
// microseconds since the epoch, then 32 random bits.
func (s *Spool) newID() string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return strings.ToUpper(strconv.FormatInt(s.now().UnixMicro(), 16) + hex.EncodeToString(r[:]))
}

// createTmp creates tmp/NAME.<random> with O_EXCL and mode 0600.
func (s *Spool) createTmp(name string) (*os.File, string, error) {
	for try := 0; ; try++ {
		var r [6]byte
		_, _ = rand.Read(r[:])
		path := filepath.Join(s.tmp, name+"."+hex.EncodeToString(r[:]))
		f, err := durable.CreateExcl(path)
		if err == nil {
			return f, path, nil
		}
		if errors.Is(err, fs.ErrExist) && try < maxTries {
			continue
		}
		return nil, "", newError("create", path, err)
	}
}

// Enqueue stores msg (read to the end; the caller gives it CRLF line ends,
// as message.Prepared.Open does) with the envelope sender from ("" for the
// null sender) and rcpts, and returns the new entry once both files are
// durable in queue/ (see the package comment for the sequence). Every
// recipient starts Queued and due now. The message is kept as is, except
// that lines over 998 octets are broken with CRLF SPACE, as Postfix does
// (see lineBreaker); the entry's Size is what was stored.
//
// On failure nothing is left in queue/ or tmp/. A read error of msg is
// returned wrapped; ctx ending before the entry is linked gives ctx's
// error; filesystem failures are *Error (Full for ENOSPC/EDQUOT).
func (s *Spool) Enqueue(ctx context.Context, msg io.Reader, from string, rcpts []string) (*Entry, error) {
	return s.EnqueueWith(ctx, msg, from, rcpts, EnqueueOptions{})
}

// EnqueueOptions are the RFC 3461 DSN parameters of an enqueued message.
// Zero values mean "not given".
type EnqueueOptions struct {
	// Ret is RET (RFC 3461 4.3): "FULL" or "HDRS", any case.
	Ret string
	// EnvID is ENVID (RFC 3461 4.4), decoded (not xtext).
	EnvID string
	// Notify is NOTIFY (RFC 3461 4.1) for every recipient: {"NEVER"} or a
	// subset of "SUCCESS", "FAILURE" and "DELAY".
	Notify []string
	// ORcpts, when not nil, holds each recipient's ORCPT address (RFC 3461
	// 4.2), in the order of rcpts; "" for none.
	ORcpts []string
}

// EnqueueWith is Enqueue with DSN parameters, kept in the entry so that
// every attempt passes them on and the spool's own reports follow them.
func (s *Spool) EnqueueWith(ctx context.Context, msg io.Reader, from string, rcpts []string, o EnqueueOptions) (*Entry, error) {
	if o.ORcpts != nil && len(o.ORcpts) != len(rcpts) {
		return nil, errors.New("spool: enqueue: ORcpts do not match the recipients")
	}
	if o.Ret != "" && !strings.EqualFold(o.Ret, "FULL") && !strings.EqualFold(o.Ret, "HDRS") {
		return nil, fmt.Errorf("spool: enqueue: RET %q: want FULL or HDRS", o.Ret)
	}
	return s.enqueue(ctx, msg, from, rcpts, false, o)
}

func (s *Spool) enqueue(ctx context.Context, msg io.Reader, from string, rcpts []string, bounce bool, o EnqueueOptions) (_ *Entry, err error) {
	if len(rcpts) == 0 {
		return nil, errors.New("spool: enqueue: no recipients")
	}
	now := s.now()
	e := &Entry{ID: s.newID(), Created: now, Sender: from, Bounce: bounce, Ret: strings.ToUpper(o.Ret), EnvID: o.EnvID}
	for i, r := range rcpts {
		rc := Recipient{Addr: r, Status: Queued, NextAttempt: now}
		if len(o.Notify) > 0 {
			rc.Notify = append([]string(nil), o.Notify...)
		}
		if o.ORcpts != nil {
			rc.ORcpt = o.ORcpts[i]
		}
		e.Recipients = append(e.Recipients, rc)
	}

	f, tmp, err := s.createTmp(e.ID + ".msg")
	if err != nil {
		return nil, err
	}
	var linked []string
	defer func() {
		if err != nil {
			for _, p := range linked {
				os.Remove(p)
			}
		}
		os.Remove(tmp)
	}()
	// RFC 5322 2.1.1: no line over 998 octets; longer ones are broken as
	// the message is written, as Postfix does before sending (a server is
	// free to refuse them, RFC 5321 4.5.3.1.6). bw batches the small
	// writes of the breaker.
	bw := bufio.NewWriterSize(f, 64<<10)
	trace := s.received(e.ID, now)
	_, _ = bw.WriteString(trace) // an error stays in bw for its Flush
	lb := newLineBreaker(bw)
	_, err = io.Copy(lb, ctxReader{ctx, msg})
	if err == nil {
		err = lb.Flush()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		f.Close()
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path == tmp {
			return nil, newError("write", tmp, err)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("spool: enqueue: %w", ctx.Err())
		}
		return nil, fmt.Errorf("spool: read message: %w", err)
	}
	if err := syncClose(f, tmp); err != nil {
		return nil, err
	}
	e.Size = int64(len(trace)) + lb.out
	if lb.Broken > 0 {
		s.log.Info("long lines broken", "id", e.ID, "breaks", lb.Broken, "limit", MaxLineOctets)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("spool: enqueue: %w", err)
	}
	// The message goes into queue/ first: a state file is what makes an
	// entry, and it must never point at a message that is not there. A
	// crash in between leaves an orphan ID.msg, which Clean removes.
	if err := os.Link(tmp, s.msgPath(e.ID)); err != nil {
		return nil, newError("link", s.msgPath(e.ID), err)
	}
	linked = append(linked, s.msgPath(e.ID))
	if err := s.writeState(e, true); err != nil {
		linked = append(linked, s.statePath(e.ID))
		return nil, err
	}
	return e, nil
}

// received is the trace field an entry's message starts with, as
// Postfix's pickup and sendmail's submission add one for a message that
// enters the mail system here (RFC 5321 4.4, RFC 5322 3.6.7): this host,
// the submitting user, the entry's ID and the time. One line (about 100
// octets), so that a report's header section stays one line per field. No
// "for" clause: with Bcc recipients it would tell them to every reader.
func (s *Spool) received(id string, now time.Time) string {
	who := ""
	if uid := os.Getuid(); uid >= 0 {
		who = ", from userid " + strconv.Itoa(uid)
	}
	return "Received: by " + s.host + " (smtpkit" + who + ") id " + id + "; " + now.Format(time.RFC1123Z) + "\r\n"
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// orphanAge is how old a leftover file must be before Clean removes it, so
// that an Enqueue in progress in another process is never disturbed.
const orphanAge = time.Hour

// Clean removes what crashed processes left behind: files in tmp/ and
// message files in queue/ without a state file, both only when older than
// an hour. It returns how many files it removed; errors are ignored, as
// the files are garbage either way.
func (s *Spool) Clean() int {
	removed := 0
	cut := s.now().Add(-orphanAge)
	old := func(de fs.DirEntry) bool {
		fi, err := de.Info()
		return err == nil && fi.ModTime().Before(cut)
	}
	if des, err := os.ReadDir(s.tmp); err == nil {
		for _, de := range des {
			if old(de) && os.Remove(filepath.Join(s.tmp, de.Name())) == nil {
				removed++
			}
		}
	}
	if des, err := os.ReadDir(s.queue); err == nil {
		for _, de := range des {
			id, ok := strings.CutSuffix(de.Name(), ".msg")
			if !ok || !old(de) {
				continue
			}
			if _, err := os.Stat(s.statePath(id)); !errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if os.Remove(s.msgPath(id)) == nil {
				removed++
			}
		}
	}
	return removed
}
