package smtp

import (
	"fmt"
	"strconv"
	"strings"
)

// Command is one parsed command line from a client.
type Command struct {
	Verb string // upper-cased
	Arg  string // the rest of the line after one space
}

// ParseCommand splits a command line into verb and argument. RFC 5321
// 4.1.1: verbs are case-insensitive; a line that is empty or whose verb is
// not alphabetic is a *ProtocolError.
func ParseCommand(line string) (Command, error) {
	verb, arg, _ := strings.Cut(line, " ")
	if verb == "" || len(verb) > 16 {
		return Command{}, &ProtocolError{Reason: "empty or overlong command verb"}
	}
	for i := 0; i < len(verb); i++ {
		c := verb[i] | 0x20
		if c < 'a' || c > 'z' {
			return Command{}, &ProtocolError{Reason: fmt.Sprintf("bad command verb %q", clip(verb))}
		}
	}
	return Command{Verb: strings.ToUpper(verb), Arg: arg}, nil
}

// PathArg is the parsed argument of MAIL FROM or RCPT TO: the address inside
// the angle brackets and the ESMTP parameters (RFC 5321 4.1.2, 4.1.1.11).
type PathArg struct {
	Addr   string
	Params map[string]string // keys upper-cased; a parameter without value maps to ""
	Order  []string
}

// ParsePath parses "FROM:<addr> PARAMS" (prefix "FROM") or "TO:<addr>
// PARAMS". A space after the colon is tolerated, as most servers do. A
// source route (RFC 5321 C: "@a,@b:user@c") is accepted and dropped.
func ParsePath(arg, prefix string) (PathArg, error) {
	var p PathArg
	if len(arg) < len(prefix)+1 || !strings.EqualFold(arg[:len(prefix)], prefix) || arg[len(prefix)] != ':' {
		return p, fmt.Errorf("syntax: want %s:<address>", prefix)
	}
	rest := strings.TrimLeft(arg[len(prefix)+1:], " ")
	if !strings.HasPrefix(rest, "<") {
		return p, fmt.Errorf("syntax: address must be in angle brackets")
	}
	end := closingBracket(rest)
	if end < 0 {
		return p, fmt.Errorf("syntax: missing '>'")
	}
	addr := rest[1:end]
	if hasControl(addr) {
		return p, fmt.Errorf("control character in address")
	}
	if strings.HasPrefix(addr, "@") {
		// RFC 5321 4.1.2 A-d-l: source routes must be accepted and ignored.
		i := strings.IndexByte(addr, ':')
		if i < 0 {
			return p, fmt.Errorf("syntax: bad source route")
		}
		addr = addr[i+1:]
	}
	p.Addr = addr
	p.Params = map[string]string{}
	params := strings.TrimSpace(rest[end+1:])
	if rest[end+1:] != "" && !strings.HasPrefix(rest[end+1:], " ") {
		return p, fmt.Errorf("syntax: junk after address")
	}
	for _, f := range strings.Fields(params) {
		k, v, _ := strings.Cut(f, "=")
		k = strings.ToUpper(k)
		if k == "" {
			return p, fmt.Errorf("syntax: empty parameter")
		}
		if _, dup := p.Params[k]; dup {
			return p, fmt.Errorf("duplicate parameter %s", k)
		}
		p.Params[k] = v
		p.Order = append(p.Order, k)
	}
	return p, nil
}

// closingBracket finds the '>' that closes the path, skipping quoted local
// parts ("a>b"@example.com).
func closingBracket(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case '>':
			if !quoted {
				return i
			}
		}
	}
	return -1
}

// DecodeXText decodes RFC 3461 4 xtext ("+2B" -> "+").
func DecodeXText(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '+' {
			if i+2 >= len(s) {
				return "", fmt.Errorf("bad xtext %q", clip(s))
			}
			n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", fmt.Errorf("bad xtext %q", clip(s))
			}
			b.WriteByte(byte(n))
			i += 2
			continue
		}
		if c < 33 || c > 126 || c == '=' {
			return "", fmt.Errorf("bad xtext %q", clip(s))
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// hasControl reports ASCII control characters (and DEL), which never belong
// in a command argument that ends up in a header or a log.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
