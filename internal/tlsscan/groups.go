package tlsscan

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// probeGroups13 offers each group alone with an empty key_share list
// (RFC 8446 4.2.8: "This vector MAY be empty if the client is requesting
// a HelloRetryRequest"): a server that supports the group names it in a
// HelloRetryRequest, one that does not fails the handshake.
func (a *auditor) probeGroups13(ctx context.Context) []Group {
	return a.probeEach(ctx, a.groups, func(g uint16) bool {
		h, err := a.hello(TLS13, a.suitesFor(TLS13))
		if err != nil {
			return false
		}
		h.Groups = []uint16{g}
		h.KeyShares = []KeyShare{}
		o := a.exchange(ctx, h, false)
		if o.err != nil {
			a.noteError("TLS 1.3 group "+GroupName(g), o.err)
			return false
		}
		if o.sh == nil || o.sh.Version != TLS13 {
			return false
		}
		if o.sh.HelloRetryRequest {
			return o.sh.SelectedGroup == g
		}
		return o.sh.KeyShareGroup == g
	})
}

// probeLegacyGroups finds the elliptic curves accepted for ECDHE below
// TLS 1.3 (RFC 8422 5.1.1): offering only the ECDHE suites the highest
// such version accepted and one curve at a time, a curve counts when the
// ServerKeyExchange names it. It returns that version and its groups, and
// only reads res.
func (a *auditor) probeLegacyGroups(ctx context.Context, res *Result) (Version, []Group) {
	for _, v := range []Version{TLS12, TLS11, TLS10, SSL30} {
		vr := res.Version(v)
		if vr == nil || !vr.Accepted {
			continue
		}
		var ecdhe []uint16
		for _, s := range vr.Suites {
			if s.Kx == KxECDHE || s.Kx == KxECDHAnon {
				ecdhe = append(ecdhe, s.ID)
			}
		}
		if len(ecdhe) == 0 {
			continue
		}
		var curves []uint16
		for _, g := range a.groups {
			if isECGroup(g) {
				curves = append(curves, g)
			}
		}
		return v, a.probeEach(ctx, curves, func(g uint16) bool {
			h, err := a.hello(v, ecdhe)
			if err != nil {
				return false
			}
			h.Groups = []uint16{g}
			o := a.exchange(ctx, h, true)
			if o.err != nil {
				a.noteError(v.String()+" group "+GroupName(g), o.err)
				return false
			}
			return o.sh != nil && o.sh.Version == v && o.kx != nil && o.kx.Group == g
		})
	}
	return 0, nil
}

// probeEach runs accept for every group concurrently (the auditor's
// semaphore bounds the handshakes) and returns the accepted ones in the
// order given.
func (a *auditor) probeEach(ctx context.Context, ids []uint16, accept func(uint16) bool) []Group {
	ok := make([]bool, len(ids))
	var wg sync.WaitGroup
	for i, g := range ids {
		wg.Go(func() { ok[i] = accept(g) })
	}
	wg.Wait()
	var out []Group
	for i, g := range ids {
		if ok[i] {
			out = append(out, namedGroup(g))
		}
	}
	return out
}

// probeFallback offers the second-highest accepted version with
// TLS_FALLBACK_SCSV: RFC 7507 3 says a server supporting a higher version
// answers inappropriate_fallback. Nil when fewer than two versions are
// accepted or the answer says neither yes nor no.
func (a *auditor) probeFallback(ctx context.Context, res *Result) *bool {
	accepted := res.Accepted()
	if len(accepted) < 2 {
		return nil
	}
	slices.Sort(accepted)
	lo := res.Version(accepted[len(accepted)-2])
	suites := make([]uint16, len(lo.Suites))
	for i, s := range lo.Suites {
		suites[i] = s.ID
	}
	h, err := a.hello(lo.Version, suites)
	if err != nil {
		return nil
	}
	h.FallbackSCSV = true
	o := a.exchange(ctx, h, false)
	yes, no := true, false
	switch {
	case o.err != nil:
		a.noteError("fallback scsv", o.err)
	case o.refusal == "inappropriate_fallback":
		return &yes
	case o.sh != nil && o.sh.Version == lo.Version:
		return &no
	case o.refusal != "":
		a.noteError("fallback scsv", errors.New("refused with "+o.refusal))
	}
	return nil
}
