package records

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
)

// Limits of CountSPFLookups.
const (
	// SPFLookupLimit is the most DNS-querying terms one SPF evaluation may use (RFC 7208
	// 4.6.4).
	SPFLookupLimit = 10
	// SPFVoidLookupLimit is the most lookups returning no answer (NODATA or NXDOMAIN) one
	// evaluation should allow (RFC 7208 4.6.4).
	SPFVoidLookupLimit = 2

	// spfMaxDepth bounds include/redirect nesting; a real chain never comes close.
	spfMaxDepth = 16
	// spfMaxRecords bounds the records evaluated (a record included twice counts twice), so
	// a record that includes the same domain over and over cannot make the walk explode.
	spfMaxRecords = 64
)

// ErrNotFound may be returned (or wrapped) by a lookupTXT function passed to
// CountSPFLookups to say that the name does not exist (NXDOMAIN).
var ErrNotFound = errors.New("name not found")

// CountSPFLookups counts the DNS-querying terms that evaluating domain's SPF record takes
// in the worst case (RFC 7208 4.6.4): every include, a, mx, ptr and exists mechanism and
// every redirect modifier, following include and redirect into the records they name.
// Mechanisms after an "all" are never evaluated and are not counted, and neither is a
// redirect in a record that has an "all" (RFC 7208 6.1). The MX and PTR answers that mx
// and ptr would look up are not fetched, so their own per-mechanism limits are not
// checked.
//
// lookupTXT returns the TXT records of a name, each with its strings joined. A name that
// does not exist or has no TXT record is a void lookup: the function returns no records and
// a nil error, or an error that is ErrNotFound, a *net.DNSError with IsNotFound, or has a
// method NotFound() bool that returns true. An error with a method Temporary() bool that
// returns false is a permanent failure for that name and becomes a problem; any other
// error is temporary and CountSPFLookups stops and returns it wrapped, with the count so
// far.
//
// The problems are those of the walk: more than SPFLookupLimit lookups, more than
// SPFVoidLookupLimit void lookups, include loops, includes or redirects to names without
// exactly one SPF record, and the problems of included records, each prefixed with the term
// that led there. The problems of domain's own record are not repeated: SelectSPF and
// ParseSPF report those, and when domain has no single SPF record the count is 0. An
// include or redirect target that holds macros cannot be resolved without a message to
// evaluate; it is counted but not followed, with a warning.
func CountSPFLookups(ctx context.Context, lookupTXT func(ctx context.Context, name string) ([]string, error), domain string) (count int, problems []Problem, err error) {
	w := &spfWalker{lookup: lookupTXT, cache: map[string][]string{}}
	name := normalizeName(domain)
	txts, void, err := w.fetch(ctx, name)
	if err != nil {
		return 0, nil, err
	}
	if void {
		return 0, nil, nil
	}
	rec, _ := SelectSPF(txts)
	if rec == "" {
		return 0, nil, nil
	}
	spf, _ := ParseSPF(rec)
	w.records++
	if err := w.walk(ctx, spf, []string{name}); err != nil {
		return w.count, w.problems, err
	}
	if w.count > SPFLookupLimit {
		// RFC 7208 4.6.4: exceeding the limit is a permerror.
		w.problems = append(w.problems, errorf("SPF evaluation needs %d DNS lookups; more than %d is a permerror (RFC 7208 4.6.4)", w.count, SPFLookupLimit))
	}
	if w.voids > SPFVoidLookupLimit {
		w.problems = append(w.problems, errorf("%d include/redirect lookups return no records; more than %d is a permerror (RFC 7208 4.6.4)", w.voids, SPFVoidLookupLimit))
	}
	return w.count, w.problems, nil
}

type spfWalker struct {
	lookup   func(ctx context.Context, name string) ([]string, error)
	cache    map[string][]string
	count    int
	voids    int
	records  int
	stopped  bool
	problems []Problem
}

