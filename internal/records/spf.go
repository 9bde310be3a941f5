package records

import (
	"net/netip"
	"strconv"
	"strings"
)

// Qualifier is the result a mechanism yields when it matches (RFC 7208 4.6.2).
type Qualifier string

// The four qualifiers, named by their results.
const (
	QualifierPass     Qualifier = "pass"     // "+", the default
	QualifierFail     Qualifier = "fail"     // "-"
	QualifierSoftFail Qualifier = "softfail" // "~"
	QualifierNeutral  Qualifier = "neutral"  // "?"
)

// Symbol returns the qualifier as written in a record: "+", "-", "~" or "?".
func (q Qualifier) Symbol() string {
	switch q {
	case QualifierFail:
		return "-"
	case QualifierSoftFail:
		return "~"
	case QualifierNeutral:
		return "?"
	}
	return "+"
}

// SPFKind names an SPF mechanism (RFC 7208 5).
type SPFKind string

// The mechanisms of RFC 7208 section 5.
const (
	SPFAll     SPFKind = "all"
	SPFInclude SPFKind = "include"
	SPFA       SPFKind = "a"
	SPFMX      SPFKind = "mx"
	SPFPTR     SPFKind = "ptr"
	SPFIP4     SPFKind = "ip4"
	SPFIP6     SPFKind = "ip6"
	SPFExists  SPFKind = "exists"
)

// QueriesDNS reports whether evaluating the mechanism costs a DNS query and so counts
// against the limit of 10 (RFC 7208 4.6.4): include, a, mx, ptr and exists.
func (k SPFKind) QueriesDNS() bool {
	switch k {
	case SPFInclude, SPFA, SPFMX, SPFPTR, SPFExists:
		return true
	}
	return false
}

// SPF is a parsed SPF record (RFC 7208 4.5, 4.6).
type SPF struct {
	// Record is the text that was parsed.
	Record string `json:"record"`
	// Mechanisms are the directives in record order; empty, never nil.
	Mechanisms []SPFMechanism `json:"mechanisms"`
	// Modifiers are all modifiers in record order, redirect and exp included.
	Modifiers []SPFModifier `json:"modifiers,omitempty"`
	// Redirect is the domain-spec of the redirect modifier, or "" (RFC 7208 6.1).
	Redirect string `json:"redirect,omitempty"`
	// Exp is the domain-spec of the exp modifier, or "" (RFC 7208 6.2).
	Exp string `json:"exp,omitempty"`
}

// SPFMechanism is one directive: a qualifier and a mechanism with its arguments.
type SPFMechanism struct {
	// Term is the directive as written in the record.
	Term string `json:"term"`
	// Qualifier is the result on a match; "pass" when the record wrote none.
	Qualifier Qualifier `json:"qualifier"`
	// Kind is the mechanism name, in lower case.
	Kind SPFKind `json:"kind"`
	// Domain is the domain-spec argument of include, exists, and (when given) a, mx and
	// ptr, as written: it may hold macros.
	Domain string `json:"domain,omitempty"`
	// Address is the network address of ip4 and ip6.
	Address netip.Addr `json:"address,omitzero"`
	// IP4Prefix is the IPv4 CIDR length written for ip4, a or mx; nil when absent, which
	// means 32 (RFC 7208 5.6).
	IP4Prefix *int `json:"ip4_prefix,omitempty"`
	// IP6Prefix is the IPv6 CIDR length written for ip6, a or mx; nil when absent, which
	// means 128.
	IP6Prefix *int `json:"ip6_prefix,omitempty"`
}

// String returns the directive in canonical form: the qualifier only when it is not "+",
// the mechanism name in lower case.
func (m SPFMechanism) String() string {
	var b strings.Builder
	if m.Qualifier != QualifierPass && m.Qualifier != "" {
		b.WriteString(m.Qualifier.Symbol())
	}
	b.WriteString(string(m.Kind))
	if m.Address.IsValid() {
		b.WriteString(":" + m.Address.String())
	} else if m.Domain != "" {
		b.WriteString(":" + m.Domain)
	}
	switch {
	case m.Kind == SPFIP6 && m.IP6Prefix != nil:
		b.WriteString("/" + strconv.Itoa(*m.IP6Prefix))
	default:
		if m.IP4Prefix != nil {
			b.WriteString("/" + strconv.Itoa(*m.IP4Prefix))
		}
		if m.IP6Prefix != nil {
			b.WriteString("//" + strconv.Itoa(*m.IP6Prefix))
		}
	}
	return b.String()
}

