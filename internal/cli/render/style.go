package render

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"charm.land/lipgloss/v2"
)

// Tone is the meaning of a piece of text; the Printer maps it to a style
// on a terminal and to nothing in a pipe.
type Tone int

// Tones for Paint and table cells.
const (
	ToneNone   Tone = iota // as is
	ToneGood               // green: accepted, passed, verified
	ToneBad                // red: rejected, failed
	ToneWarn               // yellow: deferred, warnings
	ToneDim                // faint: details, replies
	ToneBold               // emphasis
	ToneHeader             // table headers

	toneSent  // transcript: a line sent
	toneInfo  // transcript: === lines, elapsed times, timestamps
	toneError // transcript *** lines, the "error:" prefix
)

// The styles use the 16 basic ANSI colours only: every colour terminal has
// them, so no profile detection or downsampling is needed and the escape
// sequences are the same everywhere (tests compare them byte for byte).
var styles = map[Tone]lipgloss.Style{
	ToneGood:   base().Foreground(lipgloss.Green),
	ToneBad:    base().Foreground(lipgloss.Red),
	ToneWarn:   base().Foreground(lipgloss.Yellow),
	ToneDim:    base().Faint(true),
	ToneBold:   base().Bold(true),
	ToneHeader: base().Bold(true).Underline(true),
	toneSent:   base().Foreground(lipgloss.Cyan),
	toneInfo:   base().Faint(true),
	toneError:  base().Foreground(lipgloss.Red).Bold(true),
}

func base() lipgloss.Style {
	return lipgloss.NewStyle().Inline(true).TabWidth(lipgloss.NoTabConversion)
}

// paint styles s with t when styled is set. s must already be clean.
func paint(styled bool, t Tone, s string) string {
	if !styled || s == "" {
		return s
	}
	st, ok := styles[t]
	if !ok {
		return s
	}
	return st.Render(s)
}

// replyTone colours a reply by its class.
func replyTone(code int) Tone {
	switch code / 100 {
	case 2, 3:
		return ToneGood
	case 4:
		return ToneWarn
	case 5:
		return ToneBad
	}
	return ToneNone
}

// clean escapes what a terminal would interpret: C0 controls but tab, DEL,
// C1 controls and bytes that are not UTF-8 become \xNN. Server replies and
// banners are untrusted, and an ESC in one must not reach the terminal.
func clean(s string) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if unsafeRune(r, n) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if unsafeRune(r, n) {
			for _, c := range []byte(s[i : i+n]) {
				fmt.Fprintf(&b, `\x%02x`, c)
			}
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func unsafeRune(r rune, n int) bool {
	switch {
	case r == utf8.RuneError && n == 1:
		return true
	case r == '\t':
		return false
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	}
	return false
}

// FormatDuration writes d compactly with one decimal: 850.0µs, 12.3ms,
// 1.5s. Durations of a minute or more stay in seconds (75.0s).
func FormatDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + FormatDuration(-d)
	case d < time.Millisecond-50*time.Nanosecond: // would round to 1000.0µs
		return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second-50*time.Microsecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// ms converts d to fractional milliseconds for JSON.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