// walk counts the lookups of one record and follows its include and redirect terms. path
// holds the names from the top record down to this one, for the loop guard.
func (w *spfWalker) walk(ctx context.Context, spf *SPF, path []string) error {
	sawAll := false
	for _, m := range spf.Mechanisms {
		if m.Kind.QueriesDNS() {
			w.count++
		}
		if m.Kind == SPFInclude {
			if err := w.follow(ctx, "include:"+m.Domain, m.Domain, path); err != nil {
				return err
			}
		}
		if m.Kind == SPFAll {
			// RFC 7208 5.1: mechanisms after "all" are never tested.
			sawAll = true
			break
		}
	}
	if spf.Redirect != "" && !sawAll {
		w.count++
		return w.follow(ctx, "redirect="+spf.Redirect, spf.Redirect, path)
	}
	return nil
}

// follow evaluates the record at target, reached through term.
func (w *spfWalker) follow(ctx context.Context, term, target string, path []string) error {
	if w.stopped {
		return nil
	}
	if strings.Contains(target, "%") {
		w.problems = append(w.problems, warnf("%s: the target holds macros, so its lookups are not counted", term))
		return nil
	}
	name := normalizeName(target)
	for _, p := range path {
		if p == name {
			// An include loop never ends within the lookup limit: a permerror.
			w.problems = append(w.problems, errorf("%s: loop: %s -> %s (RFC 7208 4.6.4)", term, strings.Join(path, " -> "), name))
			return nil
		}
	}
	if len(path) > spfMaxDepth || w.records >= spfMaxRecords {
		w.stopped = true
		w.problems = append(w.problems, warnf("%s: stopped after %d records, %d levels deep; the count is a lower bound", term, w.records, len(path)))
		return nil
	}
	where, rfc := "an include", "RFC 7208 5.2"
	if strings.HasPrefix(term, "redirect=") {
		where, rfc = "a redirect", "RFC 7208 6.1"
	}
	txts, void, err := w.fetch(ctx, name)
	if err != nil {
		if isPermanent(err) {
			w.problems = append(w.problems, errorf("%s: lookup failed: %v; %s without an SPF record is a permerror (%s)", term, err, where, rfc))
			return nil
		}
		return err
	}
	if void {
		w.voids++
		w.problems = append(w.problems, errorf("%s: the name has no TXT records; %s without an SPF record is a permerror (%s)", term, where, rfc))
		return nil
	}
	rec, sel := SelectSPF(txts)
	if rec == "" {
		if HasErrors(sel) {
			w.problems = append(w.problems, errorf("%s: %s", term, sel[0].Text))
		} else {
			w.problems = append(w.problems, errorf("%s: no SPF record; %s without an SPF record is a permerror (%s)", term, where, rfc))
		}
		return nil
	}
	spf, ps := ParseSPF(rec)
	for _, p := range ps {
		p.Text = term + ": " + p.Text
		w.problems = append(w.problems, p)
	}
	w.records++
	sub := append(path[:len(path):len(path)], name)
	return w.walk(ctx, spf, sub)
}

// fetch looks up the TXT records of name, once per walk.
func (w *spfWalker) fetch(ctx context.Context, name string) (txts []string, void bool, err error) {
	if txts, ok := w.cache[name]; ok {
		return txts, len(txts) == 0, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	txts, err = w.lookup(ctx, name)
	if err != nil {
		if isNotFound(err) {
			w.cache[name] = nil
			return nil, true, nil
		}
		return nil, false, fmt.Errorf("spf lookup %s: %w", name, err)
	}
	w.cache[name] = txts
	return txts, len(txts) == 0, nil
}

func isNotFound(err error) bool {
	if errors.Is(err, ErrNotFound) {
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.IsNotFound
	}
	var nf interface{ NotFound() bool }
	return errors.As(err, &nf) && nf.NotFound()
}

func isPermanent(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && !t.Temporary()
}

// normalizeName lowers a domain name and drops its trailing dot.
func normalizeName(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}
