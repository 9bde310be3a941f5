package deliver

import (
	"context"
	"errors"
	"fmt"

	"github.com/smtpkit/smtpkit/internal/route"
	"github.com/smtpkit/smtpkit/internal/smtp"
	"github.com/smtpkit/smtpkit/internal/tlspolicy"
)

// target is one host of a destination, with the addresses to try in order.
type target struct {
	host string
	// addrs are the IP addresses to dial; nil means dial host by name (a
	// smarthost or route, resolved by the Dialer like send does).
	addrs []string
	// secure says the MX and address answers were DNSSEC-validated, so
	// TLSA records may be looked up for host (RFC 7672 2.2.1, 2.2.2).
	secure bool
	// err is why host has no address (a failed A/AAAA lookup).
	err error
}

// deliverDest delivers to one destination and writes its recipients'
// outcomes into out.
func (d *deliverer) deliverDest(ctx context.Context, ds *dest, out []Outcome) {
	targets, err := d.targets(ctx, ds)
	if err != nil {
		d.decideAll(ds, out, err, "")
		return
	}
	pending := append([]int(nil), ds.idx...)
	var (
		lastErr, lastTemp error
		errAt, tempAt     remote
		tried             int
	)
	// Of several temporary failures the one that got furthest says most
	// (a TLS policy refusal beats a later connection refused); among
	// equals the last one counts, as in Postfix.
	note := func(err error, at remote) {
		if temporary(err) {
			if lastTemp == nil || progress(err) >= progress(lastTemp) {
				lastTemp, tempAt = err, at
			}
		} else {
			lastErr, errAt = err, at
		}
	}
	sts := &stsState{}
	for _, t := range targets {
		if len(pending) == 0 || tried >= d.o.MaxAddrs || ctx.Err() != nil {
			break
		}
		at := remote{host: t.host}
		if t.err != nil {
			note(t.err, at)
			continue
		}
		in, err := d.policy(ctx, ds, t, sts)
		if err != nil {
			note(err, at)
			continue
		}
		if in.Level == tlspolicy.LevelMTASTS && in.STS != nil && in.STS.Mode == tlspolicy.ModeEnforce && !in.STS.Matches(t.host) {
			// RFC 8461 4.1: under enforce, a host outside the policy's mx
			// patterns is not a candidate at all.
			note(&statusError{status: Deferred, enhanced: "4.7.5",
				msg: fmt.Sprintf("mx host %s does not match the mta-sts policy of %s", t.host, ds.domain)}, at)
			continue
		}
		addrs := t.addrs
		if addrs == nil {
			addrs = []string{""}
		}
		for _, ip := range addrs {
			if len(pending) == 0 || tried >= d.o.MaxAddrs || ctx.Err() != nil {
				break
			}
			tried++
			res := d.attempt(ctx, ds, t, ip, in, pending)
			if handshakeFailed(res.err) && in.Level == tlspolicy.LevelOpportunistic && ctx.Err() == nil {
				// RFC 7435 / Postfix's "may" level: a broken handshake
				// under opportunistic TLS is retried once on the same
				// address in clear, since without TLS is what the level
				// allows anyway.
				clear := in
				clear.Level = tlspolicy.LevelNone
				res = d.attempt(ctx, ds, t, ip, clear, res.pending)
			}
			for i, o := range res.decided {
				out[i] = o
			}
			pending = res.pending
			if res.err != nil {
				note(res.err, res.at)
			}
		}
	}
	if len(pending) == 0 {
		return
	}
	why, at := lastTemp, tempAt
	if why == nil {
		why, at = lastErr, errAt
	}
	if ctx.Err() != nil && why == nil {
		why = ctx.Err()
	}
	if why == nil {
		why = &statusError{status: Deferred, enhanced: "4.4.1", msg: "no address tried"}
	}
	for _, i := range pending {
		out[i] = fromErr(d.req.To[i], why, at)
	}
}

// decideAll gives every recipient of ds the outcome err decides.
func (d *deliverer) decideAll(ds *dest, out []Outcome, err error, host string) {
	for _, i := range ds.idx {
		out[i] = fromErr(d.req.To[i], err, remote{host: host})
	}
}

