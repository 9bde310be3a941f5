package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// kind is the Go type behind a setting.
type kind int

const (
	kindString kind = iota
	kindBool
	kindDuration
)

// field describes one settings key: its YAML name, how its value is checked, and where it
// lives in Settings. The table below is the single list of keys; YAML parsing, the
// environment, Merge and clone all walk it.
type field struct {
	key     string // YAML key; the environment variable is SMTPKIT_ + upper-case key
	alias   string // second accepted YAML key and variable suffix ("helo"), or ""
	kind    kind
	check   func(string) (string, error) // validates and normalizes a string value, or nil
	path    bool                         // a file path: a leading "~/" is expanded
	raw     bool                         // may hold control characters
	secret  bool                         // never echoed in error messages
	noEnv   bool                         // not read from the environment
	str     func(*Settings) **string
	boolean func(*Settings) **bool
	dur     func(*Settings) **time.Duration
}

var fields = []*field{
	{key: "server", str: func(s *Settings) **string { return &s.Server }},
	{key: "tls", check: enum("auto", "starttls", "implicit", "none", "opportunistic"), str: func(s *Settings) **string { return &s.TLS }},
	{key: "insecure", kind: kindBool, boolean: func(s *Settings) **bool { return &s.Insecure }},
	{key: "ca_file", path: true, str: func(s *Settings) **string { return &s.CAFile }},
	{key: "tls_sni", str: func(s *Settings) **string { return &s.TLSSNI }},
	{key: "tls_min", check: enum("1.0", "1.1", "1.2", "1.3"), str: func(s *Settings) **string { return &s.TLSMin }},
	{key: "client_cert", path: true, str: func(s *Settings) **string { return &s.ClientCert }},
	{key: "client_key", path: true, str: func(s *Settings) **string { return &s.ClientKey }},
	{key: "ehlo", alias: "helo", str: func(s *Settings) **string { return &s.EHLO }},
	{key: "protocol", check: enum("esmtp", "smtp", "lmtp"), str: func(s *Settings) **string { return &s.Protocol }},
	{key: "local_addr", str: func(s *Settings) **string { return &s.LocalAddr }},
	{key: "auth", check: checkAuth, str: func(s *Settings) **string { return &s.Auth }},
	{key: "user", str: func(s *Settings) **string { return &s.User }},
	// No SMTPKIT_PASSWORD: see FromEnv.
	{key: "password", raw: true, secret: true, noEnv: true, str: func(s *Settings) **string { return &s.InlinePassword }},
	{key: "password_file", path: true, str: func(s *Settings) **string { return &s.PasswordFile }},
	{key: "password_env", check: checkEnvName, str: func(s *Settings) **string { return &s.PasswordEnv }},
	{key: "password_command", raw: true, str: func(s *Settings) **string { return &s.PasswordCommand }},
	{key: "from", str: func(s *Settings) **string { return &s.From }},
	{key: "timeout", kind: kindDuration, dur: func(s *Settings) **time.Duration { return &s.Timeout }},
	{key: "resolver", str: func(s *Settings) **string { return &s.Resolver }},
	{key: "allow_plaintext_auth", kind: kindBool, boolean: func(s *Settings) **bool { return &s.AllowPlaintextAuth }},
	{key: "pipelining", check: onOff, str: func(s *Settings) **string { return &s.Pipelining }},
	{key: "chunking", check: onOff, str: func(s *Settings) **string { return &s.Chunking }},
	{key: "dkim_key", path: true, str: func(s *Settings) **string { return &s.DKIMKey }},
	{key: "dkim_selector", str: func(s *Settings) **string { return &s.DKIMSelector }},
	{key: "dkim_domain", str: func(s *Settings) **string { return &s.DKIMDomain }},
}

// group is a set of keys that Merge replaces together and that one layer may not mix.
type group []*field

var (
	passwordGroup = group{fieldByKey("password"), fieldByKey("password_file"),
		fieldByKey("password_env"), fieldByKey("password_command")}
	clientCertGroup = group{fieldByKey("client_cert"), fieldByKey("client_key")}
	groups          = []group{passwordGroup, clientCertGroup}
)

