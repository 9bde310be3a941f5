package smtp

import (
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Extensions is the parsed EHLO (or LHLO) reply: keyword -> parameter string,
// keywords upper-cased (RFC 5321 4.1.1.1: case-insensitive).
type Extensions struct {
	raw   map[string]string
	order []string
}

// ParseExtensions reads the lines of an EHLO reply after the first (the first
// line is the server's name and greeting).
func ParseExtensions(lines []string) Extensions {
	e := Extensions{raw: map[string]string{}}
	for i, l := range lines {
		if i == 0 {
			continue
		}
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		kw, param, _ := strings.Cut(l, " ")
		// Some servers still announce "AUTH=LOGIN PLAIN" (pre-RFC 4954 form).
		if k, p, ok := strings.Cut(kw, "="); ok && strings.EqualFold(k, "AUTH") {
			kw, param = k, strings.TrimSpace(p+" "+param)
		}
		kw = strings.ToUpper(kw)
		if old, ok := e.raw[kw]; ok {
			if kw == "AUTH" {
				e.raw[kw] = mergeWords(old, param)
			}
			continue
		}
		e.raw[kw] = strings.TrimSpace(param)
		e.order = append(e.order, kw)
	}
	return e
}

// Has reports whether the server announced keyword kw.
func (e Extensions) Has(kw string) bool {
	_, ok := e.raw[strings.ToUpper(kw)]
	return ok
}

// Param returns the parameter string of keyword kw.
func (e Extensions) Param(kw string) string { return e.raw[strings.ToUpper(kw)] }

// Keywords returns the announced keywords in the server's order.
func (e Extensions) Keywords() []string { return append([]string(nil), e.order...) }

// Lines returns "KEYWORD param" for each announced extension, in order.
func (e Extensions) Lines() []string {
	out := make([]string, 0, len(e.order))
	for _, k := range e.order {
		if p := e.raw[k]; p != "" {
			out = append(out, k+" "+p)
		} else {
			out = append(out, k)
		}
	}
	return out
}

// Size returns the SIZE limit (RFC 1870); 0 means none announced or no limit.
func (e Extensions) Size() int64 {
	n, err := strconv.ParseInt(strings.Fields(e.Param("SIZE") + " 0")[0], 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// AuthMechanisms returns the SASL mechanisms announced after AUTH,
// upper-cased, each once (SASL names are case-insensitive, RFC 4422 3.1).
func (e Extensions) AuthMechanisms() []string {
	var out []string
	for _, m := range strings.Fields(e.Param("AUTH")) {
		if m = strings.ToUpper(m); !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// Diff returns keywords added and removed in after compared with e (used to
// show what changed after STARTTLS).
func (e Extensions) Diff(after Extensions) (added, removed []string) {
	for _, k := range after.order {
		if _, ok := e.raw[k]; !ok || e.raw[k] != after.raw[k] {
			added = append(added, after.lineOf(k))
		}
	}
	for _, k := range e.order {
		if _, ok := after.raw[k]; !ok || e.raw[k] != after.raw[k] {
			removed = append(removed, e.lineOf(k))
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	return added, removed
}

func (e Extensions) lineOf(k string) string {
	if p := e.raw[k]; p != "" {
		return k + " " + p
	}
	return k
}

// mergeWords appends the words of more that old lacks (case-insensitive):
// a server announcing both "AUTH PLAIN LOGIN" and "AUTH=LOGIN" offers each
// mechanism once.
func mergeWords(old, more string) string {
	words := strings.Fields(old)
	for _, w := range strings.Fields(more) {
		dup := false
		for _, o := range words {
			dup = dup || strings.EqualFold(o, w)
		}
		if !dup {
			words = append(words, w)
		}
	}
	return strings.Join(words, " ")
}

// RcptMax is the RCPTMAX= value of the LIMITS extension (RFC 9422 4.2):
// the most recipients the server takes in one transaction; 0 when it
// declares none.
func (e Extensions) RcptMax() int {
	for _, p := range strings.Fields(e.Param("LIMITS")) {
		k, v, ok := strings.Cut(p, "=")
		if ok && strings.EqualFold(k, "RCPTMAX") {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return n
			}
		}
	}
	return 0
}

// TooManyRecipients reports whether r refuses a recipient because the
// transaction has as many as the server takes (RFC 5321 4.5.3.1.10): the
// rest go in another transaction.
func TooManyRecipients(r Reply) bool {
	if r.Code != 452 {
		return false
	}
	if r.Enhanced == "4.5.3" {
		return true
	}
	return strings.Contains(strings.ToLower(strings.Join(r.Lines, " ")), "too many recipients")
}
