package render

import (
	"strings"

	"charm.land/lipgloss/v2"
)

// Cell is one table cell: text and how it should look on a terminal.
type Cell struct {
	Text string
	Tone Tone
}

// Table is rows of columns printed aligned, two spaces apart. The header,
// when there is one, is printed in a pipe too (plain) and styled on a
// terminal. No borders, no trailing spaces; a row may have fewer cells than
// others. Cell text is cleaned of control characters.
type Table struct {
	Header []string
	Rows   [][]Cell
}

// NewTable returns a table with the given header (none when empty).
func NewTable(header ...string) *Table { return &Table{Header: header} }

// AddRow appends a row of plain cells.
func (t *Table) AddRow(cells ...string) {
	row := make([]Cell, len(cells))
	for i, c := range cells {
		row[i] = Cell{Text: c}
	}
	t.Rows = append(t.Rows, row)
}

// AddCells appends a row of cells with their tones.
func (t *Table) AddCells(cells ...Cell) { t.Rows = append(t.Rows, cells) }

// Table prints t on stdout, styled when stdout is.
func (p *Printer) Table(t *Table) error { return p.write(p.out, t.Render(p.outStyled)) }

// Render returns the table's text, one line per row ending in a newline.
func (t *Table) Render(styled bool) string {
	rows := make([][]Cell, 0, len(t.Rows)+1)
	if len(t.Header) > 0 {
		h := make([]Cell, len(t.Header))
		for i, s := range t.Header {
			h[i] = Cell{Text: s, Tone: ToneHeader}
		}
		rows = append(rows, h)
	}
	rows = append(rows, t.Rows...)
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], lipgloss.Width(clean(c.Text)))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		n := len(r)
		for n > 0 && r[n-1].Text == "" {
			n-- // no padding for empty trailing cells
		}
		for i, c := range r[:n] {
			s := clean(c.Text)
			b.WriteString(paint(styled, c.Tone, s))
			if i < n-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-lipgloss.Width(s)+2))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}