// fieldByKey returns the field named key (or its alias), or nil.
func fieldByKey(key string) *field {
	for _, f := range fields {
		if f.key == key || (f.alias != "" && f.alias == key) {
			return f
		}
	}
	return nil
}

func (g group) anySet(s *Settings) bool {
	for _, f := range g {
		if f.isSet(s) {
			return true
		}
	}
	return false
}

func (f *field) isSet(s *Settings) bool {
	switch f.kind {
	case kindBool:
		return *f.boolean(s) != nil
	case kindDuration:
		return *f.dur(s) != nil
	default:
		return *f.str(s) != nil
	}
}

func (f *field) clear(s *Settings) {
	switch f.kind {
	case kindBool:
		*f.boolean(s) = nil
	case kindDuration:
		*f.dur(s) = nil
	default:
		*f.str(s) = nil
	}
}

// copy sets dst's field to a fresh copy of src's when src's is set.
func (f *field) copy(dst, src *Settings) {
	switch f.kind {
	case kindBool:
		if p := *f.boolean(src); p != nil {
			v := *p
			*f.boolean(dst) = &v
		}
	case kindDuration:
		if p := *f.dur(src); p != nil {
			v := *p
			*f.dur(dst) = &v
		}
	default:
		if p := *f.str(src); p != nil {
			v := *p
			*f.str(dst) = &v
		}
	}
}

// set parses raw and stores it in s. home expands "~/" in paths. The error says what was
// wanted, without the key or the value; the caller adds those.
func (f *field) set(s *Settings, raw, home string) error {
	switch f.kind {
	case kindBool:
		b, err := parseBool(raw)
		if err != nil {
			return err
		}
		*f.boolean(s) = &b
	case kindDuration:
		d, err := parseDuration(raw)
		if err != nil {
			return err
		}
		*f.dur(s) = &d
	default:
		if raw == "" {
			return errors.New("must not be empty")
		}
		if !f.raw && hasControl(raw) {
			return errors.New("must not contain control characters")
		}
		v := raw
		if f.check != nil {
			var err error
			if v, err = f.check(raw); err != nil {
				return err
			}
		}
		if f.path {
			v = expandHome(v, home)
		}
		*f.str(s) = &v
	}
	return nil
}

// valueError formats a bad value for key (as named in the source) found in where
// ("in profile \"work\"", "in defaults", or "" for the environment).
func (f *field) valueError(key, raw, where string, err error) string {
	val := ""
	if !f.secret {
		val = fmt.Sprintf(" %q", raw)
	}
	if where != "" {
		where = " " + where
	}
	return fmt.Sprintf("bad value%s for %s%s: %v", val, key, where, err)
}

func envName(key string) string { return "SMTPKIT_" + strings.ToUpper(key) }

// EnvVar is one SMTPKIT_* variable that sets a config key (see [FromEnv]).
type EnvVar struct {
	Name  string // SMTPKIT_SERVER
	Key   string // the config key it sets: server
	Alias string // a second accepted name (SMTPKIT_HELO for SMTPKIT_EHLO), or ""
}

// EnvVars lists the SMTPKIT_* variables [FromEnv] reads, in the order of the config keys, for
// documentation (the man pages) and for tests that check it.
func EnvVars() []EnvVar {
	var vs []EnvVar
	for _, f := range fields {
		if f.noEnv {
			continue
		}
		v := EnvVar{Name: envName(f.key), Key: f.key}
		if f.alias != "" {
			v.Alias = envName(f.alias)
		}
		vs = append(vs, v)
	}
	return vs
}

