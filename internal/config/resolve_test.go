package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const layered = `defaults:
  helo: defaults.example
  timeout: 30s
  tls: opportunistic
  user: default-user
profiles:
  base:
    server: base.example:587
    tls: starttls
    user: base-user
    password_command: pass show base
    client_cert: /base/cert.pem
    client_key: /base/key.pem
  mid:
    inherit: base
    server: mid.example:465
    tls: implicit
  leaf:
    inherit: mid
    password_file: /leaf/pw
    client_cert: /leaf/both.pem
  solo:
    from: solo@example.com
`

func TestResolve(t *testing.T) {
	f, _, err := load(t, layered)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		profile string
		env     map[string]string
		want    Settings
	}{
		{"defaults only", "", nil, Settings{
			EHLO: str("defaults.example"), Timeout: durp(30 * time.Second), TLS: str("opportunistic"),
			User: str("default-user"),
		}},
		{"profile over defaults", "base", nil, Settings{
			EHLO: str("defaults.example"), Timeout: durp(30 * time.Second), TLS: str("starttls"),
			User: str("base-user"), Server: str("base.example:587"), PasswordCommand: str("pass show base"),
			ClientCert: str("/base/cert.pem"), ClientKey: str("/base/key.pem"),
		}},
		{"child over parent", "mid", nil, Settings{
			EHLO: str("defaults.example"), Timeout: durp(30 * time.Second), TLS: str("implicit"),
			User: str("base-user"), Server: str("mid.example:465"), PasswordCommand: str("pass show base"),
			ClientCert: str("/base/cert.pem"), ClientKey: str("/base/key.pem"),
		}},
		// leaf's password_file replaces base's password_command, and its client_cert drops
		// base's client_key rather than pairing with it.
		{"grandchild, groups replaced whole", "leaf", nil, Settings{
			EHLO: str("defaults.example"), Timeout: durp(30 * time.Second), TLS: str("implicit"),
			User: str("base-user"), Server: str("mid.example:465"), PasswordFile: str("/leaf/pw"),
			ClientCert: str("/leaf/both.pem"),
		}},
		{"env over profile over defaults", "mid", map[string]string{
			"SMTPKIT_SERVER": "env.example:25", "SMTPKIT_TIMEOUT": "5s", "SMTPKIT_TLS": "NONE",
			"SMTPKIT_PASSWORD_ENV": "MY_PW", "SMTPKIT_INSECURE": "1", "SMTPKIT_FROM": "",
		}, Settings{
			EHLO: str("defaults.example"), Timeout: durp(5 * time.Second), TLS: str("none"),
			User: str("base-user"), Server: str("env.example:25"), PasswordEnv: str("MY_PW"),
			ClientCert: str("/base/cert.pem"), ClientKey: str("/base/key.pem"), Insecure: boolp(true),
		}},
		{"SMTPKIT_PROFILE selects", "", map[string]string{EnvProfile: "solo"}, Settings{
			EHLO: str("defaults.example"), Timeout: durp(30 * time.Second), TLS: str("opportunistic"),
			User: str("default-user"), From: str("solo@example.com"),
		}},
		{"argument beats SMTPKIT_PROFILE", "solo", map[string]string{EnvProfile: "nope"}, Settings{
			EHLO: str("defaults.example"), Timeout: durp(30 * time.Second), TLS: str("opportunistic"),
			User: str("default-user"), From: str("solo@example.com"),
		}},
		{"SMTPKIT_HELO alias", "", map[string]string{"SMTPKIT_HELO": "env.example"}, Settings{
			EHLO: str("env.example"), Timeout: durp(30 * time.Second), TLS: str("opportunistic"),
			User: str("default-user"),
		}},
		{"SMTPKIT_EHLO beats SMTPKIT_HELO", "", map[string]string{"SMTPKIT_HELO": "h", "SMTPKIT_EHLO": "e"}, Settings{
			EHLO: str("e"), Timeout: durp(30 * time.Second), TLS: str("opportunistic"), User: str("default-user"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.Resolve(tt.profile, envMap(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", dump(got), dump(tt.want))
			}
		})
	}
	// Resolve must not alias the File's values.
	s, _ := f.Resolve("base", nil)
	*s.Server = "changed"
	if *f.Profiles["base"].Server != "base.example:587" {
		t.Error("Resolve result shares pointers with the File")
	}
}

func TestResolveErrors(t *testing.T) {
	f, path, err := load(t, layered)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		profile string
		env     map[string]string
		want    string
	}{
		{"unknown profile", "nope", nil,
			`config ` + path + `: unknown profile "nope" (have: base, leaf, mid, solo)`},
		{"unknown profile from env", "", map[string]string{EnvProfile: "nope"},
			`config ` + path + `: unknown profile "nope" (from SMTPKIT_PROFILE) (have: base, leaf, mid, solo)`},
		{"bad env enum", "base", map[string]string{"SMTPKIT_TLS": "sometimes"},
			`config: bad value "sometimes" for SMTPKIT_TLS: want one of auto, starttls, implicit, none, opportunistic`},
		{"bad env duration", "", map[string]string{"SMTPKIT_TIMEOUT": "-1s"},
			`config: bad value "-1s" for SMTPKIT_TIMEOUT: want a positive duration`},
		{"bad env bool", "", map[string]string{"SMTPKIT_ALLOW_PLAINTEXT_AUTH": "perhaps"},
			`config: bad value "perhaps" for SMTPKIT_ALLOW_PLAINTEXT_AUTH: want true or false`},
		{"SMTPKIT_PASSWORD refused", "", map[string]string{"SMTPKIT_PASSWORD": "hunter2"},
			`config: SMTPKIT_PASSWORD is not supported`},
		{"two env password sources", "", map[string]string{"SMTPKIT_PASSWORD_FILE": "/p", "SMTPKIT_PASSWORD_COMMAND": "x"},
			`config: SMTPKIT_PASSWORD_FILE and SMTPKIT_PASSWORD_COMMAND are set; use only one password source`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.Resolve(tt.profile, envMap(tt.env))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %q\nwant %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Error("error leaks a password")
			}
		})
	}
}

