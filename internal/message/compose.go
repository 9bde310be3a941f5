package message

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// DefaultBody is the body of a composed message when none is given, as swaks
// sends it.
const DefaultBody = "This is a test mailing\n"

// ComposeOptions describes a new message for Compose.
type ComposeOptions struct {
	// From fills the From field, with FromName as display name. When From
	// is the null sender, Headers must supply a From field.
	From     Address
	FromName string
	// To and Cc fill the To and Cc fields; a field is left out when its
	// list is empty. There is no Bcc: blind copies are envelope recipients
	// only and never appear in the header.
	To, Cc []Address
	// Subject defaults to "test " followed by the Date field, as swaks does.
	Subject string
	// Body is the text; "" means DefaultBody. BodyReader, when set, is
	// read instead (a file or stdin), streamed through a temp file when big.
	Body       string
	BodyReader io.Reader
	// HTML, when set, makes the message multipart/alternative with the text
	// and this HTML.
	HTML io.Reader
	// Attach adds files; the message becomes multipart/mixed.
	Attach []Attachment
	// Headers holds "Name: value" fields applied last, like DataOptions:
	// each replaces every field of that name or is added at the end.
	// Values are verbatim (not RFC 2047 encoded).
	Headers []string
	// Now is the Date field; zero means the system clock.
	Now time.Time
	// Hostname is the right side of a generated Message-ID; "" means the
	// domain of From, or "localhost".
	Hostname string
	// MessageID replaces the generated identifier (with or without <>).
	MessageID string
	// TempDir is where temp files go; "" means os.TempDir().
	TempDir string
	// DKIM, when set, signs the message (see DKIMOptions).
	DKIM *DKIMOptions
}

// Attachment is a file to attach. It is sent base64-encoded, named by its
// base name (RFC 2231 encoded when not ASCII).
type Attachment struct {
	Path string
	// Inline marks it Content-Disposition: inline and gives it
	// Content-ID: <basename@smtpkit> (characters outside atext become "_",
	// and a repeated name gets "-2", "-3"...), for HTML to refer to as
	// "cid:basename@smtpkit".
	Inline bool
	// ContentType overrides the type found from the file name extension
	// (mime.TypeByExtension) or, failing that, from the first 512 octets
	// (http.DetectContentType).
	ContentType string
}

// Compose builds a new message, like swaks' default test message: Date,
// Message-ID, From, To, Cc, Subject, MIME-Version, Content-Type,
// Content-Transfer-Encoding and X-Mailer fields, then the body. Display
// names and the Subject are RFC 2047 encoded when not ASCII.
//
// Each text part (the body, the HTML) is text/*; charset=utf-8 and is sent
// 7bit when it is ASCII, 8bit when it holds UTF-8 (so EightBit is set, as
// swaks does), and quoted-printable when a line exceeds 998 octets or it
// holds NUL (RFC 5322 2.1.1, RFC 2045 2.7-2.8). Line endings become CRLF.
//
// Small messages stay in memory; bigger ones, and attachments, stream
// through a temp file in TempDir that Close removes.
//
// A missing or unreadable attachment gives its *os.PathError, wrapped; read
// errors of BodyReader and HTML are returned wrapped. A line break or
// control character in FromName or Subject, a bad Headers entry, a bad
// attachment ContentType, or no From at all give a *MessageError. DKIM
// errors are described on DKIMOptions; temp file failures give an *IOError.
func Compose(opts ComposeOptions) (*Prepared, error) {
	edits, err := parseHeaderEdits(opts.Headers)
	if err != nil {
		return nil, err
	}
	if err := checkText("display name", opts.FromName); err != nil {
		return nil, err
	}
	if err := checkText("subject", opts.Subject); err != nil {
		return nil, err
	}
	if opts.From.IsNull() && !hasEdit(edits, "From") {
		return nil, &MessageError{Source: "compose", Reason: "the sender is <>, so a From header is needed"}
	}

	atts, err := openAttachments(opts.Attach)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, a := range atts {
			a.close()
		}
	}()

	var text *textBody
	if opts.BodyReader != nil {
		text, err = spoolText(opts.BodyReader, opts.TempDir, "body")
	} else {
		body := opts.Body
		if body == "" {
			body = DefaultBody
		}
		text, err = spoolText(strings.NewReader(body), opts.TempDir, "body")
	}
	if err != nil {
		return nil, err
	}
	defer text.sp.discard()
	var html *textBody
	if opts.HTML != nil {
		if html, err = spoolText(opts.HTML, opts.TempDir, "html"); err != nil {
			return nil, err
		}
		defer html.sp.discard()
	}

	hf, err := composeHeader(opts, text, html, len(atts) > 0)
	if err != nil {
		return nil, err
	}
	top := contentTypeParams(hf)
	fields, err := renderFields(hf)
	if err != nil {
		return nil, err
	}
	fields = applyEdits(fields, edits)

	p := &Prepared{}
	p.setHeader(&headerSection{fields: fields, blank: true}, nil)
	sp := &spill{dir: opts.TempDir}
	m := &meter{}
	cw := newCRLFWriter(io.MultiWriter(sp, m))
	err = writeAll(cw, p.prefix, []byte("\r\n"))
	if err == nil {
		err = writeBody(cw, top, text, html, atts)
	}
	if err == nil {
		err = cw.Close()
	}
	if err == nil {
		err = sp.finish()
	}
	if err != nil {
		sp.discard()
		return nil, err
	}
	// The header went into the spill along with the body.
	p.prefix = nil
	p.Size, p.EightBit = m.n, m.eight
	p.mem, p.path, p.temp = sp.buf, sp.path, sp.path != ""
	return p.finish(opts.DKIM)
}

