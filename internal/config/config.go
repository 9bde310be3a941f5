// Package config reads smtpkit's YAML configuration file and resolves the settings of one
// profile from it, layered under the SMTPKIT_* environment variables.
//
// The file lives at $XDG_CONFIG_HOME/smtpkit/config.yaml (or $HOME/.config/smtpkit/config.yaml,
// or wherever --config or SMTPKIT_CONFIG says) and looks like this:
//
//	defaults:
//	  helo: client.example.net
//	  timeout: 30s
//	profiles:
//	  work:
//	    server: smtp.example.com:587
//	    tls: starttls
//	    user: me@example.com
//	    password_command: pass show mail/work
//	  backup:
//	    inherit: work
//	    server: smtp2.example.com:465
//	    tls: implicit
//
// Precedence, highest first: command-line flags (merged by the caller), SMTPKIT_* variables,
// the profile (after inheritance), defaults, then the caller's built-in values. Every setting
// in [Settings] is a pointer so that "not set" stays distinguishable from a zero value at every
// layer.
//
// Errors about the file's content, values and profiles are [*Error] (the CLI exits 78,
// EX_CONFIG). A config file that cannot be read is reported with its *fs.PathError in the
// chain and no *Error, so the CLI can exit 66 (EX_NOINPUT) for a missing --config file.
//
// This package is the only one in smtpkit that imports a YAML library.
package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Environment variables that choose the file and the profile rather than a setting.
const (
	// EnvConfig names the config file, like --config; a missing file is then an error.
	EnvConfig = "SMTPKIT_CONFIG"
	// EnvProfile names the profile to use when the caller passes none (no -p flag).
	EnvProfile = "SMTPKIT_PROFILE"
)

// maxFileSize bounds what Load reads: a config file is a few hundred bytes, and anything near
// this size is a wrong path, not a config.
const maxFileSize = 1 << 20

// Settings is one layer of configuration: the defaults section, a profile, the environment,
// flags, or the merge of several. A nil field means "not set in this layer".
//
// The password key is held in InlinePassword, since [Settings.Password] is the method that
// fetches the password from whichever source is set.
//
// String values are validated when they are read: enumerations are lower-cased (tls, protocol,
// pipelining, chunking), auth is "auto" or an upper-cased SASL mechanism name, a leading "~/"
// in a path (ca_file, client_cert, client_key, password_file, dkim_key) is expanded with
// $HOME, and no value except password and password_command may hold control characters.
type Settings struct {
	Server             *string        // server: host[:port] of the submission server
	TLS                *string        // tls: auto | starttls | implicit | none | opportunistic
	Insecure           *bool          // insecure: skip certificate verification
	CAFile             *string        // ca_file: PEM bundle of trusted roots
	TLSSNI             *string        // tls_sni: server name sent and verified
	TLSMin             *string        // tls_min: 1.0 | 1.1 | 1.2 | 1.3
	ClientCert         *string        // client_cert: PEM certificate for TLS client auth
	ClientKey          *string        // client_key: PEM key for client_cert
	EHLO               *string        // ehlo (alias helo): name sent in EHLO/HELO/LHLO
	Protocol           *string        // protocol: esmtp | smtp | lmtp
	LocalAddr          *string        // local_addr: local address to bind before dialing
	Auth               *string        // auth: "auto" or a SASL mechanism (PLAIN, LOGIN, ...)
	User               *string        // user: authentication identity
	InlinePassword     *string        // password: inline secret (file must be mode 0600)
	PasswordFile       *string        // password_file: first line is the password
	PasswordEnv        *string        // password_env: name of a variable holding the password
	PasswordCommand    *string        // password_command: run with sh -c, first stdout line
	From               *string        // from: envelope sender / From address
	Timeout            *time.Duration // timeout: positive Go duration (30s, 2m)
	Resolver           *string        // resolver: DNS server host:port
	AllowPlaintextAuth *bool          // allow_plaintext_auth: AUTH without TLS
	Pipelining         *string        // pipelining: auto | on | off
	Chunking           *string        // chunking: auto | on | off
	DKIMKey            *string        // dkim_key: PEM private key for DKIM signing
	DKIMSelector       *string        // dkim_selector
	DKIMDomain         *string        // dkim_domain
}

