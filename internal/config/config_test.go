package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// envMap turns a map into a lookup function, so tests never touch the process environment.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// writeConfig writes body to dir/config.yaml with mode and returns its path.
func writeConfig(t *testing.T, dir, body string, mode fs.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask may have trimmed the mode
		t.Fatal(err)
	}
	return path
}

// load writes body to a fresh temp file (mode 0600) and loads it with an empty environment.
func load(t *testing.T, body string) (*File, string, error) {
	t.Helper()
	path := writeConfig(t, t.TempDir(), body, 0o600)
	f, err := LoadEnv(path, envMap(nil))
	return f, path, err
}

func str(s string) *string { return &s }

func TestLoadExample(t *testing.T) {
	f, err := LoadEnv(filepath.Join("..", "..", "testdata", "config", "example.yaml"), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.ProfileNames(), []string{"backup", "work"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ProfileNames = %v, want %v", got, want)
	}
	if f.Inherits["backup"] != "work" {
		t.Errorf("Inherits = %v", f.Inherits)
	}
	if f.HasInlinePassword {
		t.Error("HasInlinePassword = true, want false")
	}
	// Profiles are raw: backup does not carry work's user before Resolve.
	if f.Profiles["backup"].User != nil {
		t.Error("raw profile backup has inherited user")
	}
	s, err := f.Resolve("backup", envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{
		Server:          str("smtp2.example.com:465"),
		TLS:             str("implicit"),
		EHLO:            str("client.example.net"),
		User:            str("me@example.com"),
		PasswordCommand: str("pass show mail/work"),
		From:            str("me@example.com"),
		Timeout:         durp(30 * time.Second),
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Resolve(backup) =\n%s\nwant\n%s", dump(s), dump(want))
	}
}

func durp(d time.Duration) *time.Duration { return &d }
func boolp(b bool) *bool                  { return &b }

// dump prints the set fields of s, for readable failures.
func dump(s Settings) string {
	var b strings.Builder
	v := reflect.ValueOf(s)
	for i := range v.NumField() {
		if f := v.Field(i); !f.IsNil() {
			fmt.Fprintf(&b, " %s=%q", v.Type().Field(i).Name, fmt.Sprint(f.Elem().Interface()))
		}
	}
	return b.String()
}

func TestLoadEveryKey(t *testing.T) {
	body := `defaults:
  server: smtp.example.com:587
  tls: STARTTLS
  insecure: true
  ca_file: ~/ca.pem
  tls_sni: mail.example.com
  tls_min: 1.2
  client_cert: /etc/cert.pem
  client_key: /etc/key.pem
  ehlo: client.example.net
  protocol: lmtp
  local_addr: 192.0.2.1
  auth: plain
  user: me
  password_command: echo x
  from: me@example.com
  timeout: 1m30s
  resolver: 127.0.0.1:53
  allow_plaintext_auth: false
  pipelining: off
  chunking: on
  dkim_key: ~/dkim.pem
  dkim_selector: s1
  dkim_domain: example.com
`
	path := writeConfig(t, t.TempDir(), body, 0o644)
	f, err := LoadEnv(path, envMap(map[string]string{"HOME": "/home/me"}))
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{
		Server: str("smtp.example.com:587"), TLS: str("starttls"), Insecure: boolp(true),
		CAFile: str("/home/me/ca.pem"), TLSSNI: str("mail.example.com"), TLSMin: str("1.2"),
		ClientCert: str("/etc/cert.pem"), ClientKey: str("/etc/key.pem"),
		EHLO: str("client.example.net"), Protocol: str("lmtp"), LocalAddr: str("192.0.2.1"),
		Auth: str("PLAIN"), User: str("me"), PasswordCommand: str("echo x"),
		From: str("me@example.com"), Timeout: durp(90 * time.Second), Resolver: str("127.0.0.1:53"),
		AllowPlaintextAuth: boolp(false), Pipelining: str("off"), Chunking: str("on"),
		DKIMKey: str("/home/me/dkim.pem"), DKIMSelector: str("s1"), DKIMDomain: str("example.com"),
	}
	if !reflect.DeepEqual(f.Defaults, want) {
		t.Errorf("Defaults =\n%s\nwant\n%s", dump(f.Defaults), dump(want))
	}
}

// TestFieldTable checks that the key table covers every Settings field exactly once, so a
// field added to Settings cannot be silently ignored by parsing, Merge or the environment.
func TestFieldTable(t *testing.T) {
	typ := reflect.TypeOf(Settings{})
	if len(fields) != typ.NumField() {
		t.Fatalf("%d keys in the table for %d Settings fields", len(fields), typ.NumField())
	}
	covered := map[int]string{}
	for _, f := range fields {
		var s Settings
		if err := f.set(&s, sample(f), ""); err != nil {
			t.Fatalf("set %s: %v", f.key, err)
		}
		v := reflect.ValueOf(s)
		n := 0
		for i := range v.NumField() {
			if !v.Field(i).IsNil() {
				n++
				if prev, ok := covered[i]; ok {
					t.Errorf("keys %s and %s both set field %s", prev, f.key, typ.Field(i).Name)
				}
				covered[i] = f.key
			}
		}
		if n != 1 {
			t.Errorf("key %s sets %d fields, want 1", f.key, n)
		}
	}
}

func sample(f *field) string {
	switch f.kind {
	case kindBool:
		return "true"
	case kindDuration:
		return "1s"
	}
	if f.check != nil {
		for _, v := range []string{"auto", "esmtp", "1.2", "PLAIN", "VAR"} {
			if _, err := f.check(v); err == nil {
				return v
			}
		}
	}
	return "x"
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		line int
		want string
	}{
		{"unknown key in profile", "profiles:\n  work:\n    server: a\n    sever: b\n", 4,
			`unknown key "sever" in profile "work" (did you mean "server"?)`},
		{"unknown key in defaults", "defaults:\n  colour: red\n", 2, `unknown key "colour" in defaults`},
		{"unknown top-level key", "# c\nprofile:\n  a: {}\n", 2,
			`unknown key "profile" at top level (did you mean "profiles"?)`},
		{"inherit in defaults", "defaults:\n  inherit: work\n", 2, `unknown key "inherit" in defaults`},
		{"bad tls", "profiles:\n  w:\n    tls: startls\n", 3,
			`bad value "startls" for tls in profile "w": want one of auto, starttls, implicit, none, opportunistic`},
		{"bad protocol", "defaults:\n  protocol: http\n", 2, `bad value "http" for protocol in defaults`},
		{"bad pipelining", "defaults:\n  pipelining: maybe\n", 2, `want one of auto, on, off`},
		{"bad chunking", "defaults:\n  chunking: 2\n", 2, `bad value "2" for chunking`},
		{"bad tls_min", "defaults:\n  tls_min: 1.4\n", 2, `bad value "1.4" for tls_min in defaults: want one of 1.0, 1.1, 1.2, 1.3`},
		{"tls_min not normalized", "defaults:\n  tls_min: 1.20\n", 2, `bad value "1.20" for tls_min`},
		{"bad timeout", "defaults:\n  timeout: soon\n", 2, `bad value "soon" for timeout in defaults: want a duration`},
		{"timeout without unit", "defaults:\n  timeout: 30\n", 2, `want a duration with a unit`},
		{"negative timeout", "defaults:\n  timeout: -5s\n", 2, `want a positive duration`},
		{"zero timeout", "defaults:\n  timeout: 0s\n", 2, `want a positive duration`},
		{"bad bool", "defaults:\n  insecure: sometimes\n", 2, `bad value "sometimes" for insecure in defaults: want true or false`},
		{"bad auth", "defaults:\n  auth: not a mech\n", 2, `want auto or a SASL mechanism`},
		{"empty string", "defaults:\n  server: \"\"\n", 2, `bad value "" for server in defaults: must not be empty`},
		{"control character", "defaults:\n  ehlo: \"a\\r\\nMAIL FROM:<x>\"\n", 2, `must not contain control characters`},
		{"missing value", "defaults:\n  server:\n  tls: none\n", 2, `missing value for server in defaults`},
		{"list value", "defaults:\n  server: [a, b]\n", 2, `bad value for server in defaults: want a single value, not a list`},
		{"duplicate key", "defaults:\n  user: a\n  user: b\n", 3, `duplicate key "user" in defaults (first at line 2)`},
		{"helo and ehlo", "defaults:\n  helo: a\n  ehlo: b\n", 3, `helo and ehlo are the same setting in defaults`},
		{"duplicate profile", "profiles:\n  a: {}\n  a: {}\n", 3, `duplicate profile "a" (first at line 2)`},
		{"duplicate section", "defaults: {}\ndefaults: {}\n", 2, `duplicate key "defaults" at top level`},
		{"two password sources", "profiles:\n  w:\n    password_file: /p\n    password_command: pass\n", 4,
			`password_file and password_command are set in profile "w"; use only one password source`},
		{"secret not echoed", "defaults:\n  password: \"\"\n", 2, `bad value for password in defaults: must not be empty`},
		{"unknown parent", "profiles:\n  a:\n    inherit: nope\n", 3, `profile "a" inherits unknown profile "nope"`},
		{"self cycle", "profiles:\n  a:\n    inherit: a\n", 3, `inherit cycle: a -> a`},
		{"cycle", "profiles:\n  a:\n    inherit: b\n  b:\n    inherit: c\n  c:\n    inherit: a\n", 7,
			`inherit cycle: a -> b -> c -> a`},
		{"empty inherit", "profiles:\n  a:\n    inherit: \"\"\n", 3, `bad value "" for inherit in profile "a"`},
		{"top level list", "- a\n- b\n", 1, `top level must be a mapping`},
		{"top level scalar", "hello\n", 1, `top level must be a mapping`},
		{"profiles a list", "profiles:\n  - a\n", 2, `profiles must map profile names to settings, not a list`},
		{"profile a scalar", "profiles:\n  a: b\n", 2, `settings in profile "a" must be a mapping, not the value "b"`},
		{"complex key", "defaults:\n  ? [a]\n  : b\n", 2, `keys in defaults must be plain names, not a list`},
		{"merge key", "base: &b\n  user: x\n", 1, `unknown key "base" at top level`},
		{"merge key in profile", "profiles:\n  a: &a\n    user: x\n  b:\n    <<: *a\n", 5, `merge keys (<<) are not supported in profile "b"; use inherit`},
		{"yaml syntax", "defaults:\n  user: a\n  server: [\n", 3, `yaml: did not find expected node content`},
		{"tab indent", "defaults:\n\tuser: a\n", 2, `yaml: found character that cannot start any token`},
		{"two documents", "defaults: {}\n---\nprofiles: {}\n", 2, `holds more than one YAML document`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, path, err := load(t, tt.yaml)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", f)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not *Error", err, err)
			}
			if ce.Path != path || ce.Line != tt.line {
				t.Errorf("error at %s:%d, want %s:%d (%v)", ce.Path, ce.Line, path, tt.line, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if wantPrefix := "config " + path + ":"; !strings.HasPrefix(err.Error(), wantPrefix) {
				t.Errorf("error %q does not start with %q", err, wantPrefix)
			}
		})
	}
}