// hfield is a header field before rendering.
type hfield struct{ name, value string }

// composeHeader returns the header fields of a composed message, values
// encoded but not folded.
func composeHeader(opts ComposeOptions, text, html *textBody, mixed bool) ([]hfield, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	// go-message's mail.Header does the RFC 5322 and RFC 2047 formatting.
	var h mail.Header
	h.SetDate(now)
	id := strings.TrimSuffix(strings.TrimPrefix(opts.MessageID, "<"), ">")
	if id == "" {
		host := opts.Hostname
		if host == "" && !opts.From.IsNull() && !strings.HasPrefix(opts.From.Domain, "[") {
			host = opts.From.Domain
		}
		if host == "" {
			host = "localhost"
		}
		id = randomHex(16) + "@" + host
	}
	if err := checkText("message-id", id); err != nil {
		return nil, err
	}
	h.SetMessageID(id)
	if !opts.From.IsNull() {
		h.SetAddressList("From", mailAddrs([]Address{opts.From}, opts.FromName))
	}
	h.SetAddressList("To", mailAddrs(opts.To, ""))
	h.SetAddressList("Cc", mailAddrs(opts.Cc, ""))
	subject := opts.Subject
	if subject == "" {
		subject = "test " + h.Get("Date")
	}
	h.SetSubject(subject)

	fields := []hfield{{"Date", h.Get("Date")}, {"Message-ID", h.Get("Message-Id")}}
	for _, k := range []string{"From", "To", "Cc"} {
		if v := h.Get(k); v != "" {
			fields = append(fields, hfield{k, v})
		}
	}
	fields = append(fields, hfield{"Subject", h.Get("Subject")}, hfield{"MIME-Version", "1.0"})
	switch {
	case mixed:
		fields = append(fields, hfield{"Content-Type", multipartType("mixed")})
	case html != nil:
		fields = append(fields, hfield{"Content-Type", multipartType("alternative")})
	default:
		fields = append(fields,
			hfield{"Content-Type", "text/plain; charset=utf-8"},
			hfield{"Content-Transfer-Encoding", text.enc})
	}
	return append(fields, hfield{"X-Mailer", "smtpkit"}), nil
}

// renderFields folds the values into header fields.
func renderFields(hf []hfield) ([]field, error) {
	out := make([]field, 0, len(hf))
	for _, f := range hf {
		raw, err := formatField(f.name, f.value)
		if err != nil {
			return nil, err
		}
		out = append(out, field{name: f.name, raw: raw})
	}
	return out, nil
}