// SPFModifier is one name=value term (RFC 7208 4.6.1, 6).
type SPFModifier struct {
	// Name is the modifier name in lower case ("redirect", "exp", or an unknown one).
	Name string `json:"name"`
	// Value is the macro-string after "=", as written.
	Value string `json:"value"`
}

// String returns the modifier canonically: name=value.
func (m SPFModifier) String() string { return m.Name + "=" + m.Value }

// String returns the record in canonical form: "v=spf1", the mechanisms, then the
// modifiers, separated by single spaces. Parsing the result gives the same SPF, apart from
// Record and each mechanism's Term.
func (s *SPF) String() string {
	parts := []string{"v=spf1"}
	for _, m := range s.Mechanisms {
		parts = append(parts, m.String())
	}
	for _, m := range s.Modifiers {
		parts = append(parts, m.String())
	}
	return strings.Join(parts, " ")
}

// spfMaxRecordLen is the size past which a record risks not fitting one 512-byte UDP
// answer with the rest of the response (RFC 7208 3.4).
const spfMaxRecordLen = 450

// IsSPF reports whether txt is an SPF version 1 record: it starts with "v=spf1",
// compared without regard to case, followed by a space or the end (RFC 7208 4.5).
func IsSPF(txt string) bool {
	_, ok := spfTerms(txt)
	return ok
}

func spfTerms(txt string) (string, bool) {
	const v = "v=spf1"
	if len(txt) < len(v) || !strings.EqualFold(txt[:len(v)], v) {
		return "", false
	}
	rest := txt[len(v):]
	if rest != "" && rest[0] != ' ' {
		return "", false
	}
	return rest, true
}

