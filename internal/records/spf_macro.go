package records

import (
	"strconv"
	"strings"
)

// macroScan is what scanMacroString learned about a macro-string.
type macroScan struct {
	err         string // the first syntax error, "" when there is none
	tail        string // the literal text after the last macro-expand
	endsInMacro bool   // the string ends with a macro-expand
	macros      bool   // any "%" appears
	usesP       bool   // a %{p} macro appears
}

// scanMacroString checks s against the macro-string grammar of RFC 7208 7.1:
//
//	macro-string  = *( macro-expand / macro-literal )
//	macro-expand  = ( "%{" macro-letter transformers *delimiter "}" ) / "%%" / "%_" / "%-"
//	macro-literal = %x21-24 / %x26-7E
//	macro-letter  = "s" / "l" / "o" / "d" / "i" / "p" / "h" / "c" / "r" / "t" / "v"
//	transformers  = *DIGIT [ "r" ]
//	delimiter     = "." / "-" / "+" / "," / "/" / "_" / "="
//
// expText allows the letters c, r and t, which only explanation text may use (RFC 7208
// 7.2).
func scanMacroString(s string, expText bool) macroScan {
	var sc macroScan
	tailStart := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c != '%' {
			if c < 0x21 || c > 0x7e {
				sc.err = "invalid character " + strconv.QuoteRune(rune(c))
				return sc
			}
			i++
			continue
		}
		sc.macros = true
		if i+1 >= len(s) {
			sc.err = `"%" at the end; a literal percent is written "%%"`
			return sc
		}
		switch s[i+1] {
		case '%', '_', '-':
			i += 2
		case '{':
			j := strings.IndexByte(s[i+2:], '}')
			if j < 0 {
				sc.err = "unterminated macro " + strconv.Quote(s[i:])
				return sc
			}
			body := s[i+2 : i+2+j]
			if msg := checkMacroBody(body, expText); msg != "" {
				sc.err = "macro %{" + body + "}: " + msg
				return sc
			}
			if body[0] == 'p' || body[0] == 'P' {
				sc.usesP = true
			}
			i += 2 + j + 1
		default:
			sc.err = "invalid macro " + strconv.Quote(s[i:i+2]) + `; a literal percent is written "%%"`
			return sc
		}
		tailStart = i
	}
	sc.tail = s[tailStart:]
	sc.endsInMacro = sc.macros && tailStart == len(s)
	return sc
}

// checkMacroBody checks what is between "%{" and "}".
func checkMacroBody(body string, expText bool) string {
	if body == "" {
		return "no macro letter"
	}
	// RFC 7208 7.3: upper-case letters expand like lower-case ones, then URL-escape.
	letter := body[0] | 0x20
	switch {
	case strings.IndexByte("slodiphv", letter) >= 0:
	case strings.IndexByte("crt", letter) >= 0:
		if !expText {
			// RFC 7208 7.2: c, r and t are allowed only in "exp" text.
			return "the letter " + strconv.Quote(body[:1]) + " is allowed only in explanation text (RFC 7208 7.2)"
		}
	default:
		return "unknown macro letter " + strconv.Quote(body[:1])
	}
	rest := body[1:]
	n := 0
	for n < len(rest) && isDigit(rest[n]) {
		n++
	}
	if n > 0 {
		// RFC 7208 7.3: a DIGIT transformer, when given, must be nonzero.
		if strings.Trim(rest[:n], "0") == "" {
			return "the digit transformer must not be zero (RFC 7208 7.3)"
		}
	}
	rest = rest[n:]
	if rest != "" && (rest[0] == 'r' || rest[0] == 'R') {
		rest = rest[1:]
	}
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(".-+,/_=", rest[i]) < 0 {
			return "invalid delimiter " + strconv.QuoteRune(rune(rest[i]))
		}
	}
	return ""
}

// checkDomainSpec checks a domain-spec (RFC 7208 7.1: domain-spec = macro-string
// domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand). what names the
// term for the problem text, as "include:".
func checkDomainSpec(what, spec string) []Problem {
	sc := scanMacroString(spec, false)
	if sc.err != "" {
		return []Problem{errorf("%s%s: %s (RFC 7208 7.1)", what, spec, sc.err)}
	}
	var ps []Problem
	if sc.usesP {
		ps = append(ps, warnf("%s%s: the %%{p} macro is slow and unreliable and SHOULD NOT be used (RFC 7208 7.2)", what, spec))
	}
	if !sc.endsInMacro {
		tail := strings.TrimSuffix(sc.tail, ".")
		dot := strings.LastIndexByte(tail, '.')
		if dot < 0 {
			return append(ps, errorf("%s%s: not a fully qualified domain: it must end with a dot and a top-level label (RFC 7208 7.1)", what, spec))
		}
		if top := tail[dot+1:]; !validTopLabel(top) {
			if top != "" && allDigits(top) {
				return append(ps, errorf("%s%s: ends in a number, which is not a domain; an address is written ip4:/ip6: (RFC 7208 7.1)", what, spec))
			}
			return append(ps, errorf("%s%s: %q is not a valid top-level label (RFC 7208 7.1)", what, spec, top))
		}
	}
	if !sc.macros {
		if msg := checkDomainLength(spec); msg != "" {
			ps = append(ps, errorf("%s%s: %s", what, spec, msg))
		}
	}
	return ps
}

// checkDomainLength checks a literal domain against the DNS limits: labels of 1 to 63
// octets, at most 253 octets in all (RFC 1035 2.3.4).
func checkDomainLength(name string) string {
	name = strings.TrimSuffix(name, ".")
	if len(name) > 253 {
		return "longer than 253 octets (RFC 1035 2.3.4)"
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" {
			return "empty label"
		}
		if len(label) > 63 {
			return "label longer than 63 octets (RFC 1035 2.3.4)"
		}
	}
	return ""
}

// validTopLabel reports whether s is a toplabel (RFC 7208 7.1):
// ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ).
func validTopLabel(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	alphaOrHyphen := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isAlpha(c), c == '-':
			alphaOrHyphen = true
		case isDigit(c):
		default:
			return false
		}
	}
	return alphaOrHyphen
}