// File is a parsed config file. Profiles hold each profile exactly as written (before
// inheritance); use [File.Resolve] for the effective settings.
type File struct {
	// Path is the file that was read, or the default path that did not exist; "" when no
	// default location is known (neither XDG_CONFIG_HOME nor HOME set).
	Path string
	// Defaults is the defaults section.
	Defaults Settings
	// Profiles maps a profile name to its own settings, without inheritance. Never nil
	// after Load.
	Profiles map[string]Settings
	// Inherits maps a profile name to the profile named by its inherit key.
	Inherits map[string]string
	// HasInlinePassword reports whether any section sets password.
	HasInlinePassword bool

	// inheritLine is the line of each profile's inherit key, for error messages.
	inheritLine map[string]int
}

// Error is a configuration problem: bad YAML, an unknown key, a bad value, an unknown
// profile, an inheritance cycle, unsafe file permissions, a bad SMTPKIT_* value, or a password
// source that yields nothing. The CLI maps it to exit code 78 (EX_CONFIG).
type Error struct {
	Path string // config file, or "" when the problem is not in a file (environment)
	Line int    // 1-based line in Path, or 0 when unknown
	Msg  string // what is wrong, lowercase
	Err  error  // underlying cause, or nil
}

// Error formats as "config PATH:LINE: MSG[: ERR]", leaving out what is unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if e.Path != "" {
		b.WriteString(" ")
		b.WriteString(e.Path)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// DefaultPath returns the default config file location: $XDG_CONFIG_HOME/smtpkit/config.yaml
// when XDG_CONFIG_HOME is set to an absolute path (the XDG spec says to ignore a relative
// one), else $HOME/.config/smtpkit/config.yaml, else "". It does not look at SMTPKIT_CONFIG
// and does not touch the file system.
func DefaultPath(lookup func(string) (string, bool)) string {
	if lookup == nil {
		return ""
	}
	if xdg, ok := lookup("XDG_CONFIG_HOME"); ok && filepath.IsAbs(xdg) {
		return filepath.Join(xdg, "smtpkit", "config.yaml")
	}
	if home, ok := lookup("HOME"); ok && home != "" {
		return filepath.Join(home, ".config", "smtpkit", "config.yaml")
	}
	return ""
}

// Load reads the config file at path, using the process environment; it is
// LoadEnv(path, os.LookupEnv). See [LoadEnv] for the contract.
func Load(path string) (*File, error) {
	return LoadEnv(path, os.LookupEnv)
}

// LoadEnv reads and validates a config file. An explicit path (or, when path is "", the
// SMTPKIT_CONFIG variable) must exist; with neither, the file at [DefaultPath] is read if it
// exists and an empty config is returned if it does not. lookup supplies the environment
// (SMTPKIT_CONFIG, XDG_CONFIG_HOME, HOME) and may be nil.
//
// It returns an error wrapping *fs.PathError (and no *Error) when the file cannot be opened
// or read, and an *Error for invalid YAML, unknown keys, bad values, unknown inherit parents,
// inheritance cycles, or a file that holds an inline password while readable or writable by
// group or others.
func LoadEnv(path string, lookup func(string) (string, bool)) (*File, error) {
	if lookup == nil {
		lookup = noEnv
	}
	home, _ := lookup("HOME")
	explicit := path != ""
	if !explicit {
		if v, ok := lookup(EnvConfig); ok && v != "" {
			path, explicit = expandHome(v, home), true
		}
	}
	if !explicit {
		path = DefaultPath(lookup)
		if path == "" {
			return emptyFile(""), nil
		}
	}
	fh, err := os.Open(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return emptyFile(path), nil
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("file is larger than %d bytes", maxFileSize)}
	}
	f, err := parse(path, data, home)
	if err != nil {
		return nil, err
	}
	// Windows has no group/other permission bits to check.
	if perm := fi.Mode().Perm(); f.HasInlinePassword && runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, &Error{Path: path, Msg: fmt.Sprintf(
			"holds a password but has mode %04o; run chmod 600 %s", perm, path)}
	}
	return f, nil
}