func TestResolveNoProfiles(t *testing.T) {
	f, path, err := load(t, "defaults:\n  user: a\n")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Resolve("work", nil)
	if want := `config ` + path + `: unknown profile "work" (no profiles defined)`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
	var nilFile *File
	if s, err := nilFile.Resolve("", envMap(map[string]string{"SMTPKIT_USER": "u"})); err != nil || *s.User != "u" {
		t.Errorf("nil File: %v %v", dump(s), err)
	}
	if nilFile.ProfileNames() != nil {
		t.Error("nil File has profiles")
	}
}

// TestResolveHandBuiltCycle checks that Resolve copes with a File built by hand, which Load
// never validated.
func TestResolveHandBuiltCycle(t *testing.T) {
	f := &File{
		Path:     "/x.yaml",
		Profiles: map[string]Settings{"a": {}, "b": {}},
		Inherits: map[string]string{"a": "b", "b": "a"},
	}
	_, err := f.Resolve("a", nil)
	if err == nil || !strings.Contains(err.Error(), "inherit cycle: a -> b -> a") {
		t.Errorf("err = %v", err)
	}
	f.Inherits = map[string]string{"a": "ghost"}
	_, err = f.Resolve("a", nil)
	if err == nil || !strings.Contains(err.Error(), `profile "a" inherits unknown profile "ghost"`) {
		t.Errorf("err = %v", err)
	}
}

func TestMerge(t *testing.T) {
	base := Settings{
		Server: str("a"), User: str("u"), Insecure: boolp(true), Timeout: durp(time.Second),
		InlinePassword: str("pw"), ClientCert: str("c"), ClientKey: str("k"),
	}
	tests := []struct {
		name string
		over Settings
		want Settings
	}{
		{"empty over", Settings{}, base},
		{"scalar fields win", Settings{Server: str("b"), Insecure: boolp(false), Timeout: durp(time.Minute)},
			Settings{Server: str("b"), User: str("u"), Insecure: boolp(false), Timeout: durp(time.Minute),
				InlinePassword: str("pw"), ClientCert: str("c"), ClientKey: str("k")}},
		{"password source replaced", Settings{PasswordCommand: str("cmd")},
			Settings{Server: str("a"), User: str("u"), Insecure: boolp(true), Timeout: durp(time.Second),
				PasswordCommand: str("cmd"), ClientCert: str("c"), ClientKey: str("k")}},
		{"client key alone replaces the pair", Settings{ClientKey: str("k2")},
			Settings{Server: str("a"), User: str("u"), Insecure: boolp(true), Timeout: durp(time.Second),
				InlinePassword: str("pw"), ClientKey: str("k2")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := base.Merge(tt.over)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", dump(got), dump(tt.want))
			}
			if got.Server == base.Server || (tt.over.Server != nil && got.Server == tt.over.Server) {
				t.Error("Merge result shares a pointer with its inputs")
			}
		})
	}
	if *base.InlinePassword != "pw" || base.ClientCert == nil {
		t.Error("Merge modified its receiver")
	}
}

func TestFromEnvTilde(t *testing.T) {
	s, err := FromEnv(envMap(map[string]string{"HOME": "/home/me", "SMTPKIT_CA_FILE": "~/ca.pem",
		"SMTPKIT_PASSWORD_FILE": "~/pw", "SMTPKIT_SERVER": "~/not-a-path"}))
	if err != nil {
		t.Fatal(err)
	}
	if *s.CAFile != "/home/me/ca.pem" || *s.PasswordFile != "/home/me/pw" || *s.Server != "~/not-a-path" {
		t.Errorf("got %s", dump(s))
	}
	if s, err := FromEnv(nil); err != nil || !reflect.DeepEqual(s, Settings{}) {
		t.Errorf("FromEnv(nil) = %s, %v", dump(s), err)
	}
}

// TestEveryKeyFromEnv checks that each key but password has its SMTPKIT_ variable.
func TestEveryKeyFromEnv(t *testing.T) {
	for _, f := range fields {
		name := envName(f.key)
		s, err := FromEnv(envMap(map[string]string{name: sample(f)}))
		if f.noEnv {
			// SMTPKIT_PASSWORD is refused loudly rather than ignored.
			if err == nil || f.isSet(&s) {
				t.Errorf("%s: accepted from the environment", name)
			}
			continue
		}
		if err != nil || !f.isSet(&s) {
			t.Errorf("%s: not read (%v)", name, err)
		}
	}
}
