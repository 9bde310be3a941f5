package records

import (
	"strconv"
	"strings"
)

// tag is one name=value pair of a tag-list.
type tag struct {
	name  string
	value string
	bad   bool // the value has invalid characters: reported, and to be skipped
}

// parseTagList splits a tag-list (RFC 6376 3.2, which DMARC adopts in RFC 7489 6.3):
//
//	tag-list  = tag-spec *( ";" tag-spec ) [ ";" ]
//	tag-spec  = [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
//	tag-name  = ALPHA *ALNUMPUNC
//	tag-value = [ tval *( 1*(WSP / FWS) tval ) ]
//	tval      = 1*VALCHAR ; %x21-3A / %x3C-7E
//
// Tag names are case-sensitive (RFC 6376 3.2). With fold, names are lowered instead and a
// name that was not lower case gets a warning; DMARC's grammar (RFC 7489 6.4) writes its
// tags as case-insensitive ABNF strings. A tag that appears twice makes the list invalid
// (RFC 6376 3.2); the first value is kept. A tag whose value holds invalid characters is
// returned with bad set, so callers know it was there but skip its value.
func parseTagList(s string, fold bool) ([]tag, []Problem) {
	var tags []tag
	var ps []Problem
	seen := map[string]bool{}
	parts := strings.Split(s, ";")
	for i, part := range parts {
		spec := trimWSP(part)
		if spec == "" {
			if i < len(parts)-1 {
				ps = append(ps, warnf("empty tag between semicolons"))
			}
			continue
		}
		eq := strings.IndexByte(spec, '=')
		if eq < 0 {
			ps = append(ps, errorf("%q is not a tag=value pair (RFC 6376 3.2)", spec))
			continue
		}
		name, value := trimWSP(spec[:eq]), trimWSP(spec[eq+1:])
		if !validTagName(name) {
			ps = append(ps, errorf("invalid tag name %q (RFC 6376 3.2)", name))
			continue
		}
		if fold {
			if lower := strings.ToLower(name); lower != name {
				ps = append(ps, warnf("tag %q is written in upper case; write %q", name, lower))
				name = lower
			}
		}
		if seen[name] {
			ps = append(ps, errorf("tag %s appears more than once (RFC 6376 3.2)", name))
			continue
		}
		seen[name] = true
		t := tag{name: name, value: value}
		if c := badValueChar(value); c >= 0 {
			ps = append(ps, errorf("tag %s: invalid character %s in the value (RFC 6376 3.2)", name, strconv.QuoteRune(rune(value[c]))))
			t.bad = true
		}
		tags = append(tags, t)
	}
	return tags, ps
}

// validTagName: ALPHA *( ALPHA / DIGIT / "_" ).
func validTagName(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !isDigit(c) && c != '_' {
			return false
		}
	}
	return true
}

// badValueChar returns the index of the first octet of a tag value that is neither
// VALCHAR nor white space, or -1.
func badValueChar(v string) int {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < 0x21 || c > 0x7e) && !isWSP(c) {
			return i
		}
	}
	return -1
}

// isWSP reports folding white space as it can appear in a TXT record.
func isWSP(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func trimWSP(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r < 0x80 && isWSP(byte(r)) })
}

// removeWSP drops all white space, as base64 values allow it anywhere (RFC 6376 3.6.1).
func removeWSP(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && isWSP(byte(r)) {
			return -1
		}
		return r
	}, s)
}

// firstTag returns the name and value of the first tag of s, trimmed, without checking the
// rest.
func firstTag(s string) (name, value string, ok bool) {
	first, _, _ := strings.Cut(s, ";")
	name, value, ok = strings.Cut(first, "=")
	return trimWSP(name), trimWSP(value), ok
}