// SelectSPF picks the SPF record among the TXT records of one name (RFC 7208 4.5). Each
// element of txts is one TXT record with its strings joined. It returns the record and no
// problem when exactly one starts with "v=spf1"; "" and a warning when none does (the
// result is "none"); "" and an error when several do (the result is "permerror").
func SelectSPF(txts []string) (string, []Problem) {
	var found []string
	for _, t := range txts {
		if IsSPF(t) {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return "", []Problem{warnf("no SPF record: receivers get the result none (RFC 7208 4.5)")}
	case 1:
		return found[0], nil
	}
	return "", []Problem{errorf("multiple SPF records (%d): receivers return permerror (RFC 7208 4.5)", len(found))}
}

// ParseSPF parses one SPF record. It returns nil and an error problem when txt does not
// start with "v=spf1". Otherwise it returns every term it could make sense of and the
// problems found: any problem of severity "error" is a syntax error, for which receivers
// return permerror without evaluating the record (RFC 7208 4.6); warnings mark terms that
// work but are unwise.
func ParseSPF(txt string) (*SPF, []Problem) {
	rest, ok := spfTerms(txt)
	if !ok {
		return nil, []Problem{errorf("not an SPF record: it does not start with \"v=spf1\" (RFC 7208 4.5)")}
	}
	spf := &SPF{Record: txt, Mechanisms: []SPFMechanism{}}
	var ps []Problem
	// RFC 7208 4.6.1: terms are separated by one or more spaces (SP only).
	for _, term := range strings.Split(rest, " ") {
		if term == "" {
			continue
		}
		if i := strings.IndexFunc(term, func(r rune) bool { return r < 0x21 || r > 0x7e }); i >= 0 {
			ps = append(ps, errorf("term %q holds %q: terms are visible ASCII separated by spaces (RFC 7208 4.6.1)", term, term[i:i+1]))
			continue
		}
		if name, value, ok := splitModifier(term); ok {
			mod := SPFModifier{Name: strings.ToLower(name), Value: value}
			ps = append(ps, spf.addModifier(mod)...)
			continue
		}
		mech, mps := parseMechanism(term)
		ps = append(ps, mps...)
		if mech != nil {
			spf.Mechanisms = append(spf.Mechanisms, *mech)
		}
	}
	ps = append(ps, spf.checkWhole()...)
	return spf, ps
}

// splitModifier splits name=value when term is a modifier (RFC 7208 4.6.1: name = ALPHA
// *( ALPHA / DIGIT / "-" / "_" / "." ), followed by "=").
func splitModifier(term string) (name, value string, ok bool) {
	if term == "" || !isAlpha(term[0]) {
		return "", "", false
	}
	for i := 1; i < len(term); i++ {
		c := term[i]
		switch {
		case c == '=':
			return term[:i], term[i+1:], true
		case isAlpha(c) || isDigit(c) || c == '-' || c == '_' || c == '.':
		default:
			return "", "", false
		}
	}
	return "", "", false
}

func (s *SPF) addModifier(mod SPFModifier) []Problem {
	var ps []Problem
	switch mod.Name {
	case "redirect", "exp":
		// RFC 7208 6: each MUST NOT appear more than once; doing so is a syntax error.
		for _, m := range s.Modifiers {
			if m.Name == mod.Name {
				ps = append(ps, errorf("%s appears more than once (RFC 7208 6)", mod.Name))
				break
			}
		}
		if mod.Value == "" {
			ps = append(ps, errorf("%s= needs a domain (RFC 7208 6)", mod.Name))
		} else {
			ps = append(ps, checkDomainSpec(mod.Name+"=", mod.Value)...)
		}
		if mod.Name == "redirect" && s.Redirect == "" {
			s.Redirect = mod.Value
		}
		if mod.Name == "exp" && s.Exp == "" {
			s.Exp = mod.Value
		}
	default:
		if SPFKind(mod.Name).QueriesDNS() || mod.Name == "ip4" || mod.Name == "ip6" || mod.Name == "all" {
			ps = append(ps, warnf("%q is an unknown modifier and is ignored; the mechanism is written %s:", mod.String(), mod.Name))
		}
		// RFC 7208 6: unknown modifiers are ignored, but must still be macro-strings.
		if sc := scanMacroString(mod.Value, true); sc.err != "" {
			ps = append(ps, errorf("modifier %s: %s", mod.Name, sc.err))
		}
	}
	s.Modifiers = append(s.Modifiers, mod)
	return ps
}

func parseMechanism(term string) (*SPFMechanism, []Problem) {
	m := &SPFMechanism{Term: term, Qualifier: QualifierPass}
	body := term
	switch body[0] {
	case '+':
		m.Qualifier = QualifierPass
	case '-':
		m.Qualifier = QualifierFail
	case '~':
		m.Qualifier = QualifierSoftFail
	case '?':
		m.Qualifier = QualifierNeutral
	}
	if strings.IndexByte("+-~?", body[0]) >= 0 {
		body = body[1:]
		if _, _, ok := splitModifier(body); ok {
			return nil, []Problem{errorf("%q: a modifier takes no qualifier (RFC 7208 4.6.1)", term)}
		}
	}
	end := strings.IndexAny(body, ":/")
	if end < 0 {
		end = len(body)
	}
	name, args := strings.ToLower(body[:end]), body[end:]
	m.Kind = SPFKind(name)
	var ps []Problem
	switch m.Kind {
	case SPFAll:
		if args != "" {
			return nil, []Problem{errorf("%q: all takes no argument (RFC 7208 5.1)", term)}
		}
		if m.Qualifier == QualifierPass {
			ps = append(ps, warnf("%q passes mail from every host on the internet", term))
		}
	case SPFInclude, SPFExists:
		if !strings.HasPrefix(args, ":") || len(args) == 1 {
			return nil, []Problem{errorf("%q: %s needs a domain, as %s:<domain> (RFC 7208 5.2, 5.7)", term, name, name)}
		}
		m.Domain = args[1:]
		ps = append(ps, checkDomainSpec(name+":", m.Domain)...)
	case SPFA, SPFMX:
		rest, p4, p6, ok := splitDualCIDR(args)
		if !ok {
			return nil, []Problem{errorf("%q: bad CIDR length (RFC 7208 5.6)", term)}
		}
		m.IP4Prefix, m.IP6Prefix = p4, p6
		switch {
		case rest == "":
		case rest == ":":
			return nil, []Problem{errorf("%q: empty domain after %s: (RFC 7208 5.3)", term, name)}
		case rest[0] == ':':
			m.Domain = rest[1:]
			ps = append(ps, checkDomainSpec(name+":", m.Domain)...)
		default:
			return nil, []Problem{errorf("%q: bad CIDR length (RFC 7208 5.6)", term)}
		}
	case SPFPTR:
		// RFC 7208 5.5: "This mechanism SHOULD NOT be published."
		ps = append(ps, warnf("%q: ptr is slow and unreliable and SHOULD NOT be used (RFC 7208 5.5)", term))
		switch {
		case args == "":
		case args == ":" || args[0] != ':':
			return nil, []Problem{errorf("%q: ptr takes only an optional :domain (RFC 7208 5.5)", term)}
		default:
			m.Domain = args[1:]
			ps = append(ps, checkDomainSpec("ptr:", m.Domain)...)
		}
	case SPFIP4, SPFIP6:
		addr, prefix, p, ok := parseIPNetwork(m.Kind, args)
		if !ok {
			return nil, []Problem{errorf("%q: %s", term, p)}
		}
		m.Address = addr
		if m.Kind == SPFIP4 {
			m.IP4Prefix = prefix
		} else {
			m.IP6Prefix = prefix
		}
		if prefix != nil && *prefix == 0 && m.Qualifier == QualifierPass {
			ps = append(ps, warnf("%q passes every %s address", term, map[SPFKind]string{SPFIP4: "IPv4", SPFIP6: "IPv6"}[m.Kind]))
		}
	default:
		// RFC 7208 5: an unknown mechanism is a syntax error.
		return nil, []Problem{errorf("%q: unknown mechanism %q (RFC 7208 5)", term, name)}
	}
	return m, ps
}

// parseIPNetwork parses ":address[/len]" for ip4 and ip6 (RFC 7208 5.6).
func parseIPNetwork(kind SPFKind, args string) (netip.Addr, *int, string, bool) {
	if !strings.HasPrefix(args, ":") {
		return netip.Addr{}, nil, string(kind) + " needs an address, as " + string(kind) + ":<network>", false
	}
	s := args[1:]
	var prefix *int
	limit := 32
	if kind == SPFIP6 {
		limit = 128
	}
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		n, ok := parseCIDRLen(s[i+1:], limit)
		if !ok {
			return netip.Addr{}, nil, "bad CIDR length " + strconv.Quote(s[i:]) + " (RFC 7208 5.6)", false
		}
		prefix = &n
		s = s[:i]
	}
	addr, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return netip.Addr{}, nil, "bad IP address " + strconv.Quote(s), false
	case addr.Zone() != "":
		return netip.Addr{}, nil, "an address with a zone is not allowed", false
	case kind == SPFIP4 && !addr.Is4():
		return netip.Addr{}, nil, "ip4 needs an IPv4 address, not " + strconv.Quote(s), false
	case kind == SPFIP6 && !addr.Is6():
		return netip.Addr{}, nil, "ip6 needs an IPv6 address, not " + strconv.Quote(s), false
	}
	return addr, prefix, "", true
}

