package main

// The committed completion scripts (completions/, written by
// scripts/gen-docs.sh) in real shells, asking this very binary (smtpkit on
// the PATH TestMain sets up) for the completions: subcommands, and
// --profile from the config file without running its password command.

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// bashCompletionLib is the bash-completion package's library, which
// cobra's bash script needs (_get_comp_words_by_ref).
const bashCompletionLib = "/usr/share/bash-completion/bash_completion"

func init() {
	peerFinders["bash-completion"] = func() (string, error) {
		bash, err := smtptest.LookProgram("bash")
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(bashCompletionLib); err != nil {
			return "", errors.New("the bash-completion package is not installed")
		}
		return bash, nil
	}
	peerFinders["zsh"] = func() (string, error) { return smtptest.LookProgram("zsh") }
}

// completionSetup writes a config with two profiles whose password command
// would leave a marker file, and returns the environment for a shell that
// finds it through XDG_CONFIG_HOME, and the marker's path.
func completionSetup(t *testing.T) (env []string, marker, dir string) {
	t.Helper()
	if _, err := exec.LookPath("smtpkit"); err != nil {
		t.Fatalf("smtpkit is not on PATH (TestMain puts it there): %v", err)
	}
	dir = t.TempDir()
	marker = filepath.Join(dir, "password-command-ran")
	cfg := "profiles:\n" +
		"  work:\n    server: smtp.example.com:587\n    user: me@example.com\n    password_command: touch " + marker + "\n" +
		"  backup:\n    inherit: work\n"
	if err := os.MkdirAll(filepath.Join(dir, "xdg", "smtpkit"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "xdg", "smtpkit", "config.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SMTPKIT_") || strings.HasPrefix(kv, "XDG_") || strings.HasPrefix(kv, "HOME=") ||
			strings.HasPrefix(kv, "BASH_") || strings.HasPrefix(kv, "ZDOTDIR=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "xdg"))
	return env, marker, dir
}

func completionsDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs(filepath.Join("..", "..", "completions"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// completionCases are the command lines completed at their end, and what
// must be offered.
var completionCases = []struct {
	words []string // the last one is the word being completed
	want  []string
}{
	{[]string{"smtpkit", "pro"}, []string{"probe"}},
	{[]string{"smtpkit", "--profile", ""}, []string{"backup", "work"}},
	{[]string{"smtpkit", "send", "--profile", ""}, []string{"backup", "work"}},
	{[]string{"smtpkit", "relay", "-p", "w"}, []string{"work"}},
}

func TestCompletionBash(t *testing.T) {
	bash := needPeer(t, "bash-completion")
	env, marker, _ := completionSetup(t)
	script := filepath.Join(completionsDir(t), "smtpkit.bash")
	for _, tc := range completionCases {
		t.Run(strings.Join(tc.words, " "), func(t *testing.T) {
			// What bash sets up before calling a completion function:
			// COMP_WORDS, COMP_CWORD, COMP_LINE, COMP_POINT, then the
			// function with the command, the current word and the one
			// before it.
			prog := `source "$1"; source "$2"; shift 2
COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
__start_smtpkit smtpkit "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}" 2>/dev/null
printf '%s\n' "${COMPREPLY[@]}"`
			args := append([]string{"--norc", "--noprofile", "-c", prog, "bash", bashCompletionLib, script}, tc.words...)
			cmd := exec.Command(bash, args...)
			cmd.Env = env
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, out)
			}
			got := strings.Fields(string(out))
			if !slices.Equal(got, tc.want) {
				t.Errorf("COMPREPLY = %q, want %q", got, tc.want)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("completing ran the profile's password command")
			}
		})
	}
}

// zshInit runs in the interactive zsh under test: compinit with the
// completions directory first in fpath (its dump file, shared by the cases,
// spares the later ones a scan of every completion function), a compadd
// that also writes every match to $CAPTURE, and a marker file once
// completion is over.
const zshInit = `PROMPT='> '
fpath=($COMPDIR $fpath)
autoload -U compinit && compinit -u -d $ZDUMP
compadd() {
  if (( ${@[(I)-[OAD]*]} )); then
    builtin compadd "$@"
    return
  fi
  local -a hits
  builtin compadd -A hits "$@"
  (( $#hits )) && print -rl -- $hits >> $CAPTURE
  builtin compadd "$@"
}
_capture_done() { print done >> $CAPTURE.done }
comppostfuncs=(_capture_done)
bindkey '^I' complete-word
print ok > $CAPTURE.init
`

// zshDriver types its argument and a TAB into an interactive zsh on a
// pseudo-terminal (zsh/zpty). The waits are bounded (30 s each, like
// pollLimit): a bound on how long to look, not a timing assertion.
const zshDriver = `zmodload zsh/zpty || exit 3
zpty z zsh -f -i || exit 3
zpty -w z "source ${(q)INIT}"
integer i
for (( i = 0; i < 600; i++ )); do [[ -e $CAPTURE.init ]] && break; sleep 0.05; done
[[ -e $CAPTURE.init ]] || { print -u2 "zsh did not start"; zpty -d z; exit 2 }
zpty -w -n z "$1"$'\t'
for (( i = 0; i < 600; i++ )); do [[ -e $CAPTURE.done ]] && break; sleep 0.05; done
zpty -d z
[[ -e $CAPTURE.done ]] || { print -u2 "completion did not finish"; exit 2 }
`

func TestCompletionZsh(t *testing.T) {
	zsh := needPeer(t, "zsh")
	env, marker, dir := completionSetup(t)
	init := filepath.Join(dir, "init.zsh")
	driver := filepath.Join(dir, "driver.zsh")
	if err := os.WriteFile(init, []byte(zshInit), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(driver, []byte(zshDriver), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, tc := range completionCases {
		t.Run(strings.Join(tc.words, " "), func(t *testing.T) {
			capture := filepath.Join(dir, "capture"+string(rune('a'+i)))
			cmd := exec.Command(zsh, "-f", driver, strings.Join(tc.words, " "))
			cmd.Env = append(env, "COMPDIR="+completionsDir(t), "INIT="+init, "CAPTURE="+capture,
				"ZDUMP="+filepath.Join(dir, "zcompdump"))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("zsh: %v\n%s", err, out)
			}
			out, err := os.ReadFile(capture)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			got := strings.Fields(string(out))
			slices.Sort(got)
			got = slices.Compact(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("matches %q, want %q", got, tc.want)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("completing ran the profile's password command")
			}
		})
	}
}
