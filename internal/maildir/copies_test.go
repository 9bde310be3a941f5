package maildir

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

func threeMaildirs(t *testing.T) []string {
	t.Helper()
	root := t.TempDir()
	var dirs []string
	for _, u := range []string{"alice", "bob", "carol"} {
		d := filepath.Join(root, u)
		if err := Ensure(d); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	return dirs
}

func TestDeliverCopies(t *testing.T) {
	const body = "Subject: to all\r\n\r\nhello all\r\n"
	for _, tt := range []struct {
		name     string
		prefixes []string
	}{
		{"identical", []string{"Return-Path: <a@x>\r\n", "Return-Path: <a@x>\r\n", "Return-Path: <a@x>\r\n"}},
		{"different", []string{"Delivered-To: alice\r\n", "Delivered-To: bob\r\n", "Delivered-To: carol, much longer\r\n"}},
		{"mixed", []string{"", "Delivered-To: bob\r\n", ""}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dirs := threeMaildirs(t)
			var targets []Target
			for i, d := range dirs {
				targets = append(targets, Target{Dir: d, Prefix: []byte(tt.prefixes[i])})
			}
			got, err := newTestStore().DeliverCopies(context.Background(), targets, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(dirs) {
				t.Fatalf("%d copies, want %d", len(got), len(dirs))
			}
			for i, d := range dirs {
				if filepath.Dir(got[i].Path) != filepath.Join(d, "new") {
					t.Errorf("copy %d at %s", i, got[i].Path)
				}
				n := names(t, filepath.Join(d, "new"))
				if len(n) != 1 {
					t.Fatalf("%s/new holds %q", d, n)
				}
				if m := nameRE.FindStringSubmatch(n[0]); m == nil {
					t.Errorf("name %q", n[0])
				}
				want := tt.prefixes[i] + body
				if b, err := os.ReadFile(got[i].Path); err != nil || string(b) != want {
					t.Errorf("copy %d: %q %v, want %q", i, b, err, want)
				}
				if got[i].Size != int64(len(want)) {
					t.Errorf("copy %d: Size %d, want %d", i, got[i].Size, len(want))
				}
				smtptest.WantMode(t, got[i].Path, 0o600)
				wantEmpty(t, filepath.Join(d, "tmp"))
			}
			// Equal prefixes on one filesystem share the first copy's inode.
			for i := 1; i < len(dirs); i++ {
				a, _ := os.Stat(got[0].Path)
				b, _ := os.Stat(got[i].Path)
				if same := os.SameFile(a, b); same != (tt.prefixes[i] == tt.prefixes[0]) {
					t.Errorf("copy %d: same file as copy 0 is %v", i, same)
				}
			}
		})
	}
}

// TestDeliverCopiesFailure breaks the third maildir in ways that stop root
// too (a regular file where a folder belongs): no copy may stay anywhere.
func TestDeliverCopiesFailure(t *testing.T) {
	for _, tt := range []struct {
		name, broken string
		same         bool
	}{
		{"tmp is a file, copy", "tmp", false},
		{"tmp is a file, link", "tmp", true},
		{"new is a file, copy", "new", false},
		{"new is a file, link", "new", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dirs := threeMaildirs(t)
			bad := filepath.Join(dirs[2], tt.broken)
			if err := os.Remove(bad); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(bad, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			var targets []Target
			for i, d := range dirs {
				p := "Delivered-To: same\r\n"
				if !tt.same {
					p = "Delivered-To: " + string(rune('a'+i)) + "\r\n"
				}
				targets = append(targets, Target{Dir: d, Prefix: []byte(p)})
			}
			got, err := newTestStore().DeliverCopies(context.Background(), targets, strings.NewReader("body\r\n"))
			if err == nil {
				t.Fatalf("delivered %v", got)
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, syscall.ENOTDIR) {
				t.Errorf("error %v (%T), want ENOTDIR as *Error", err, err)
			}
			for _, d := range dirs[:2] {
				wantEmpty(t, filepath.Join(d, "new"))
				wantEmpty(t, filepath.Join(d, "tmp"))
			}
			if tt.broken == "new" {
				wantEmpty(t, filepath.Join(dirs[2], "tmp"))
			}
		})
	}
}

func TestDeliverCopiesBodyError(t *testing.T) {
	dirs := threeMaildirs(t)
	boom := errors.New("client went away")
	var targets []Target
	for _, d := range dirs {
		targets = append(targets, Target{Dir: d})
	}
	_, err := newTestStore().DeliverCopies(context.Background(), targets, &failingReader{n: 1000, err: boom})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want the reader's", err)
	}
	for _, d := range dirs {
		wantEmpty(t, filepath.Join(d, "new"))
		wantEmpty(t, filepath.Join(d, "tmp"))
	}
}

func TestDeliverCopiesNoTargets(t *testing.T) {
	if _, err := newTestStore().DeliverCopies(context.Background(), nil, strings.NewReader("x")); err == nil {
		t.Error("no targets: no error")
	}
}
