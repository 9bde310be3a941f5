package records

import "fmt"

// Severity says how bad a Problem is.
type Severity string

// The severities of a Problem.
const (
	// SeverityError: receivers will reject, ignore or fail on the record.
	SeverityError Severity = "error"
	// SeverityWarning: the record works but is unwise, deprecated or fragile.
	SeverityWarning Severity = "warning"
)

// Problem is one finding about a record: what is wrong and how badly.
type Problem struct {
	// Severity is "error" or "warning".
	Severity Severity `json:"severity"`
	// Text says what is wrong, in lowercase prose, citing the rule where that helps.
	Text string `json:"text"`
}

// String returns "severity: text".
func (p Problem) String() string { return string(p.Severity) + ": " + p.Text }

// HasErrors reports whether any problem in ps has severity "error".
func HasErrors(ps []Problem) bool {
	for _, p := range ps {
		if p.Severity == SeverityError {
			return true
		}
	}
	return false
}

func errorf(format string, args ...any) Problem {
	return Problem{Severity: SeverityError, Text: fmt.Sprintf(format, args...)}
}

func warnf(format string, args ...any) Problem {
	return Problem{Severity: SeverityWarning, Text: fmt.Sprintf(format, args...)}
}