// FromEnv returns the settings given by SMTPKIT_<KEY> variables, one per key of the config
// file in upper case (SMTPKIT_SERVER, SMTPKIT_TLS, SMTPKIT_PASSWORD_FILE, SMTPKIT_TIMEOUT,
// ...; SMTPKIT_HELO is accepted for SMTPKIT_EHLO, which wins when both are set). An empty
// variable counts as unset. lookup may be nil.
//
// There is deliberately no SMTPKIT_PASSWORD: a variable that every smtpkit run reads on its
// own would leak into every child process (password_command included) and into shell
// history and CI logs, so secrets come from named sources only. Set
// SMTPKIT_PASSWORD_ENV to the name of the variable holding the password instead.
//
// It returns an *Error when a value is invalid, when SMTPKIT_PASSWORD is set, or when more
// than one password source is set.
func FromEnv(lookup func(string) (string, bool)) (Settings, error) {
	var s Settings
	if lookup == nil {
		return s, nil
	}
	if v, ok := lookup("SMTPKIT_PASSWORD"); ok && v != "" {
		return Settings{}, &Error{Msg: "SMTPKIT_PASSWORD is not supported; set SMTPKIT_PASSWORD_ENV " +
			"to the name of the variable holding the password, or use SMTPKIT_PASSWORD_FILE"}
	}
	home, _ := lookup("HOME")
	for _, f := range fields {
		if f.noEnv {
			continue
		}
		name := envName(f.key)
		v, ok := lookup(name)
		if (!ok || v == "") && f.alias != "" {
			name = envName(f.alias)
			v, ok = lookup(name)
		}
		if !ok || v == "" {
			continue
		}
		if err := f.set(&s, v, home); err != nil {
			return Settings{}, &Error{Msg: f.valueError(name, v, "", err)}
		}
	}
	var set []string
	for _, f := range passwordGroup {
		if f.isSet(&s) {
			set = append(set, envName(f.key))
		}
	}
	if len(set) > 1 {
		return Settings{}, &Error{Msg: joinAnd(set) + " are set; use only one password source"}
	}
	return s, nil
}

func enum(values ...string) func(string) (string, error) {
	return func(v string) (string, error) {
		lv := strings.ToLower(v)
		for _, ok := range values {
			if lv == ok {
				return ok, nil
			}
		}
		return "", fmt.Errorf("want one of %s", strings.Join(values, ", "))
	}
}

// onOff accepts auto, on, off, and true/false/yes/no for on/off.
func onOff(v string) (string, error) {
	switch strings.ToLower(v) {
	case "auto":
		return "auto", nil
	case "on", "true", "yes":
		return "on", nil
	case "off", "false", "no":
		return "off", nil
	}
	return "", errors.New("want one of auto, on, off")
}

// checkAuth accepts "auto" or a SASL mechanism name, upper-cased.
// RFC 4422 3.1: a mechanism name is 1 to 20 characters from A-Z, 0-9, "-" and "_".
func checkAuth(v string) (string, error) {
	if strings.EqualFold(v, "auto") {
		return "auto", nil
	}
	up := strings.ToUpper(v)
	ok := len(up) >= 1 && len(up) <= 20
	for _, c := range up {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			ok = false
		}
	}
	if !ok {
		return "", errors.New("want auto or a SASL mechanism name such as PLAIN")
	}
	return up, nil
}

// checkEnvName accepts a plausible environment variable name.
func checkEnvName(v string) (string, error) {
	if strings.ContainsAny(v, "= \t") {
		return "", errors.New("want the name of an environment variable")
	}
	return v, nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, errors.New("want true or false")
}

func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		if _, nerr := strconv.ParseFloat(v, 64); nerr == nil {
			return 0, errors.New("want a duration with a unit, such as 30s or 2m")
		}
		return 0, errors.New("want a duration such as 30s or 2m")
	}
	if d <= 0 {
		return 0, errors.New("want a positive duration")
	}
	return d, nil
}

func hasControl(s string) bool {
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// expandHome replaces a leading "~" or "~/" with home; other paths, and every path when home
// is "", come back unchanged.
func expandHome(p, home string) string {
	if home == "" {
		return p
	}
	if p == "~" {
		return home
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(home, p[2:])
	}
	return p
}
