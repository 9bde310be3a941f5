package sendmail

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// realLines are command lines real programs run; the fuzz target starts
// from them too.
var realLines = []string{
	// cronie and Debian cron, with -t (MAILTO in the To field).
	"-FCronDaemon -i -odi -oem -oi -t -f root",
	// cronie without -t: the recipient on the command line.
	"-FCronDaemon -i -B8BITMIME -oem user",
	// PHP's default sendmail_path.
	"-t -i",
	// mutt.
	"-oem -oi -- a@b",
	// git send-email with sendemail.smtpServer=/usr/sbin/sendmail.
	"-i a@b",
	// msmtp-style lines: an envelope sender given in one argument, long
	// options msmtp understands, "-f" with a display name.
	"-oi -oem -fme@example.org -- a@b,c@d",
	"--read-envelope-from -t",
	"-N delay,failure -R hdrs -V env42 -fme@example.org a@b",
}

func TestParseRealLines(t *testing.T) {
	tests := []struct {
		line string
		want Options
	}{
		{"-FCronDaemon -i -odi -oem -oi -t -f root", Options{
			Mode: ModeDeliver, Extract: true, Sender: "root", SenderSet: true, FullName: "CronDaemon",
			Recipients: []string{}, Ignored: []string{"-odi", "-oem"},
		}},
		{"-FCronDaemon -i -B8BITMIME -oem user", Options{
			Mode: ModeDeliver, FullName: "CronDaemon", Body: Body8BitMIME,
			Recipients: []string{"user"}, Ignored: []string{"-oem"},
		}},
		{"-t -i", Options{Mode: ModeDeliver, Extract: true, Recipients: []string{}}},
		{"-oem -oi -- a@b", Options{Mode: ModeDeliver, Recipients: []string{"a@b"}, Ignored: []string{"-oem"}}},
		{"-i a@b", Options{Mode: ModeDeliver, Recipients: []string{"a@b"}}},
		{"-oi -oem -fme@example.org -- a@b,c@d", Options{
			Mode: ModeDeliver, Sender: "me@example.org", SenderSet: true,
			Recipients: []string{"a@b,c@d"}, Ignored: []string{"-oem"},
		}},
		{"--read-envelope-from -t", Options{
			Mode: ModeDeliver, Extract: true, DotEnds: true, Recipients: []string{}, Ignored: []string{"--read-envelope-from"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := Parse(strings.Fields(tt.line), ModeDeliver)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.line, *got, tt.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		mode  Mode
		check func(*Options) bool
	}{
		{"dot ends by default", []string{"a@b"}, ModeDeliver, func(o *Options) bool { return o.DotEnds }},
		{"-oi", []string{"-oi", "a@b"}, ModeDeliver, func(o *Options) bool { return !o.DotEnds }},
		{"-o i separate", []string{"-o", "i", "a@b"}, ModeDeliver, func(o *Options) bool { return !o.DotEnds && o.Recipients[0] == "a@b" }},
		{"-o X VALUE", []string{"-o", "Q", "/var/spool", "a@b"}, ModeDeliver, func(o *Options) bool {
			return o.DotEnds && len(o.Recipients) == 1 && o.Ignored[0] == "-o Q /var/spool"
		}},
		{"cluster -ti", []string{"-ti"}, ModeDeliver, func(o *Options) bool { return o.Extract && !o.DotEnds }},
		{"cluster with value -tfroot", []string{"-tfroot"}, ModeDeliver, func(o *Options) bool { return o.Extract && o.Sender == "root" }},
		{"-r", []string{"-r", "x@y", "a@b"}, ModeDeliver, func(o *Options) bool { return o.Sender == "x@y" && o.SenderSet }},
		{"null sender", []string{"-f", "", "a@b"}, ModeDeliver, func(o *Options) bool { return o.Sender == "" && o.SenderSet }},
		{"-F separate", []string{"-F", "Cron Daemon", "a@b"}, ModeDeliver, func(o *Options) bool { return o.FullName == "Cron Daemon" }},
		{"-N never", []string{"-N", "never", "a@b"}, ModeDeliver, func(o *Options) bool { return reflect.DeepEqual(o.Notify, []string{"NEVER"}) }},
		{"-N list", []string{"-Nsuccess,delay,failure", "a@b"}, ModeDeliver, func(o *Options) bool {
			return reflect.DeepEqual(o.Notify, []string{"SUCCESS", "DELAY", "FAILURE"})
		}},
		{"-N bad warns", []string{"-N", "never,success", "a@b"}, ModeDeliver, func(o *Options) bool { return o.Notify == nil && len(o.Warnings) == 1 }},
		{"-R hdrs", []string{"-R", "hdrs", "a@b"}, ModeDeliver, func(o *Options) bool { return o.Return == ReturnHdrs }},
		{"-R bad warns", []string{"-R", "some", "a@b"}, ModeDeliver, func(o *Options) bool { return o.Return == "" && len(o.Warnings) == 1 }},
		{"-V", []string{"-V", "env-1", "a@b"}, ModeDeliver, func(o *Options) bool { return o.EnvID == "env-1" }},
		{"-V too long", []string{"-V", strings.Repeat("x", 101), "a@b"}, ModeDeliver, func(o *Options) bool { return o.EnvID == "" && len(o.Warnings) == 1 }},
		{"-B 7BIT", []string{"-B", "7BIT", "a@b"}, ModeDeliver, func(o *Options) bool { return o.Body == Body7Bit }},
		{"-bm", []string{"-bm", "a@b"}, ModeDeliver, func(o *Options) bool { return o.Mode == ModeDeliver }},
		{"-bp", []string{"-bp"}, ModeDeliver, func(o *Options) bool { return o.Mode == ModeQueue }},
		{"mailq", nil, ModeQueue, func(o *Options) bool { return o.Mode == ModeQueue }},
		{"mailq -bm", []string{"-bm", "a@b"}, ModeQueue, func(o *Options) bool { return o.Mode == ModeDeliver }},
		{"-q", []string{"-q"}, ModeDeliver, func(o *Options) bool { return o.Mode == ModeFlush }},
		{"-q30m", []string{"-q30m"}, ModeDeliver, func(o *Options) bool { return o.Mode == ModeNothing }},
		{"-v -v", []string{"-v", "-v", "a@b"}, ModeDeliver, func(o *Options) bool { return o.Verbose == 2 }},
		{"unknown ignored", []string{"-G", "-U", "-m", "-Zz", "-h", "17", "-L", "lbl", "-O", "x=y", "a@b"}, ModeDeliver, func(o *Options) bool {
			return reflect.DeepEqual(o.Ignored, []string{"-G", "-U", "-m", "-Z", "-z", "-h17", "-Llbl", "-Ox=y"}) && o.Recipients[0] == "a@b"
		}},
		{"options stop at first recipient", []string{"a@b", "-t"}, ModeDeliver, func(o *Options) bool {
			return !o.Extract && reflect.DeepEqual(o.Recipients, []string{"a@b", "-t"})
		}},
		{"-- then dash recipient", []string{"--", "-t@x"}, ModeDeliver, func(o *Options) bool { return !o.Extract && o.Recipients[0] == "-t@x" }},
		{"-t with recipients", []string{"-t", "a@b"}, ModeDeliver, func(o *Options) bool { return o.Extract && o.Recipients[0] == "a@b" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := Parse(tt.args, tt.mode)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(o) {
				t.Errorf("Parse(%q) = %+v", tt.args, *o)
			}
		})
	}
}

func TestParseUsage(t *testing.T) {
	tests := []struct {
		args []string
		mode Mode
		want string
	}{
		{[]string{"-bs"}, ModeDeliver, "-bs (SMTP on standard input) is not supported"},
		{[]string{"-bd"}, ModeDeliver, "-bd (daemon mode) is not supported"},
		{[]string{"-bi"}, ModeDeliver, "alias database"},
		{[]string{"-bv", "a@b"}, ModeDeliver, "-bv (verify recipients) is not supported"},
		{[]string{"-bz"}, ModeDeliver, "-bz is not supported"},
		{[]string{"-I"}, ModeDeliver, "-I (initialize the alias database)"},
		{[]string{"-B", "binary", "a@b"}, ModeDeliver, `-B "binary": want 7BIT or 8BITMIME`},
		{[]string{"-f"}, ModeDeliver, "option -f needs a value"},
		{[]string{"-i"}, ModeDeliver, "no recipients"},
		{nil, ModeDeliver, "no recipients"},
		{[]string{"-bp", "a@b"}, ModeDeliver, `listing the queue takes no recipients, got "a@b"`},
		{[]string{"-q", "a@b"}, ModeDeliver, "flushing the queue takes no recipients"},
		{[]string{"-t"}, ModeQueue, "-t can be used only in delivery mode"},
		{[]string{"-qRexample.com"}, ModeDeliver, "-qRexample.com is not supported"},
		{[]string{"-b", ""}, ModeDeliver, "option -b needs a value"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.args, tt.mode)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("Parse(%q) = %v, want a *UsageError", tt.args, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %q, want it to say %q", tt.args, err, tt.want)
		}
	}
}
