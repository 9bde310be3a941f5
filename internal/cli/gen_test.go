package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/smtpkit/smtpkit/internal/config"
)

// testEnv is an Env whose variables are vars only.
func testEnv(vars map[string]string) (*Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return &Env{
		Stdin:     strings.NewReader(""),
		Stdout:    &out,
		Stderr:    &errOut,
		LookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		Now:       func() time.Time { return time.Date(2026, 12, 2, 11, 0, 0, 0, time.UTC) },
		Hostname:  func() (string, error) { return "host.example", nil },
	}, &out, &errOut
}

func genPages(t *testing.T, vars map[string]string) map[string]string {
	t.Helper()
	env, _, _ := testEnv(vars)
	date, _ := time.Parse(time.DateOnly, docsDate)
	pages, err := manPages(docsRoot(&globals{env: env}), date)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, p := range pages {
		m[p.name] = string(p.text)
	}
	return m
}

// documentedCommands walks the tree the way manPages does.
func documentedCommands(root *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c != root && !hiddenWithPage[c.CommandPath()] && (!c.IsAvailableCommand() || c.IsAdditionalHelpTopicCommand()) {
			return
		}
		out = append(out, c)
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	return out
}

func TestManPages(t *testing.T) {
	pages := genPages(t, nil)
	env, _, _ := testEnv(nil)
	root := docsRoot(&globals{env: env})
	cmds := documentedCommands(root)
	if len(pages) != len(cmds) {
		t.Errorf("%d pages for %d commands", len(pages), len(cmds))
	}
	for _, want := range []string{"smtpkit.1", "smtpkit-send.1", "smtpkit-relay-flush.1", "smtpkit-sendmail.1", "smtpkit-version.1"} {
		if _, ok := pages[want]; !ok {
			t.Errorf("no page %s", want)
		}
	}
	if _, ok := pages["smtpkit-gen.1"]; ok {
		t.Error("the hidden gen command has a page")
	}
	for _, c := range cmds {
		name := manName(c) + ".1"
		page, ok := pages[name]
		if !ok {
			t.Errorf("%s: no page %s", c.CommandPath(), name)
			continue
		}
		var at []int
		for _, sec := range []string{".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH EXIT STATUS", ".SH ENVIRONMENT", ".SH EXAMPLES", ".SH SEE ALSO"} {
			i := strings.Index(page, "\n"+sec+"\n")
			if i < 0 {
				t.Errorf("%s: no %s section (give the command an Example)", name, sec)
			}
			at = append(at, i)
		}
		if !slices.IsSorted(at) {
			t.Errorf("%s: sections out of order: %v", name, at)
		}
		for i := 0; i < len(page); i++ {
			if page[i] >= 0x80 {
				t.Errorf("%s: non-ASCII byte at %d (want a roff escape)", name, i)
				break
			}
		}
		if strings.Contains(page, descPlaceholder) || strings.Contains(page, ".SH HISTORY") {
			t.Errorf("%s: placeholder or HISTORY left in", name)
		}
		if !strings.Contains(page, `"Dec 2026" "smtpkit" "smtpkit manual"`) {
			t.Errorf("%s: header without the fixed date: %.120q", name, page)
		}
		if c.DisableFlagParsing {
			continue
		}
		// Every flag a user can give is documented.
		check := func(f *pflag.Flag) {
			if f.Hidden || f.Deprecated != "" {
				return
			}
			if !strings.Contains(page, `\fB--`+f.Name+`\fP`) {
				t.Errorf("%s: flag --%s not documented", name, f.Name)
			}
		}
		c.NonInheritedFlags().VisitAll(check)
		c.InheritedFlags().VisitAll(check)
	}
}

// TestManDeterministic: the pages depend on the command tree alone, not
// on the environment or the day they are made.
func TestManDeterministic(t *testing.T) {
	a := genPages(t, nil)
	b := genPages(t, map[string]string{"HOME": "/home/x", "USER": "x", "NO_COLOR": "1", "XDG_CONFIG_HOME": "/xdg", "SMTPKIT_SERVER": "s.example"})
	if len(a) != len(b) {
		t.Fatalf("%d pages, then %d", len(a), len(b))
	}
	for name, text := range a {
		if b[name] != text {
			t.Errorf("%s differs between runs", name)
		}
	}
}