func TestUnknownKeyMessage(t *testing.T) {
	body := "defaults:\n  helo: a\nprofiles:\n  work:\n    server: smtp.example.com:587\n\n    sever: x\n"
	_, path, err := load(t, body)
	want := `config ` + path + `:7: unknown key "sever" in profile "work" (did you mean "server"?)`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

func TestLoadAccepts(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, f *File)
	}{
		{"empty file", "", func(t *testing.T, f *File) {
			if len(f.Profiles) != 0 || !reflect.DeepEqual(f.Defaults, Settings{}) {
				t.Errorf("not empty: %+v", f)
			}
		}},
		{"comments only", "# nothing yet\n", nil},
		{"null document", "~\n", nil},
		{"empty sections", "defaults:\nprofiles:\n", nil},
		{"empty profile", "profiles:\n  bare:\n", func(t *testing.T, f *File) {
			if _, ok := f.Profiles["bare"]; !ok {
				t.Error("profile bare missing")
			}
		}},
		{"helo alias", "defaults:\n  helo: a.example\n", func(t *testing.T, f *File) {
			if f.Defaults.EHLO == nil || *f.Defaults.EHLO != "a.example" {
				t.Errorf("EHLO = %v", f.Defaults.EHLO)
			}
		}},
		{"yaml 1.1 booleans and on/off", "defaults:\n  insecure: yes\n  pipelining: false\n  chunking: ON\n",
			func(t *testing.T, f *File) {
				if !*f.Defaults.Insecure || *f.Defaults.Pipelining != "off" || *f.Defaults.Chunking != "on" {
					t.Errorf("got %s", dump(f.Defaults))
				}
			}},
		{"numeric password kept verbatim", "defaults:\n  password: 0x10\n", func(t *testing.T, f *File) {
			if *f.Defaults.InlinePassword != "0x10" || !f.HasInlinePassword {
				t.Errorf("password = %q, inline %v", *f.Defaults.InlinePassword, f.HasInlinePassword)
			}
		}},
		{"anchors and aliases", "profiles:\n  a: &a\n    user: x\n  b: *a\n", func(t *testing.T, f *File) {
			if *f.Profiles["b"].User != "x" {
				t.Errorf("b = %s", dump(f.Profiles["b"]))
			}
		}},
		{"block scalar command", "defaults:\n  password_command: |\n    set -e\n    echo pw\n", func(t *testing.T, f *File) {
			if *f.Defaults.PasswordCommand != "set -e\necho pw\n" {
				t.Errorf("command = %q", *f.Defaults.PasswordCommand)
			}
		}},
		{"explicit document start", "---\ndefaults:\n  user: a\n...\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, err := load(t, tt.yaml)
			if err != nil {
				t.Fatal(err)
			}
			if f.Profiles == nil || f.Inherits == nil {
				t.Error("nil maps after Load")
			}
			if tt.check != nil {
				tt.check(t, f)
			}
		})
	}
}

func TestPasswordFileMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no permission bits on windows")
	}
	withPassword := "profiles:\n  w:\n    password: hunter2\n"
	withoutPassword := "profiles:\n  w:\n    password_command: pass show w\n"
	tests := []struct {
		name string
		body string
		mode fs.FileMode
		ok   bool
	}{
		{"password 0600", withPassword, 0o600, true},
		{"password 0400", withPassword, 0o400, true},
		{"password 0644", withPassword, 0o644, false},
		{"password 0640", withPassword, 0o640, false},
		{"password 0602", withPassword, 0o602, false},
		{"no password 0644", withoutPassword, 0o644, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, t.TempDir(), tt.body, tt.mode)
			_, err := LoadEnv(path, envMap(nil))
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *Error", err)
			}
			want := "config " + path + ": holds a password but has mode " + fmt.Sprintf("%04o", uint32(tt.mode)) +
				"; run chmod 600 " + path
			if err.Error() != want {
				t.Errorf("err = %q\nwant  %q", err, want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Error("error leaks the password")
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	dir := t.TempDir()

	t.Run("missing default file is empty", func(t *testing.T) {
		f, err := LoadEnv("", envMap(map[string]string{"XDG_CONFIG_HOME": dir}))
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(dir, "smtpkit", "config.yaml"); f.Path != want {
			t.Errorf("Path = %q, want %q", f.Path, want)
		}
		if len(f.Profiles) != 0 {
			t.Errorf("profiles: %v", f.ProfileNames())
		}
		if _, err := f.Resolve("", envMap(nil)); err != nil {
			t.Error(err)
		}
	})

	t.Run("no home at all", func(t *testing.T) {
		f, err := LoadEnv("", envMap(nil))
		if err != nil || f.Path != "" {
			t.Fatalf("f = %+v, err = %v", f, err)
		}
	})

	t.Run("missing explicit file", func(t *testing.T) {
		path := filepath.Join(dir, "nope.yaml")
		_, err := LoadEnv(path, envMap(nil))
		checkPathError(t, err, path)
	})

	t.Run("missing SMTPKIT_CONFIG file", func(t *testing.T) {
		path := filepath.Join(dir, "nope.yaml")
		_, err := LoadEnv("", envMap(map[string]string{EnvConfig: path, "XDG_CONFIG_HOME": dir}))
		checkPathError(t, err, path)
	})

	t.Run("explicit path is a directory", func(t *testing.T) {
		_, err := LoadEnv(dir, envMap(nil))
		var pe *fs.PathError
		if !errors.As(err, &pe) {
			t.Fatalf("err = %v, want *fs.PathError in chain", err)
		}
	})
}

func checkPathError(t *testing.T, err error, path string) {
	t.Helper()
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v (%T), want *fs.PathError in chain", err, err)
	}
	if pe.Path != path || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("PathError = %v", pe)
	}
	var ce *Error
	if errors.As(err, &ce) {
		t.Errorf("unreadable file reported as *Error (exit 78, not 66): %v", err)
	}
	if !strings.HasPrefix(err.Error(), "config: open ") {
		t.Errorf("err = %q", err)
	}
}

