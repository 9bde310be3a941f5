package sendmail

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestAddresses(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a@b", []string{"a@b"}},
		{"a@b, c@d", []string{"a@b", "c@d"}},
		{"Al <a@b>, \"Smith, Jo\" <c@d>", []string{"a@b", "c@d"}},
		{"a@b (Al, the boss)", []string{"a@b"}},
		{"root", []string{"root"}},
		{"friends: a@b, c@d;, e@f", []string{"a@b", "c@d", "e@f"}},
		{"undisclosed-recipients:;", nil},
		{"<@relay:a@b>", []string{"@relay:a@b"}},
		{"a@[IPv6:::1]", []string{"a@[IPv6:::1]"}},
		{`"a b"@c`, []string{`"a b"@c`}},
		{" , ,", nil},
	}
	for _, tt := range tests {
		if got := Addresses(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Addresses(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

var fixed = func() time.Time { return time.Date(2026, 12, 2, 11, 0, 0, 0, time.UTC) }

// cronMessage is what cronie writes to sendmail -t.
const cronMessage = "From: root (Cron Daemon)\n" +
	"To: alice@example.com\n" +
	"Subject: Cron <root@host> /usr/local/bin/backup\n" +
	"MIME-Version: 1.0\n" +
	"Content-Type: text/plain; charset=UTF-8\n" +
	"Content-Transfer-Encoding: 8bit\n" +
	"X-Cron-Env: <SHELL=/bin/sh>\n" +
	"\n" +
	"backup done\n"

func TestSubmission(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		o     SubmitOptions
		want  string
		rcpts []string
	}{
		{"cron -t adds Date and Message-ID", cronMessage,
			SubmitOptions{Extract: true, Sender: "root@host", FullName: "CronDaemon", Now: fixed, Host: "host", ID: "q1"},
			strings.Replace(cronMessage, "\n\n", "\nDate: Wed, 02 Dec 2026 11:00:00 +0000\nMessage-ID: <q1@host>\n\n", 1),
			[]string{"alice@example.com"}},
		{"-t removes Bcc, keeps the rest",
			"To: a@b\nBcc: hidden@x,\n  other@y\nCc: Carl <c@d>\nFrom: me@x\nDate: d\nMessage-ID: <m@x>\n\nbody\n",
			SubmitOptions{Extract: true},
			"To: a@b\nCc: Carl <c@d>\nFrom: me@x\nDate: d\nMessage-ID: <m@x>\n\nbody\n",
			[]string{"a@b", "hidden@x", "other@y", "c@d"}},
		{"Resent- fields win; every Bcc goes, as Postfix cleanup removes both",
			"To: a@b\nResent-To: r@s\nResent-Bcc: rb@s\nBcc: b@x\nFrom: me@x\n\nbody\n",
			SubmitOptions{Extract: true},
			"To: a@b\nResent-To: r@s\nFrom: me@x\n\nbody\n",
			[]string{"r@s", "rb@s"}},
		{"without -t Bcc stays and nothing is extracted",
			"To: a@b\nBcc: b@x\nFrom: me@x\n\nbody\n",
			SubmitOptions{},
			"To: a@b\nBcc: b@x\nFrom: me@x\n\nbody\n", nil},
		{"-F names the added From",
			"Subject: hi\n\nbody\n",
			SubmitOptions{Sender: "root@host", FullName: "CronDaemon"},
			"Subject: hi\nFrom: CronDaemon <root@host>\n\nbody\n", nil},
		{"-F with specials is quoted",
			"Subject: hi\n\nbody\n",
			SubmitOptions{Sender: "r@h", FullName: `Cron "the" Daemon, Jr.`},
			"Subject: hi\nFrom: \"Cron \\\"the\\\" Daemon, Jr.\" <r@h>\n\nbody\n", nil},
		{"header only gets its blank line",
			"Subject: hi",
			SubmitOptions{},
			"Subject: hi\n\n", nil},
		{"body starting without blank line",
			"Subject: hi\nthis is body\nmore\n",
			SubmitOptions{},
			"Subject: hi\nthis is body\nmore\n", nil},
		{"CRLF kept",
			"To: a@b\r\nBcc: c@d\r\n\r\nbody\r\n",
			SubmitOptions{Extract: true},
			"To: a@b\r\n\r\nbody\r\n", []string{"a@b", "c@d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, rcpts, err := Submission(strings.NewReader(tt.in), tt.o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("message\n got %q\nwant %q", got, tt.want)
			}
			if !reflect.DeepEqual(rcpts, tt.rcpts) {
				t.Errorf("recipients %q, want %q", rcpts, tt.rcpts)
			}
		})
	}
}

func TestSubmissionHugeHeader(t *testing.T) {
	in := "Subject: " + strings.Repeat("x", maxHeader) + "\n\nbody\n"
	_, _, err := Submission(strings.NewReader(in), SubmitOptions{})
	if _, ok := err.(*HeaderError); !ok {
		t.Fatalf("got %v, want a *HeaderError", err)
	}
}
