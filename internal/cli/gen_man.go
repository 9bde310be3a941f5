package cli

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
)

// manPage is one generated page: its file name (smtpkit-relay-flush.1) and
// roff text.
type manPage struct {
	name string
	text []byte
}

// hiddenWithPage are hidden commands that still get a man page: sendmail is
// kept out of `smtpkit --help` (it is an entry point for programs, usually
// run as "sendmail"), but its options deserve a page.
var hiddenWithPage = map[string]bool{"smtpkit sendmail": true}

// descPlaceholder stands in for a command's Long text while cobra/doc
// renders the page: the text is written for a terminal, not as Markdown
// (brackets, asterisks and indented option lists would be mangled), so it
// is turned into roff here instead.
const descPlaceholder = "SMTPKITDESCRIPTIONPLACEHOLDER"

// manPages renders a page for root and every command under it that a user
// can run, sorted by file name. The output depends only on the command tree
// and date.
func manPages(root *cobra.Command, date time.Time) ([]manPage, error) {
	var pages []manPage
	var walk func(c *cobra.Command) error
	walk = func(c *cobra.Command) error {
		if c != root && !hiddenWithPage[c.CommandPath()] && (!c.IsAvailableCommand() || c.IsAdditionalHelpTopicCommand()) {
			return nil
		}
		text, err := renderManPage(c, date)
		if err != nil {
			return fmt.Errorf("man page of %s: %w", c.CommandPath(), err)
		}
		pages = append(pages, manPage{name: manName(c) + ".1", text: text})
		for _, sub := range c.Commands() {
			if err := walk(sub); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root); err != nil {
		return nil, err
	}
	sort.Slice(pages, func(i, j int) bool { return pages[i].name < pages[j].name })
	return pages, nil
}

// manName is the page's name: the command path joined with dashes.
func manName(c *cobra.Command) string { return strings.ReplaceAll(c.CommandPath(), " ", "-") }

// renderManPage has cobra/doc write NAME, SYNOPSIS, OPTIONS, EXAMPLE and SEE
// ALSO, then puts in the DESCRIPTION, EXIT STATUS, ENVIRONMENT and FILES
// sections.
func renderManPage(c *cobra.Command, date time.Time) ([]byte, error) {
	desc, exit := splitExitStatus(c.Long)
	if strings.TrimSpace(desc) == "" {
		desc = c.Short
	}
	long, autoGen, inUse := c.Long, c.DisableAutoGenTag, c.DisableFlagsInUseLine
	c.Long, c.DisableAutoGenTag = descPlaceholder, true
	if c.DisableFlagParsing {
		// sendmail reads its own options (listed in its help text) and
		// refuses smtpkit's: cobra's flag lists would mislead.
		c.DisableFlagsInUseLine = true
	}
	usages := escapeFlagUsages(c)
	defer func() {
		c.Long, c.DisableAutoGenTag, c.DisableFlagsInUseLine = long, autoGen, inUse
		for f, u := range usages {
			f.Usage = u
		}
	}()
	var buf bytes.Buffer
	header := &doc.GenManHeader{Section: "1", Date: &date, Source: "smtpkit", Manual: "smtpkit manual"}
	if err := doc.GenMan(c, header, &buf); err != nil {
		return nil, err
	}
	page := buf.String()
	if !strings.Contains(page, descPlaceholder+"\n") {
		return nil, fmt.Errorf("cobra/doc output has no description placeholder")
	}
	page = strings.Replace(page, descPlaceholder+"\n", roffText(desc), 1)
	page = strings.Replace(page, "\n.SH EXAMPLE\n", "\n.SH EXAMPLES\n", 1)
	page = tidyOptions(page)
	if c.DisableFlagParsing {
		page = dropSections(page, ".SH OPTIONS")
	}
	// .TH turns hyphenation back on: turn it off after it (option names
	// and paths must not be split), and do not stretch lines to the margin.
	if i := strings.Index(page, "\n.TH "); i >= 0 {
		if j := strings.IndexByte(page[i+1:], '\n'); j >= 0 {
			at := i + 1 + j + 1
			page = page[:at] + ".nh\n.ad l\n" + page[at:]
		}
	}
	// So does .EE at the end of the examples.
	page = strings.ReplaceAll(page, "\n.EE\n", "\n.EE\n.nh\n.ad l\n")

	var extra strings.Builder
	extra.WriteString(".SH EXIT STATUS\n")
	extra.WriteString(exitStatusRoff(c, exit))
	if env := envFor(c); len(env) > 0 {
		extra.WriteString(".SH ENVIRONMENT\n")
		if !c.HasParent() {
			extra.WriteString(roffText("Settings come from the flags, then the SMTPKIT_* variables, then the config profile, then its defaults."))
		}
		for _, e := range env {
			fmt.Fprintf(&extra, ".TP\n.B %s\n%s", roffEscape(e.name), roffText(e.text))
		}
	}
	if files := filesFor(c); len(files) > 0 {
		extra.WriteString(".SH FILES\n")
		for _, f := range files {
			fmt.Fprintf(&extra, ".TP\n.I %s\n%s", roffEscape(f.path), roffText(f.text))
		}
	}
	extra.WriteString("\n")
	at := len(page)
	for _, sec := range []string{"\n.SH EXAMPLES\n", "\n.SH SEE ALSO\n"} {
		if i := strings.Index(page, sec); i >= 0 {
			at = i + 1
			break
		}
	}
	page = page[:at] + extra.String() + page[at:]

	if !c.HasParent() {
		// Hidden commands with a page of their own are not in cobra's list.
		var more []string
		for _, sub := range c.Commands() {
			if hiddenWithPage[sub.CommandPath()] {
				more = append(more, `\fB`+manName(sub)+`(1)\fP`)
			}
		}
		if len(more) > 0 {
			page = addSeeAlso(page, more)
		}
	}
	return []byte(asciiRoff(page)), nil
}

// asciiRoff writes every non-ASCII character as a roff escape (\[u2713]),
// which groff and mandoc read whatever the locale.
func asciiRoff(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 {
			b.WriteRune(r)
			continue
		}
		fmt.Fprintf(&b, `\[u%04X]`, r)
	}
	return b.String()
}

