package config

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestPassword(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret\r\nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noNewline := filepath.Join(dir, "pw2")
	if err := os.WriteFile(noNewline, []byte("  spaced  "), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyFile := filepath.Join(dir, "empty")
	if err := os.WriteFile(emptyFile, []byte("\nsecond\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := envMap(map[string]string{"MY_PW": "from env\nkept whole", "EMPTY_PW": ""})

	tests := []struct {
		name    string
		s       Settings
		want    string
		ok      bool
		errWant string // substring; "" means no error
	}{
		{"none configured", Settings{User: str("u")}, "", false, ""},
		{"inline", Settings{InlinePassword: str("inline pw")}, "inline pw", true, ""},
		{"file first line, CRLF trimmed", Settings{PasswordFile: str(pwFile)}, "s3cret", true, ""},
		{"file without newline keeps spaces", Settings{PasswordFile: str(noNewline)}, "  spaced  ", true, ""},
		{"file with empty first line", Settings{PasswordFile: str(emptyFile)}, "", false, "first line is empty"},
		{"env", Settings{PasswordEnv: str("MY_PW")}, "from env\nkept whole", true, ""},
		{"env unset", Settings{PasswordEnv: str("NOT_SET")}, "", false, "password_env: variable NOT_SET is not set"},
		{"env empty", Settings{PasswordEnv: str("EMPTY_PW")}, "", false, "variable EMPTY_PW is empty"},
		{"command", Settings{PasswordCommand: str("echo secret")}, "secret", true, ""},
		{"command first line only", Settings{PasswordCommand: str("printf 'one\\r\\ntwo\\n'")}, "one", true, ""},
		{"command does not read stdin", Settings{PasswordCommand: str("cat; echo done")}, "done", true, ""},
		{"failing command", Settings{PasswordCommand: str("echo leaked-$((40+2)); exit 3")}, "", false,
			`password_command "echo leaked-$((40+2)); exit 3" failed: exit status 3`},
		{"command printing nothing", Settings{PasswordCommand: str("true")}, "", false, "printed no password"},
		{"inline wins over others", Settings{InlinePassword: str("a"), PasswordCommand: str("exit 1")}, "a", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.s.PasswordCommand != nil {
				if _, err := exec.LookPath("sh"); err != nil {
					t.Skip("no sh")
				}
			}
			var stderr bytes.Buffer
			got, ok, err := tt.s.PasswordTo(context.Background(), env, &stderr)
			if tt.errWant != "" {
				var ce *Error
				if !errors.As(err, &ce) {
					t.Fatalf("err = %v, want *Error", err)
				}
				if !strings.Contains(err.Error(), tt.errWant) {
					t.Errorf("err = %q, want it to contain %q", err, tt.errWant)
				}
				if strings.Contains(err.Error(), "leaked-42") {
					t.Error("error includes the command's output")
				}
				if ok || got != "" {
					t.Errorf("got %q, %v with an error", got, ok)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestPasswordCommandStderr(t *testing.T) {
	var stderr bytes.Buffer
	s := Settings{PasswordCommand: str("echo prompt >&2; echo pw")}
	got, ok, err := s.PasswordTo(context.Background(), nil, &stderr)
	if err != nil || !ok || got != "pw" {
		t.Fatalf("got %q, %v, %v", got, ok, err)
	}
	if stderr.String() != "prompt\n" {
		t.Errorf("stderr = %q, want the command's stderr passed through", stderr.String())
	}
}

func TestPasswordCommandCancelled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	s := Settings{PasswordCommand: str("echo $$ > " + pidFile + "; exec sleep 30")}
	_, _, err := s.PasswordTo(ctx, nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded in chain", err)
	}
	// The command is gone (killed and reaped), not left sleeping.
	if pid := readPid(t, pidFile); syscall.Kill(pid, 0) != syscall.ESRCH {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the cancelled command (pid %d) is still there", pid)
	}
}

// readPid reads the pid a test command wrote.
func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		t.Fatalf("pid file %q: %v", b, err)
	}
	return pid
}

// TestPasswordCommandBackgroundChild checks that a process left behind holding stdout does
// not hang smtpkit or lose the password printed before the command exited.
func TestPasswordCommandBackgroundChild(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	s := Settings{PasswordCommand: str("echo pw; sleep 300 & echo $! > " + pidFile)}
	got, ok, err := s.PasswordTo(context.Background(), nil, nil)
	if err != nil || !ok || got != "pw" {
		t.Errorf("got %q, %v, %v", got, ok, err)
	}
	// It returned while the child still runs: it did not wait for it.
	pid := readPid(t, pidFile)
	if err := syscall.Kill(pid, 0); err != nil {
		t.Errorf("the background child (pid %d) is gone (%v): was it waited for?", pid, err)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

func TestPasswordFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope")
	_, ok, err := Settings{PasswordFile: str(path)}.Password(context.Background(), nil)
	var pe *fs.PathError
	if ok || !errors.As(err, &pe) || pe.Path != path {
		t.Errorf("ok = %v, err = %v; want *fs.PathError for %s", ok, err, path)
	}
}

// TestPasswordFromLoadedProfile runs the whole path: file, inheritance, environment, source.
func TestPasswordFromLoadedProfile(t *testing.T) {
	f, _, err := load(t, "profiles:\n  work:\n    password_command: echo from-config\n  inline:\n    password: pw\n")
	if err != nil {
		t.Fatal(err)
	}
	if !f.HasInlinePassword {
		t.Error("HasInlinePassword = false")
	}
	env := envMap(map[string]string{"SMTPKIT_PASSWORD_ENV": "PW", "PW": "from-env"})
	for _, tc := range []struct {
		profile string
		env     func(string) (string, bool)
		want    string
	}{
		{"work", nil, "from-config"},
		{"work", env, "from-env"},
		{"inline", nil, "pw"},
		{"inline", env, "from-env"},
	} {
		s, err := f.Resolve(tc.profile, tc.env)
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.PasswordTo(context.Background(), tc.env, nil)
		if err != nil || !ok || got != tc.want {
			t.Errorf("%s: got %q, %v, %v; want %q", tc.profile, got, ok, err, tc.want)
		}
	}
}