// splitDualCIDR takes the dual-cidr-length off the end of the arguments of a or mx (RFC
// 7208 5.6: [ "/" ip4-len ] [ "//" ip6-len ]) and returns what is left before it. ok is
// false when a length is malformed or out of range.
func splitDualCIDR(args string) (rest string, p4, p6 *int, ok bool) {
	rest = args
	if i := strings.LastIndex(rest, "//"); i >= 0 && allDigits(rest[i+2:]) {
		n, ok := parseCIDRLen(rest[i+2:], 128)
		if !ok {
			return "", nil, nil, false
		}
		p6, rest = &n, rest[:i]
	}
	if i := strings.LastIndexByte(rest, '/'); i >= 0 && allDigits(rest[i+1:]) {
		n, ok := parseCIDRLen(rest[i+1:], 32)
		if !ok {
			return "", nil, nil, false
		}
		p4, rest = &n, rest[:i]
	}
	return rest, p4, p6, true
}

// parseCIDRLen parses a CIDR length: "0" or digits without a leading zero, at most max
// (RFC 7208 5.6 ip4-cidr-length, ip6-cidr-length).
func parseCIDRLen(s string, limit int) (int, bool) {
	if s == "" || len(s) > 3 || !allDigits(s) || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n, _ := strconv.Atoi(s)
	return n, n <= limit
}

// checkWhole finds problems that only the whole record shows.
func (s *SPF) checkWhole() []Problem {
	var ps []Problem
	allAt := -1
	for i, m := range s.Mechanisms {
		if m.Kind == SPFAll && allAt < 0 {
			allAt = i
		}
	}
	if allAt >= 0 && allAt < len(s.Mechanisms)-1 {
		// RFC 7208 5.1: mechanisms after "all" will never be tested.
		ps = append(ps, warnf("mechanisms after %q are never evaluated (RFC 7208 5.1)", s.Mechanisms[allAt].Term))
	}
	if allAt >= 0 && s.Redirect != "" {
		// RFC 7208 6.1: redirect is ignored when the record has an "all" mechanism.
		ps = append(ps, warnf("redirect=%s is ignored because the record has an all mechanism (RFC 7208 6.1)", s.Redirect))
	}
	if allAt < 0 && s.Redirect == "" {
		// RFC 7208 4.7: without a match the result is neutral.
		ps = append(ps, warnf("no all mechanism and no redirect: mail from unlisted hosts gets neutral (RFC 7208 4.7)"))
	}
	if len(s.Record) > spfMaxRecordLen {
		ps = append(ps, warnf("record is %d bytes; keep it under %d so the answer fits 512 bytes of UDP (RFC 7208 3.4)", len(s.Record), spfMaxRecordLen))
	}
	return ps
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
