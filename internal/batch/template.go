package batch

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"text/template"
	"time"

	"github.com/smtpkit/smtpkit/internal/message"
)

// Template is the message of every row: headers and body, as a Go
// text/template over the row's fields ({{.name}}).
type Template struct {
	t      *template.Template
	finish *Finish
}

// Finish turns each rendered message into the one sent, for send --batch
// with attachments or DKIM: the same files attached to every row's message,
// then a signature over the result.
type Finish struct {
	// Attachments, when set, make each message multipart/mixed: the
	// rendered message's body becomes the first part and its header fields
	// stay the message's (see message.Attachments.Mixed).
	Attachments *message.Attachments
	// DKIM, when set, signs each message last. A message that lacks a
	// Date: or a Message-ID: gets them first (as Run would add them
	// after rendering), so that the signature covers them.
	DKIM *message.DKIMSigner
	// Now is the time of those Date: fields; nil means time.Now.
	Now func() time.Time
	// Domain is the right-hand side of those Message-IDs.
	Domain string
}

// SetFinish has every message the template renders finished by f; nil
// means none.
func (t *Template) SetFinish(f *Finish) { t.finish = f }

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
	if t.finish == nil {
		if err := t.t.Execute(w, row.Fields); err != nil {
			return &RowError{N: row.N, Err: fmt.Errorf("template: %w", err)}
		}
		return nil
	}
	b, err := t.RenderBytes(row)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// RenderBytes renders the row's message into memory: one message, not the
// batch, so its size is the template's plus the row's (plus the
// attachments, with Finish). An error names the row.
func (t *Template) RenderBytes(row *Row) ([]byte, error) {
	var b bytes.Buffer
	if err := t.t.Execute(&b, row.Fields); err != nil {
		return nil, &RowError{N: row.N, Err: fmt.Errorf("template: %w", err)}
	}
	if t.finish == nil {
		return b.Bytes(), nil
	}
	out, err := t.finish.apply(b.Bytes())
	if err != nil {
		return nil, &RowError{N: row.N, Err: err}
	}
	return out, nil
}

// apply attaches, then signs.
func (f *Finish) apply(msg []byte) ([]byte, error) {
	var err error
	if f.Attachments != nil {
		if msg, err = f.Attachments.Mixed(msg); err != nil {
			return nil, err
		}
	}
	if f.DKIM != nil {
		now := time.Now
		if f.Now != nil {
			now = f.Now
		}
		if msg, err = f.DKIM.Sign(addMissingHeaders(msg, now(), f.Domain)); err != nil {
			return nil, err
		}
	}
	return msg, nil
}