// addSeeAlso appends references to the line after ".SH SEE ALSO", keeping
// the list sorted.
func addSeeAlso(page string, refs []string) string {
	const sec = ".SH SEE ALSO\n"
	i := strings.Index(page, sec)
	if i < 0 {
		return strings.TrimRight(page, "\n") + "\n\n" + sec + strings.Join(refs, ", ") + "\n"
	}
	start := i + len(sec)
	end := strings.IndexByte(page[start:], '\n')
	if end < 0 {
		end = len(page) - start
	}
	list := append(strings.Split(page[start:start+end], ", "), refs...)
	sort.Strings(list[1:]) // the parent (or the first child) stays first
	return page[:start] + strings.Join(list, ", ") + page[start+end:]
}

// escapeFlagUsages backslash-escapes Markdown in the usage of every flag
// cobra/doc prints for c, returning the originals to put back.
func escapeFlagUsages(c *cobra.Command) map[*pflag.Flag]string {
	orig := map[*pflag.Flag]string{}
	visit := func(f *pflag.Flag) {
		if _, done := orig[f]; done {
			return
		}
		orig[f] = f.Usage
		f.Usage = markdownEscape(f.Usage)
	}
	c.NonInheritedFlags().VisitAll(visit)
	c.InheritedFlags().VisitAll(visit)
	return orig
}

// markdownEscape makes s render literally through blackfriday (its
// backslash escapes).
func markdownEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_{}[]()#+-.!:|&<>~", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// roffEscape makes one line of plain text safe as roff: backslashes,
// hyphens (\- so that options copy and paste as ASCII) and a control
// character at the start of the line.
func roffEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// roffText turns help text written for a terminal into roff paragraphs.
// Paragraphs are separated by blank lines; a paragraph with an indented
// line after its first (an option list, a usage line) keeps its layout.
func roffText(s string) string {
	var b strings.Builder
	first := true
	for _, para := range paragraphs(s) {
		if !first {
			b.WriteString(".PP\n")
		}
		first = false
		if preformatted(para) {
			b.WriteString(".nf\n")
			for _, l := range trimIndent(para) {
				b.WriteString(roffEscape(strings.TrimRight(l, " ")) + "\n")
			}
			b.WriteString(".fi\n")
			continue
		}
		for _, l := range para {
			b.WriteString(roffEscape(strings.TrimSpace(l)) + "\n")
		}
	}
	return b.String()
}