// TestManEnvironment: every environment variable the code reads is in the
// root page's ENVIRONMENT section.
func TestManEnvironment(t *testing.T) {
	documented := map[string]bool{}
	for _, e := range envDocs(true) {
		for _, n := range envNamesIn(e.name) {
			documented[n] = true
		}
	}
	for _, v := range config.EnvVars() {
		if configKeyDocs[v.Key] == "" {
			t.Errorf("config key %s has no text in configKeyDocs", v.Key)
		}
		if !documented[v.Name] || v.Alias != "" && !documented[v.Alias] {
			t.Errorf("%s (%s) not documented", v.Name, v.Alias)
		}
	}
	notForUsers := map[string]string{
		"SMTPKIT_REQUIRE_PEERS": "tests only: a missing interop peer fails rather than skips",
	}
	read := regexp.MustCompile(`(?:Getenv|LookupEnv|getenv|\.Env)\("([A-Za-z_][A-Za-z0-9_]*)"\)|"(SMTPKIT_[A-Z0-9_]+)"`)
	found := 0
	for _, dir := range []string{"../../internal", "../../cmd"} {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range read.FindAllStringSubmatch(string(src), -1) {
				name := m[1] + m[2]
				found++
				if !documented[name] && notForUsers[name] == "" {
					t.Errorf("%s reads %s, which no man page documents (add it to envDocs in gen_env.go)", path, name)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if found < 10 {
		t.Errorf("found only %d reads of environment variables: is the pattern stale?", found)
	}
}

func TestParseExitStatus(t *testing.T) {
	items, notes, ok := parseExitStatus(`
  0 the flush ran (deferred messages stay queued; see 'relay queue'); 64 usage;
  75 temporary failure (4xx, 5.1.1). With several recipients the most severe
  outcome wins; every domain is reported.`)
	if !ok {
		t.Fatal("not parsed")
	}
	want := []exitItem{{0, "the flush ran (deferred messages stay queued; see 'relay queue')"}, {64, "usage"}, {75, "temporary failure (4xx, 5.1.1)"}}
	if !slices.Equal(items, want) {
		t.Errorf("items = %+v, want %+v", items, want)
	}
	if notes != "With several recipients the most severe outcome wins; every domain is reported." {
		t.Errorf("notes = %q", notes)
	}
	if _, _, ok := parseExitStatus("0 every step worked; otherwise the status of the step"); ok {
		t.Error("prose parsed as a list")
	}
	// Every command's own EXIT STATUS block that reads as a list is shown
	// as one; the send page keeps its notes.
	page := genPages(t, nil)["smtpkit-send.1"]
	if !strings.Contains(page, ".TP\n.B 67\n") || !strings.Contains(page, "Without \\-\\-server: 68 when") {
		t.Errorf("send's EXIT STATUS not as expected:\n%s", page[strings.Index(page, ".SH EXIT STATUS"):])
	}
}

func TestRoffText(t *testing.T) {
	got := roffText("First line -v\n.dot and \\back\n\nOptions:\n  -t   take\n       more\n")
	want := "First line \\-v\n\\&.dot and \\eback\n.PP\n.nf\nOptions:\n  \\-t   take\n       more\n.fi\n"
	if got != want {
		t.Errorf("roffText:\n%s\nwant:\n%s", got, want)
	}
	if got := asciiRoff("ends with ✓ or ✗"); got != `ends with \[u2713] or \[u2717]` {
		t.Errorf("asciiRoff = %q", got)
	}
}

// TestProfileCompletion: --profile completes the profiles of the config
// file, and completing never runs a password command.
func TestProfileCompletion(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "password-command-ran")
	cfg := "defaults:\n  password_command: touch " + marker + "\n" +
		"profiles:\n  work:\n    server: smtp.example.com:587\n    password_command: touch " + marker + "\n" +
		"  backup:\n    inherit: work\n"
	if err := os.MkdirAll(filepath.Join(dir, "smtpkit"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "smtpkit", "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		vars map[string]string
		args []string
	}{
		{"XDG_CONFIG_HOME", map[string]string{"XDG_CONFIG_HOME": dir}, []string{"__complete", "--profile", ""}},
		{"SMTPKIT_CONFIG", map[string]string{"SMTPKIT_CONFIG": path}, []string{"__complete", "send", "-p", ""}},
		{"--config", nil, []string{"__complete", "--config", path, "relay", "--profile", "w"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, out, errOut := testEnv(tt.vars)
			if code := Run(context.Background(), env, tt.args); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			got := strings.Fields(out.String())
			want := []string{"backup", "work", ":4"} // 4: ShellCompDirectiveNoFileComp
			if slices.Contains(tt.args, "w") {
				want = []string{"work", ":4"}
			}
			if !slices.Equal(got, want) {
				t.Errorf("completions %q, want %q", got, want)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("completing --profile ran the password command")
			}
		})
	}
	// The marker is what the password command makes when it does run.
	f, err := config.LoadEnv(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.Resolve("work", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, _ = s.PasswordTo(context.Background(), nil, &bytes.Buffer{}) // touch prints no password
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the password command did not make the marker when run: %v", err)
	}
}