// contentTypeParams returns the parameters of the Content-Type field.
func contentTypeParams(hf []hfield) map[string]string {
	for _, f := range hf {
		if f.name == "Content-Type" {
			_, params, _ := mime.ParseMediaType(f.value)
			return params
		}
	}
	return nil
}

func multipartType(sub string) string {
	return mime.FormatMediaType("multipart/"+sub, map[string]string{"boundary": newBoundary()})
}

// writeBody writes the body that goes with the Content-Type parameters top.
func writeBody(w io.Writer, top map[string]string, text, html *textBody, atts []*openAttachment) error {
	switch {
	case len(atts) > 0:
		mw := textproto.NewMultipartWriter(w)
		if err := mw.SetBoundary(top["boundary"]); err != nil {
			return err
		}
		if html != nil {
			ct := multipartType("alternative")
			h, err := partHeader(hfield{"Content-Type", ct})
			if err != nil {
				return err
			}
			pw, err := mw.CreatePart(h)
			if err != nil {
				return err
			}
			_, params, _ := mime.ParseMediaType(ct)
			if err := writeAlternative(pw, params["boundary"], text, html); err != nil {
				return err
			}
		} else if err := writeTextPart(mw, "plain", text); err != nil {
			return err
		}
		for _, a := range atts {
			h, err := partHeader(a.header()...)
			if err != nil {
				return err
			}
			pw, err := mw.CreatePart(h)
			if err != nil {
				return err
			}
			if err := a.writeTo(pw); err != nil {
				return err
			}
		}
		return mw.Close()
	case html != nil:
		return writeAlternative(w, top["boundary"], text, html)
	default:
		return text.writeTo(w)
	}
}

func writeAlternative(w io.Writer, boundary string, text, html *textBody) error {
	mw := textproto.NewMultipartWriter(w)
	if err := mw.SetBoundary(boundary); err != nil {
		return err
	}
	// RFC 2046 5.1.4: alternatives go from plainest to richest.
	if err := writeTextPart(mw, "plain", text); err != nil {
		return err
	}
	if err := writeTextPart(mw, "html", html); err != nil {
		return err
	}
	return mw.Close()
}

func writeTextPart(mw *textproto.MultipartWriter, subtype string, t *textBody) error {
	h, err := partHeader(
		hfield{"Content-Type", "text/" + subtype + "; charset=utf-8"},
		hfield{"Content-Transfer-Encoding", t.enc},
	)
	if err != nil {
		return err
	}
	pw, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	return t.writeTo(pw)
}

// partHeader builds a MIME part header that keeps the order and spelling of
// fields (textproto.Header writes its fields last-added first).
func partHeader(fields ...hfield) (textproto.Header, error) {
	var h textproto.Header
	for i := len(fields) - 1; i >= 0; i-- {
		raw, err := formatField(fields[i].name, fields[i].value)
		if err != nil {
			return h, err
		}
		h.AddRaw(raw)
	}
	return h, nil
}

func mailAddrs(list []Address, name string) []*mail.Address {
	out := make([]*mail.Address, len(list))
	for i, a := range list {
		// net/mail quotes the local part itself, so it gets it decoded.
		out[i] = &mail.Address{Name: name, Address: a.Local + "@" + a.Domain}
	}
	return out
}

func hasEdit(edits []headerEdit, name string) bool {
	for _, e := range edits {
		if strings.EqualFold(e.name, name) {
			return true
		}
	}
	return false
}

// checkText rejects what would break a header field: line breaks (header
// injection) and other control characters.
func checkText(what, s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			reason := what + " contains a control character"
			if c == '\r' || c == '\n' {
				reason = what + " contains a line break"
			}
			return &MessageError{Source: "compose", Reason: reason}
		}
	}
	return nil
}

func writeAll(w io.Writer, bufs ...[]byte) error {
	for _, b := range bufs {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func newBoundary() string {
	return "smtpkit-" + randomHex(12)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand.Read never fails on supported platforms (Go 1.24+).
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return hex.EncodeToString(b)
}
