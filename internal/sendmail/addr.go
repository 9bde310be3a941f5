package sendmail

import "strings"

// Addresses splits an address list, as a To field or a sendmail recipient
// argument holds it, into the mailboxes it names: "a@b, Name <c@d>" gives
// "a@b" and "c@d". Like Postfix, which parses each recipient argument as
// an RFC 822 header, it understands comments ("a@b (Al)"), quoted strings,
// angle brackets and group syntax ("friends: a@b, c@d;", and the empty
// "undisclosed-recipients:;"). A mailbox is returned as written inside its
// brackets, for the caller to parse and check; a bare local part ("root")
// stays bare. Empty items are dropped.
func Addresses(list string) []string {
	var (
		out     []string
		cur     strings.Builder // the item outside any angle brackets
		angle   strings.Builder // the text of the last <...>
		inAngle bool
		hasAng  bool
		quoted  bool
		escaped bool
		depth   int // comment nesting
		literal bool
	)
	flush := func() {
		item := cur.String()
		if hasAng {
			item = angle.String()
		}
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
		cur.Reset()
		angle.Reset()
		hasAng = false
	}
	for _, r := range list {
		switch {
		case escaped:
			escaped = false
			write(&cur, &angle, inAngle, r)
		case r == '\\' && (quoted || depth > 0):
			escaped = true
			if quoted {
				write(&cur, &angle, inAngle, r)
			}
		case literal:
			// A domain literal "[IPv6:::1]" keeps its colons.
			literal = r != ']'
			write(&cur, &angle, inAngle, r)
		case quoted:
			if r == '"' {
				quoted = false
			}
			write(&cur, &angle, inAngle, r)
		case depth > 0:
			// RFC 5322 3.2.2: comments nest.
			if r == '(' {
				depth++
			} else if r == ')' {
				depth--
			}
		case r == '(':
			depth++
		case r == '"':
			quoted = true
			write(&cur, &angle, inAngle, r)
		case r == '[':
			literal = true
			write(&cur, &angle, inAngle, r)
		case r == '<' && !inAngle:
			inAngle, hasAng = true, true
			angle.Reset()
		case r == '>' && inAngle:
			inAngle = false
		case inAngle:
			// A source route "<@a,@b:c@d>" keeps its commas and colon.
			angle.WriteRune(r)
		case r == ':':
			// RFC 5322 3.4: "display-name:" starts a group.
			cur.Reset()
			hasAng = false
		case r == ',' || r == ';':
			flush()
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return out
}

func write(cur, angle *strings.Builder, inAngle bool, r rune) {
	if inAngle {
		angle.WriteRune(r)
		return
	}
	cur.WriteRune(r)
}