// paragraphs splits text at blank lines.
func paragraphs(s string) [][]string {
	var out [][]string
	var cur []string
	for _, l := range strings.Split(strings.Trim(s, "\n"), "\n") {
		if strings.TrimSpace(l) == "" {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		// cobra's own help texts (the completion commands) are written
		// for Markdown: drop their heading marks.
		if h := strings.TrimLeft(l, "#"); h != l && strings.HasPrefix(h, " ") {
			l = strings.TrimSpace(h)
		}
		cur = append(cur, strings.ReplaceAll(l, "\t", "    "))
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func preformatted(para []string) bool {
	for _, l := range para {
		if strings.HasPrefix(l, " ") {
			return true
		}
	}
	return false
}

// splitExitStatus takes the "EXIT STATUS" block (a heading line and the
// indented lines under it) out of a command's help text.
func splitExitStatus(long string) (desc, exit string) {
	lines := strings.Split(long, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != "EXIT STATUS" {
			continue
		}
		j := i + 1
		for j < len(lines) && (strings.TrimSpace(lines[j]) == "" || strings.HasPrefix(lines[j], " ")) {
			j++
		}
		rest := append(append([]string{}, lines[:i]...), lines[j:]...)
		return strings.Join(rest, "\n"), strings.Join(lines[i+1:j], "\n")
	}
	return long, ""
}

// exitItem is one code and what it means for a command.
type exitItem struct {
	code    int
	meaning string
}

var exitItemRE = regexp.MustCompile(`^([0-9]{1,3}) (.+)$`)

// parseExitStatus reads a help text's EXIT STATUS block, "0 sent; 64
// usage; ... 78 configuration error. Notes.", into codes and the notes
// that follow. ok is false when the text has another shape.
func parseExitStatus(block string) (items []exitItem, notes string, ok bool) {
	text := strings.Join(strings.Fields(block), " ")
	if text == "" {
		return nil, "", false
	}
	// The list ends at the first sentence end outside parentheses.
	depth, end := 0, len(text)
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '(':
			depth++
		case ')':
			depth--
		case '.':
			if depth == 0 && (i+1 == len(text) || i+2 < len(text) && text[i+1] == ' ' && text[i+2] >= 'A' && text[i+2] <= 'Z') {
				end = i
			}
		}
		if end != len(text) {
			break
		}
	}
	if end < len(text) {
		notes = strings.TrimSpace(text[end+1:])
	}
	var parts []string
	depth, start := 0, 0
	list := text[:end]
	for i := 0; i < len(list); i++ {
		switch list[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ';':
			if depth == 0 {
				parts = append(parts, list[start:i])
				start = i + 1
			}
		}
	}
	parts = append(parts, list[start:])
	for _, p := range parts {
		m := exitItemRE.FindStringSubmatch(strings.TrimSpace(p))
		if m == nil {
			return nil, "", false
		}
		code, _ := strconv.Atoi(m[1])
		items = append(items, exitItem{code, m[2]})
	}
	return items, notes, true
}

// exitStatusRoff is a page's EXIT STATUS section: the command's own list
// when its help has one, else the table every command shares.
func exitStatusRoff(c *cobra.Command, block string) string {
	var b strings.Builder
	items, notes, ok := parseExitStatus(block)
	switch {
	case ok:
		for _, it := range items {
			fmt.Fprintf(&b, ".TP\n.B %d\n%s", it.code, roffText(it.meaning))
		}
		if notes != "" {
			b.WriteString(".PP\n" + roffText(notes))
		}
		b.WriteString(".PP\n" + roffText("The codes are those of sysexits.h; smtpkit(1) lists them all."))
	case block != "":
		b.WriteString(roffText(strings.Join(strings.Fields(block), " ")))
	default:
		for _, e := range exitStatuses {
			fmt.Fprintf(&b, ".TP\n.B %d\n%s", e.Code, roffText(e.Meaning))
		}
		b.WriteString(".PP\n" + roffText(exitStatusNotes))
	}
	return b.String()
}

// tidyOptions turns cobra/doc's option entries (a paragraph of the flag,
// then its usage after a tab on the next line, which man runs together on
// one line) into tagged paragraphs: the flag, and the usage indented below.
func tidyOptions(page string) string {
	lines := strings.Split(page, "\n")
	var out []string
	inOptions := false
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, ".SH ") {
			inOptions = strings.HasPrefix(l, ".SH OPTIONS")
			out = append(out, l)
			continue
		}
		if !inOptions {
			out = append(out, l)
			continue
		}
		if l == ".PP" {
			continue
		}
		if strings.HasPrefix(l, `\fB`) && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\t") {
			out = append(out, ".TP", l, strings.TrimPrefix(lines[i+1], "\t"))
			i++
			continue
		}
		if l == "" && len(out) > 0 && out[len(out)-1] == "" {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// dropSections removes the sections whose heading starts with prefix.
func dropSections(page, prefix string) string {
	lines := strings.Split(page, "\n")
	var out []string
	drop := false
	for _, l := range lines {
		if strings.HasPrefix(l, ".SH ") {
			drop = strings.HasPrefix(l, prefix)
		}
		if !drop {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
