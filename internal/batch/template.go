package batch

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"text/template"
)

// Template is the message of every row: headers and body, as a Go
// text/template over the row's fields ({{.name}}).
type Template struct {
	t *template.Template
}

// ParseTemplate parses the template text. A field the template names but a
// row lacks is an error for that row (missingkey=error), never "<no value>".
func ParseTemplate(name, text string) (*Template, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	return &Template{t: t}, nil
}

// LoadTemplate reads and parses the template file at path.
func LoadTemplate(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseTemplate(path, string(b))
}

// Render writes the row's message to w. An error names the row.
func (t *Template) Render(w io.Writer, row *Row) error {
	if err := t.t.Execute(w, row.Fields); err != nil {
		return &RowError{N: row.N, Err: fmt.Errorf("template: %w", err)}
	}
	return nil
}

// RenderBytes renders the row's message into memory: one message, not the
// batch, so its size is the template's plus the row's.
func (t *Template) RenderBytes(row *Row) ([]byte, error) {
	var b bytes.Buffer
	if err := t.Render(&b, row); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
