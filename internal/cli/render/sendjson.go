package render

import (
	"github.com/smtpkit/smtpkit/internal/smtp"
)

// The JSON output of `smtpkit send` is a documented contract: field names
// only ever get added. Durations are milliseconds as fractional numbers,
// times are RFC 3339 strings, lists are [] rather than null.
//
// A reply is the object
//
//	code      number    the three-digit reply code
//	enhanced  string    RFC 3463 status code such as "2.1.5" (absent when the server sends none)
//	lines     [string]  the text of each reply line, without code and enhanced code

// SendJSON is the --format json document of `smtpkit send`: the fields of
// SessionJSON, then
//
//	recipients  [object]  one RecipientJSON per RCPT, in order (without "type")
//	transcript  [object]  every session event, see EventJSON
type SendJSON struct {
	SessionJSON
	Recipients []RecipientJSON `json:"recipients"`
	Transcript []EventJSON     `json:"transcript"`
}

// SendResultJSON is the last line of `smtpkit send --format jsonl`, after
// one RecipientJSON line per recipient:
//
//	type        string    "result"
//	...                   every field of SessionJSON
//	transcript  [object]  with -v only: every session event, see EventJSON
type SendResultJSON struct {
	Type string `json:"type"`
	SessionJSON
	Transcript []EventJSON `json:"transcript,omitempty"`
}

// SessionJSON holds what a send session learnt, shared by the json
// document and the jsonl result line:
//
//	ok             bool      everything asked for succeeded (see SendOK)
//	server         string    the address dialled: host:port or unix:/path
//	remote         string    the peer's address once connected (absent before)
//	banner         reply     the greeting (absent when not reached)
//	ehlo           reply     the last EHLO, LHLO or HELO reply (absent when not reached)
//	extensions     [string]  EHLO keywords with their parameters, e.g. "SIZE 10240000"
//	tls            object    when TLS was used: mode ("starttls" or "implicit"), version,
//	                         cipher, server_name, verified (bool), verify_error (absent when
//	                         verified), chain (list of {subject, issuer, dns_names,
//	                         not_before, not_after, key, sha256})
//	auth           object    when AUTH was tried: mechanism, user (absent when none), ok (bool)
//	commands       [object]  --command results, {command, reply} (absent when none)
//	mail           reply     the MAIL FROM reply (absent when not reached)
//	data           reply     the DATA or BDAT final reply; in LMTP the first recipient's;
//	                         354 when stopped after DATA (absent when not reached)
//	queue_id       string    the queue id found in the data reply (absent when none)
//	octets         number    octets of content sent (absent when none)
//	pipelined      bool      MAIL, RCPT and DATA were pipelined (RFC 2920)
//	chunked        bool      the content went with BDAT (RFC 3030)
//	stopped_after  string    the --quit-after point the session stopped at (absent otherwise)
//	counts         object    recipients by status: accepted, rejected, deferred, unknown
//	timings        object    see TimingsJSON
//	error          string    why the session failed (absent when it did not)
type SessionJSON struct {
	OK           bool                 `json:"ok"`
	Server       string               `json:"server"`
	Remote       string               `json:"remote,omitempty"`
	Banner       *smtp.Reply          `json:"banner,omitempty"`
	Hello        *smtp.Reply          `json:"ehlo,omitempty"`
	Extensions   []string             `json:"extensions"`
	TLS          *smtp.TLSInfo        `json:"tls,omitempty"`
	Auth         *smtp.AuthInfo       `json:"auth,omitempty"`
	Commands     []smtp.CommandResult `json:"commands,omitempty"`
	Mail         *smtp.Reply          `json:"mail,omitempty"`
	Data         *smtp.Reply          `json:"data,omitempty"`
	QueueID      string               `json:"queue_id,omitempty"`
	Octets       int64                `json:"octets,omitempty"`
	Pipelined    bool                 `json:"pipelined"`
	Chunked      bool                 `json:"chunked"`
	StoppedAfter string               `json:"stopped_after,omitempty"`
	Counts       CountsJSON           `json:"counts"`
	Timings      TimingsJSON          `json:"timings"`
	Error        string               `json:"error,omitempty"`
}

// CountsJSON counts recipients by status (see RecipientJSON).
//
//	accepted, rejected, deferred, unknown  number
type CountsJSON struct {
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
	Deferred int `json:"deferred"`
	Unknown  int `json:"unknown"`
}