func TestLoadFindsFiles(t *testing.T) {
	dir := t.TempDir()
	xdg := filepath.Join(dir, "xdg")
	home := filepath.Join(dir, "home")
	for _, d := range []string{filepath.Join(xdg, "smtpkit"), filepath.Join(home, ".config", "smtpkit")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig(t, filepath.Join(xdg, "smtpkit"), "profiles:\n  fromxdg: {}\n", 0o600)
	writeConfig(t, filepath.Join(home, ".config", "smtpkit"), "profiles:\n  fromhome: {}\n", 0o600)
	other := writeConfig(t, dir, "profiles:\n  fromenv: {}\n", 0o600)

	tests := []struct {
		name string
		path string
		env  map[string]string
		want string
	}{
		{"xdg", "", map[string]string{"XDG_CONFIG_HOME": xdg, "HOME": home}, "fromxdg"},
		{"home", "", map[string]string{"HOME": home}, "fromhome"},
		{"relative xdg ignored", "", map[string]string{"XDG_CONFIG_HOME": "rel", "HOME": home}, "fromhome"},
		{"SMTPKIT_CONFIG", "", map[string]string{EnvConfig: other, "HOME": home}, "fromenv"},
		{"SMTPKIT_CONFIG with tilde", "", map[string]string{EnvConfig: "~/../config.yaml", "HOME": home}, "fromenv"},
		{"explicit beats SMTPKIT_CONFIG", other, map[string]string{EnvConfig: "/nonexistent"}, "fromenv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := LoadEnv(tt.path, envMap(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if got := f.ProfileNames(); len(got) != 1 || got[0] != tt.want {
				t.Errorf("profiles %v, want [%s]", got, tt.want)
			}
		})
	}
}

func TestDefaultPath(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_CONFIG_HOME": "/x", "HOME": "/h"}, "/x/smtpkit/config.yaml"},
		{map[string]string{"XDG_CONFIG_HOME": "", "HOME": "/h"}, "/h/.config/smtpkit/config.yaml"},
		{map[string]string{"HOME": "/h"}, "/h/.config/smtpkit/config.yaml"},
		{map[string]string{}, ""},
	}
	for _, tt := range tests {
		if got := DefaultPath(envMap(tt.env)); got != filepath.FromSlash(tt.want) {
			t.Errorf("DefaultPath(%v) = %q, want %q", tt.env, got, tt.want)
		}
	}
	if DefaultPath(nil) != "" {
		t.Error("DefaultPath(nil) != \"\"")
	}
}
