package smtptest

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Update is the -update flag: CompareGolden rewrites golden files instead
// of comparing. A test package that imports smtptest must use this flag
// rather than define its own -update (the flag package refuses a second
// definition).
var Update = flag.Bool("update", false, "rewrite golden files under testdata/ instead of comparing")

// RepoRoot returns the directory holding go.mod, found by walking up from
// the working directory (a package directory under go test).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("smtptest: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("smtptest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// CompareGolden compares got with testdata/transcripts/NAME at the
// repository root, byte for byte, and reports the first difference. With
// -update it writes got to the file instead.
func CompareGolden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join(RepoRoot(t), "testdata", "transcripts", filepath.FromSlash(name))
	if *Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("smtptest: %v", err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("smtptest: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("smtptest: golden file: %v (run go test -update to create it)\ngot:\n%s", err, got)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("smtptest: %s differs from the golden file (run go test -update to accept):\n%s", name, Diff(want, got))
	}
}

// Diff describes how got differs from want, line by line around the first
// difference.
func Diff(want, got []byte) string {
	wl := strings.SplitAfter(string(want), "\n")
	gl := strings.SplitAfter(string(got), "\n")
	i := 0
	for i < len(wl) && i < len(gl) && wl[i] == gl[i] {
		i++
	}
	if i == len(wl) && i == len(gl) {
		return "(no difference)"
	}
	var b strings.Builder
	from := max(0, i-3)
	for j := from; j < i; j++ {
		fmt.Fprintf(&b, "  %q\n", wl[j])
	}
	for j := i; j < min(len(wl), i+5); j++ {
		fmt.Fprintf(&b, "- %q\n", wl[j])
	}
	for j := i; j < min(len(gl), i+5); j++ {
		fmt.Fprintf(&b, "+ %q\n", gl[j])
	}
	fmt.Fprintf(&b, "(first difference at line %d; want %d lines, got %d)", i+1, len(wl), len(gl))
	return b.String()
}
