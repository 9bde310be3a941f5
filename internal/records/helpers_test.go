package records

import (
	"strings"
	"testing"
)

// checkProblems asserts that ps holds exactly the listed errors and warnings, in order,
// each matched as a substring of the problem text.
func checkProblems(t *testing.T, ps []Problem, errs, warns []string) {
	t.Helper()
	var gotErrs, gotWarns []string
	for _, p := range ps {
		switch p.Severity {
		case SeverityError:
			gotErrs = append(gotErrs, p.Text)
		case SeverityWarning:
			gotWarns = append(gotWarns, p.Text)
		default:
			t.Errorf("problem %q has severity %q", p.Text, p.Severity)
		}
	}
	match := func(kind string, got, want []string) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: got %d %q, want %d %q", kind, len(got), got, len(want), want)
			return
		}
		for i := range want {
			if !strings.Contains(got[i], want[i]) {
				t.Errorf("%s[%d] = %q, want it to contain %q", kind, i, got[i], want[i])
			}
		}
	}
	match("errors", gotErrs, errs)
	match("warnings", gotWarns, warns)
}

func intp(n int) *int { return &n }
