package smtp

import "time"

// EventKind names what happened in a session.
type EventKind string

// Event kinds, in the order a session usually produces them.
const (
	EventDial      EventKind = "dial"      // about to connect; Line holds the address
	EventConnected EventKind = "connected" // TCP or unix connection up; Line holds local -> remote
	EventTLS       EventKind = "tls"       // TLS handshake done; Line holds version, cipher, peer certificate
	EventSend      EventKind = "send"      // a line written to the peer
	EventRecv      EventKind = "recv"      // a line read from the peer
	EventBody      EventKind = "body"      // message content written (a summary unless TraceBody)
	EventError     EventKind = "error"     // the session failed
	EventClosed    EventKind = "closed"    // the connection is closed
)

// Event is one entry of the session trace.
type Event struct {
	Time     time.Time     `json:"time"`
	Kind     EventKind     `json:"kind"`
	Line     string        `json:"line"`
	TLS      bool          `json:"tls,omitempty"`      // the line travelled inside TLS
	Elapsed  time.Duration `json:"elapsed,omitempty"`  // recv: time since the command was written
	Redacted bool          `json:"redacted,omitempty"` // Line had a secret removed
}

// Trace receives every event of a session, in order, on the session's
// goroutine. It must not block for long.
type Trace func(Event)

// Transcript collects events; its Add method is a Trace.
type Transcript struct {
	Events []Event
}

// Add appends ev.
func (t *Transcript) Add(ev Event) { t.Events = append(t.Events, ev) }

const redacted = "[redacted]"