func emptyFile(path string) *File {
	return &File{Path: path, Profiles: map[string]Settings{}, Inherits: map[string]string{}}
}

func noEnv(string) (string, bool) { return "", false }

// ProfileNames returns the profile names in sorted order (for shell completion and for
// "unknown profile" messages). A nil File has none.
func (f *File) ProfileNames() []string {
	if f == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(f.Profiles))
}

// Resolve returns the effective settings for profile: defaults, overridden by the profile's
// inheritance chain (the furthest ancestor first), overridden by SMTPKIT_* variables from
// lookup (see [FromEnv]). When profile is "", SMTPKIT_PROFILE selects one; when that is unset
// too, only defaults and the environment apply. A nil File is an empty config. Flags are the
// caller's to Merge on top.
//
// It returns an *Error for an unknown profile (listing the known ones), an inheritance cycle
// or unknown parent, or an invalid SMTPKIT_* value.
func (f *File) Resolve(profile string, lookup func(string) (string, bool)) (Settings, error) {
	if f == nil {
		f = emptyFile("")
	}
	if lookup == nil {
		lookup = noEnv
	}
	fromEnv := false
	if profile == "" {
		if v, ok := lookup(EnvProfile); ok && v != "" {
			profile, fromEnv = v, true
		}
	}
	out := f.Defaults.clone()
	if profile != "" {
		if _, ok := f.Profiles[profile]; !ok {
			return Settings{}, f.unknownProfile(profile, fromEnv)
		}
		chain, err := f.chain(profile)
		if err != nil {
			return Settings{}, err
		}
		for i := len(chain) - 1; i >= 0; i-- {
			out = out.Merge(f.Profiles[chain[i]])
		}
	}
	env, err := FromEnv(lookup)
	if err != nil {
		return Settings{}, err
	}
	return out.Merge(env), nil
}

func (f *File) unknownProfile(name string, fromEnv bool) error {
	msg := fmt.Sprintf("unknown profile %q", name)
	if fromEnv {
		msg += " (from " + EnvProfile + ")"
	}
	if names := f.ProfileNames(); len(names) > 0 {
		msg += " (have: " + strings.Join(names, ", ") + ")"
	} else {
		msg += " (no profiles defined)"
	}
	return &Error{Path: f.Path, Msg: msg}
}

// chain returns name followed by its ancestors, nearest first. It returns an *Error for an
// unknown parent or a cycle.
func (f *File) chain(name string) ([]string, error) {
	chain := []string{name}
	seen := map[string]bool{name: true}
	for cur := name; ; {
		parent, ok := f.Inherits[cur]
		if !ok || parent == "" {
			return chain, nil
		}
		line := f.inheritLine[cur]
		if _, ok := f.Profiles[parent]; !ok {
			return nil, &Error{Path: f.Path, Line: line,
				Msg: fmt.Sprintf("profile %q inherits unknown profile %q", cur, parent)}
		}
		if seen[parent] {
			return nil, &Error{Path: f.Path, Line: line,
				Msg: fmt.Sprintf("inherit cycle: %s -> %s", strings.Join(chain, " -> "), parent)}
		}
		seen[parent] = true
		chain = append(chain, parent)
		cur = parent
	}
}

// Merge returns s overridden by every field set in over; s and over are not modified and the
// result shares no pointers with either.
//
// Two groups are replaced as a whole: the password sources (password, password_file,
// password_env, password_command), so that a higher layer naming another source never leaves
// a lower layer's source in effect beside it; and the TLS client identity (client_cert,
// client_key), so that a certificate never pairs with another layer's key.
func (s Settings) Merge(over Settings) Settings {
	out := s.clone()
	for _, g := range groups {
		if !g.anySet(&over) {
			continue
		}
		for _, f := range g {
			f.clear(&out)
		}
	}
	for _, f := range fields {
		f.copy(&out, &over)
	}
	return out
}

// clone returns a copy of s with fresh pointers.
func (s Settings) clone() Settings {
	var out Settings
	for _, f := range fields {
		f.copy(&out, &s)
	}
	return out
}