// TimingsJSON are the durations of a session's phases in milliseconds;
// a phase that did not run is 0.
//
//	connect_ms   TCP (and implicit TLS) connection
//	banner_ms    waiting for the greeting
//	ehlo_ms      EHLO (or LHLO, HELO)
//	starttls_ms  STARTTLS, the handshake and the second EHLO
//	auth_ms      AUTH
//	envelope_ms  MAIL, RCPT and the content up to the final reply
//	data_ms      the content, when timed apart from the envelope
//	total_ms     the whole session
type TimingsJSON struct {
	ConnectMS  float64 `json:"connect_ms"`
	BannerMS   float64 `json:"banner_ms"`
	HelloMS    float64 `json:"ehlo_ms"`
	StartTLSMS float64 `json:"starttls_ms"`
	AuthMS     float64 `json:"auth_ms"`
	EnvelopeMS float64 `json:"envelope_ms"`
	DataMS     float64 `json:"data_ms"`
	TotalMS    float64 `json:"total_ms"`
}

// RecipientJSON is one recipient's outcome:
//
//	type      string  "recipient" (jsonl lines only)
//	address   string  the recipient address
//	status    string  accepted, rejected (5xx), deferred (4xx) or unknown (no reply read);
//	                  decided by the RCPT reply, then by the recipient's data reply
//	accepted  bool    the server accepted RCPT TO
//	reply     reply   the RCPT TO reply
//	data      reply   the reply to the content for this recipient: its own in LMTP
//	                  (RFC 2033 4.2), the transaction's in SMTP (absent when not reached)
type RecipientJSON struct {
	Type     string      `json:"type,omitempty"`
	Address  string      `json:"address"`
	Status   string      `json:"status"`
	Accepted bool        `json:"accepted"`
	Reply    smtp.Reply  `json:"reply"`
	Data     *smtp.Reply `json:"data,omitempty"`
}

// NewSendJSON builds the json document for res and its transcript.
func NewSendJSON(res *smtp.SubmitResult, transcript []smtp.Event) SendJSON {
	return SendJSON{
		SessionJSON: newSessionJSON(res),
		Recipients:  NewRecipientsJSON(res.Recipients),
		Transcript:  NewEventsJSON(transcript),
	}
}

// NewRecipientsJSON converts recipient results; nil gives an empty list.
func NewRecipientsJSON(rcpts []smtp.RcptResult) []RecipientJSON {
	out := make([]RecipientJSON, 0, len(rcpts))
	for _, rc := range rcpts {
		st, _ := recipientStatus(rc)
		out = append(out, RecipientJSON{Address: rc.Addr, Status: st, Accepted: rc.Accepted,
			Reply: jsonReply(rc.Reply), Data: replyPtr(rc.Data)})
	}
	return out
}

func newSessionJSON(res *smtp.SubmitResult) SessionJSON {
	s := SessionJSON{
		OK:           SendOK(res),
		Server:       res.Server,
		Remote:       res.Remote,
		Banner:       replyPtr(res.Banner),
		Hello:        replyPtr(res.Hello),
		Extensions:   res.Extensions,
		TLS:          tlsInfo(res.TLS),
		Auth:         res.Auth,
		Mail:         replyPtr(res.Mail),
		Data:         replyPtr(res.Data),
		QueueID:      res.QueueID,
		Octets:       res.Octets,
		Pipelined:    res.Pipelined,
		Chunked:      res.Chunked,
		StoppedAfter: res.StoppedAfter,
		Error:        res.Error,
		Timings: TimingsJSON{
			ConnectMS:  ms(res.Timings.Connect),
			BannerMS:   ms(res.Timings.Banner),
			HelloMS:    ms(res.Timings.Hello),
			StartTLSMS: ms(res.Timings.StartTLS),
			AuthMS:     ms(res.Timings.Auth),
			EnvelopeMS: ms(res.Timings.Envelope),
			DataMS:     ms(res.Timings.Data),
			TotalMS:    ms(res.Timings.Total),
		},
	}
	if s.Extensions == nil {
		s.Extensions = []string{}
	}
	for _, c := range res.Commands {
		s.Commands = append(s.Commands, smtp.CommandResult{Command: c.Command, Reply: jsonReply(c.Reply)})
	}
	for _, rc := range res.Recipients {
		switch st, _ := recipientStatus(rc); st {
		case StatusAccepted:
			s.Counts.Accepted++
		case StatusRejected:
			s.Counts.Rejected++
		case StatusDeferred:
			s.Counts.Deferred++
		default:
			s.Counts.Unknown++
		}
	}
	return s
}

// jsonReply copies r with lines as [] rather than null.
func jsonReply(r smtp.Reply) smtp.Reply {
	if r.Lines == nil {
		r.Lines = []string{}
	}
	return r
}

func replyPtr(r *smtp.Reply) *smtp.Reply {
	if r == nil {
		return nil
	}
	c := jsonReply(*r)
	return &c
}

// tlsInfo copies t with the chain as [] rather than null.
func tlsInfo(t *smtp.TLSInfo) *smtp.TLSInfo {
	if t == nil {
		return nil
	}
	c := *t
	if c.Chain == nil {
		c.Chain = []smtp.CertInfo{}
	}
	return &c
}