// targets are the hosts of ds in the order to try them: the explicit next
// hop, or the MX hosts as internal/route orders them (RFC 5321 5.1).
func (d *deliverer) targets(ctx context.Context, ds *dest) ([]target, error) {
	if ds.host != "" {
		return []target{{host: ds.host}}, nil
	}
	if d.o.Resolver == nil {
		return nil, &statusError{status: Deferred, enhanced: "4.3.5", msg: "no resolver configured for mx routing"}
	}
	rt, err := route.Lookup(ctx, d.o.Resolver, ds.domain, route.Options{Family: d.o.Family})
	if err != nil {
		// A route whose hosts have no address comes back with the error;
		// nothing to try then.
		return nil, err
	}
	var ts []target
	for _, h := range rt.Hops {
		t := target{host: h.Host, secure: rt.AD && h.AD}
		for _, a := range h.Addrs {
			t.addrs = append(t.addrs, a.IP.String())
		}
		if len(t.addrs) == 0 {
			t.err = h.Err
			if t.err == nil {
				t.err = &route.Error{Domain: ds.domain, Kind: route.KindNoRoute, Detail: h.Host + " has no address"}
			}
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// stsState is a destination's MTA-STS policy, discovered once.
type stsState struct {
	done   bool
	policy *tlspolicy.Policy
	err    error
}

// policy decides the TLS level of one host and gathers what Evaluate needs.
// Auto (""): DANE when the host has DNSSEC-validated TLSA records (RFC 7672
// 2.2), else MTA-STS when the domain publishes a policy in mode enforce or
// testing (RFC 8461 5; DANE takes precedence, RFC 8461 2), else
// opportunistic (RFC 3207 4.1); for an authenticated smarthost, verify. A
// failed TLSA lookup is an error: RFC 7672 2.2 asks the client to defer
// rather than fall back to cleartext, since an attacker can cause it.
func (d *deliverer) policy(ctx context.Context, ds *dest, t target, sts *stsState) (tlspolicy.Input, error) {
	in := tlspolicy.Input{Level: d.o.TLSPolicy, Host: t.host, Roots: d.o.RootCAs, Pins: d.o.Pins}
	if ds.domain != "" && ds.domain != t.host {
		in.AltNames = []string{ds.domain} // RFC 7672 3.2.2: the next-hop domain
	}
	lookTLSA := in.Level == tlspolicy.LevelDANE || in.Level == tlspolicy.LevelDANEOnly ||
		(in.Level == "" && ds.domain != "")
	if lookTLSA && d.trusted && (t.secure || ds.host != "") && d.o.Resolver != nil {
		recs, err := tlspolicy.LookupTLSA(ctx, d.o.Resolver, t.host, ds.port)
		if err != nil {
			return in, fmt.Errorf("tlsa lookup for %s: %w", t.host, err)
		}
		in.TLSA = recs
		if in.Level == "" && hasValidated(recs) {
			in.Level = tlspolicy.LevelDANE
		}
	}
	if in.Level == "" || in.Level == tlspolicy.LevelMTASTS {
		p, err := d.mtasts(ctx, ds, sts)
		if err != nil {
			return in, err
		}
		switch {
		case p != nil && p.Mode != tlspolicy.ModeNone:
			in.Level, in.STS = tlspolicy.LevelMTASTS, p
		case in.Level == tlspolicy.LevelMTASTS && ds.domain == "":
			// A smarthost or route is no MX of a policy domain: hold it
			// to what a policy would ask of an MX (RFC 8461 4.2).
			in.Level = tlspolicy.LevelVerify
		}
	}
	if in.Level == "" {
		in.Level = tlspolicy.LevelOpportunistic
		if ds.smarthost && d.o.Auth != nil {
			in.Level = tlspolicy.LevelVerify // like send: AUTH only to a verified server
		}
	}
	return in, nil
}

// mtasts discovers the MTA-STS policy of ds's domain once (RFC 8461 5.1).
// Discover keeps a cached policy when the record or fetch fail, and says
// so in its problems; only a bad domain or an ended ctx is an error.
func (d *deliverer) mtasts(ctx context.Context, ds *dest, st *stsState) (*tlspolicy.Policy, error) {
	if ds.domain == "" || d.o.Resolver == nil {
		return nil, nil
	}
	if !st.done {
		st.done = true
		cache, client := d.stsCache()
		disc, err := cache.Discover(ctx, d.o.Resolver, client, ds.domain)
		switch {
		case err != nil && ctx.Err() != nil:
			st.err = err
		case err != nil:
			st.err = &statusError{status: Deferred, enhanced: "4.7.5", msg: "mta-sts discovery: " + err.Error()}
		case disc != nil:
			st.policy = disc.Policy
		}
	}
	return st.policy, st.err
}

func hasValidated(recs []tlspolicy.TLSA) bool {
	for _, r := range recs {
		if r.AD {
			return true
		}
	}
	return false
}

// progress ranks how far a failed attempt got: 0 no connection, 1 the
// connection broke or TLS failed, 2 the server (or a policy) answered.
func progress(err error) int {
	var (
		ce *smtp.ConnectError
		ne *smtp.NetError
		te *smtp.TLSError
		pe *smtp.ProtocolError
	)
	switch {
	case errors.As(err, &ce):
		return 0
	case errors.As(err, &ne), errors.As(err, &te), errors.As(err, &pe):
		return 1
	}
	return 2
}

// handshakeFailed reports a STARTTLS handshake that failed for another
// reason than the certificate (which opportunistic TLS does not check).
func handshakeFailed(err error) bool {
	var te *smtp.TLSError
	return errors.As(err, &te) && !te.Verify
}
