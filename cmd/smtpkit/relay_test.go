package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
	"github.com/rogpeppe/go-internal/testscript"
)

// Commands for the scripts that test `smtpkit relay` (testdata/script/relay_*.txtar):
//
//	dsn-check SRC             the one message in SRC (a file, or a folder
//	                          such as box/new holding exactly one) must be an
//	                          RFC 6522 multipart/report with
//	                          report-type=delivery-status, From
//	                          MAILER-DAEMON, and exactly three parts
//	                          (text/plain, message/delivery-status,
//	                          text/rfc822-headers, or message/rfc822 for
//	                          RET=FULL), read with go-message. Its
//	                          delivery-status fields are printed to stdout,
//	                          one "Name: value" per line, groups separated by
//	                          a line "--", then "==" and the returned headers
//	                          (or message), for `stdout` checks.

// dsn-check SRC
func cmdDSNCheck(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "dsn-check")
	if len(args) != 1 {
		ts.Fatalf("usage: dsn-check file|dir")
	}
	src := ts.MkAbs(args[0])
	if fi, err := os.Stat(src); err == nil && fi.IsDir() {
		names, err := maildirFiles(src)
		ts.Check(err)
		if len(names) != 1 {
			ts.Fatalf("dsn-check: %s holds %d files, want 1: %v", args[0], len(names), names)
		}
		src = filepath.Join(src, names[0])
	}
	b, err := os.ReadFile(src)
	ts.Check(err)
	out, err := checkDSN(b)
	if err != nil {
		ts.Fatalf("dsn-check %s: %v", args[0], err)
	}
	fmt.Fprint(ts.Stdout(), out)
}

// checkDSN parses a delivery status notification and returns its
// delivery-status groups and the returned headers (or, for RET=FULL, the
// returned message) as text.
func checkDSN(b []byte) (string, error) {
	ent, err := gomessage.Read(bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("go-message: %w", err)
	}
	mt, params, err := ent.Header.ContentType()
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		return "", fmt.Errorf("content type %q %v (%v), want multipart/report; report-type=delivery-status", mt, params, err)
	}
	if from := ent.Header.Get("From"); !strings.Contains(from, "MAILER-DAEMON@") {
		return "", fmt.Errorf("From %q is not MAILER-DAEMON", from)
	}
	mr := ent.MultipartReader()
	var (
		types []string
		out   strings.Builder
		heads string
	)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("part %d: %w", len(types)+1, err)
		}
		pt, _, _ := p.Header.ContentType()
		types = append(types, pt)
		body, err := io.ReadAll(p.Body)
		if err != nil {
			return "", err
		}
		switch pt {
		case "message/delivery-status":
			br := bufio.NewReader(bytes.NewReader(body))
			groups := 0
			for {
				if _, err := br.Peek(1); err == io.EOF {
					break
				}
				h, err := textproto.ReadHeader(br)
				if err != nil {
					return "", fmt.Errorf("delivery-status: %w", err)
				}
				if h.Len() == 0 {
					continue
				}
				if groups > 0 {
					out.WriteString("--\n")
				}
				groups++
				// Raw lines: go-message canonicalises keys (Reporting-Mta).
				for f := h.Fields(); f.Next(); {
					raw, err := f.Raw()
					if err != nil {
						return "", err
					}
					out.WriteString(strings.TrimRight(string(raw), "\r\n") + "\n")
				}
			}
			// RFC 3464 2.1: per-message fields, then a group per recipient.
			if groups < 2 {
				return "", fmt.Errorf("delivery-status has %d groups, want per-message and at least one recipient", groups)
			}
		case "text/rfc822-headers", "message/rfc822":
			// RET=HDRS (the default) or RET=FULL (RFC 3461 4.3).
			heads = string(body)
		}
	}
	if j := strings.Join(types, " "); j != "text/plain message/delivery-status text/rfc822-headers" && j != "text/plain message/delivery-status message/rfc822" {
		return "", fmt.Errorf("parts %v", types)
	}
	out.WriteString("==\n")
	out.WriteString(strings.ReplaceAll(heads, "\r\n", "\n"))
	return out.String(), nil
}
