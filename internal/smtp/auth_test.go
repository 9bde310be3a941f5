package smtp

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/smtpkit/smtpkit/internal/smtptest"
	"github.com/xdg-go/scram"
)

func base64Of(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

const (
	cramChallenge = "<1896.697170952@postoffice.reston.mci.net>" // RFC 2195 2
	googleError   = `{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}`
)

// cramResponse computes RFC 2195's response independently of the client.
func cramResponse(user, secret, challenge string) string {
	h := hmac.New(md5.New, []byte(secret))
	h.Write([]byte(challenge))
	return user + " " + hex.EncodeToString(h.Sum(nil))
}

func TestCRAMMD5Vector(t *testing.T) {
	// RFC 2195 2's example.
	if got := cramResponse("tim", "tanstaaftanstaaf", cramChallenge); got != "tim b913a602c7eda7a495b4e6e7334d3890" {
		t.Fatalf("test HMAC = %q", got)
	}
	m, _ := NewMechanism("cram-md5", Credentials{User: "tim", Password: "tanstaaftanstaaf"})
	resp, err := m.Next([]byte(cramChallenge))
	if err != nil || string(resp) != "tim b913a602c7eda7a495b4e6e7334d3890" {
		t.Fatalf("client response = %q, %v", resp, err)
	}
}

func TestAuth(t *testing.T) {
	user, pass := "user@example.org", "pencil-Pa55"
	oauthIR := "n,a=" + user + ",\x01host=mx.example.org\x01port=587\x01auth=Bearer " + pass + "\x01\x01"
	tests := []struct {
		name    string
		mech    string
		cr      Credentials
		script  smtptest.Script
		wantErr func(t *testing.T, err error)
		golden  string
	}{
		{
			name: "PLAIN", mech: "PLAIN", cr: Credentials{User: user, Password: pass},
			script: joinSteps(smtptest.Expect("AUTH PLAIN "+base64Of("\x00"+user+"\x00"+pass)), smtptest.Send("235 2.7.0 Authentication successful")),
			golden: "auth/plain.txt",
		},
		{
			name: "PLAIN with authorization identity", mech: "plain", cr: Credentials{Identity: "admin", User: user, Password: pass},
			script: joinSteps(smtptest.Expect("AUTH PLAIN "+base64Of("admin\x00"+user+"\x00"+pass)), smtptest.Send("235 2.7.0 ok")),
		},
		{
			name: "PLAIN refused", mech: "PLAIN", cr: Credentials{User: user, Password: pass},
			script: joinSteps(smtptest.ExpectPrefix("AUTH PLAIN "), smtptest.Send("535 5.7.8 Error: authentication failed: bad credentials")),
			wantErr: func(t *testing.T, err error) {
				se := wantErr[*Error](t, err)
				if !se.Policy() || !se.Permanent() || se.Command != "AUTH PLAIN" || strings.Contains(err.Error(), base64Of("\x00"+user+"\x00"+pass)) {
					t.Errorf("error = %q (Policy %v)", err, se.Policy())
				}
			},
		},
		{
			name: "LOGIN", mech: "LOGIN", cr: Credentials{User: user, Password: pass},
			script: joinSteps(smtptest.Expect("AUTH LOGIN "+base64Of(user)), smtptest.Send("334 "+base64Of("Password:")),
				smtptest.Expect(base64Of(pass)), smtptest.Send("235 2.7.0 Authentication successful")),
			golden: "auth/login.txt",
		},
		{
			name: "LOGIN server ignores the initial response", mech: "LOGIN", cr: Credentials{User: user, Password: pass},
			script: joinSteps(smtptest.Expect("AUTH LOGIN "+base64Of(user)), smtptest.Send("334 "+base64Of("Username:")),
				smtptest.Expect(base64Of(user)), smtptest.Send("334 "+base64Of("password:")),
				smtptest.Expect(base64Of(pass)), smtptest.Send("235 2.7.0 ok")),
		},
		{
			name: "CRAM-MD5", mech: "CRAM-MD5", cr: Credentials{User: user, Password: pass},
			script: joinSteps(smtptest.Expect("AUTH CRAM-MD5"), smtptest.Send("334 "+base64Of(cramChallenge)),
				smtptest.Expect(base64Of(cramResponse(user, pass, cramChallenge))), smtptest.Send("235 2.7.0 ok")),
			golden: "auth/cram-md5.txt",
		},
		{
			name: "XOAUTH2", mech: "XOAUTH2", cr: Credentials{User: user, Password: pass},
			script: joinSteps(smtptest.Expect("AUTH XOAUTH2 "+base64Of("user="+user+"\x01auth=Bearer "+pass+"\x01\x01")),
				smtptest.Send("235 2.7.0 Accepted")),
		},
		{
			name: "XOAUTH2 error challenge", mech: "XOAUTH2", cr: Credentials{User: user, Password: pass},
			script: joinSteps(smtptest.ExpectPrefix("AUTH XOAUTH2 "), smtptest.Send("334 "+base64Of(googleError)),
				smtptest.Expect(""),
				smtptest.Send("535-5.7.8 Username and Password not accepted. For more information, go to",
					"535 5.7.8  https://support.google.com/mail/?p=BadCredentials")),
			wantErr: func(t *testing.T, err error) {
				if se := wantErr[*Error](t, err); !se.Policy() || se.Reply.Code != 535 {
					t.Errorf("error = %v", se)
				}
			},
			golden: "auth/xoauth2-error.txt",
		},
		{
			name: "OAUTHBEARER", mech: "OAUTHBEARER", cr: Credentials{User: user, Password: pass, Host: "mx.example.org", Port: 587},
			script: joinSteps(smtptest.Expect("AUTH OAUTHBEARER "+base64Of(oauthIR)), smtptest.Send("235 2.7.0 ok")),
		},
		{
			name: "OAUTHBEARER error challenge", mech: "OAUTHBEARER", cr: Credentials{User: user, Password: pass, Host: "mx.example.org", Port: 587},
			script: joinSteps(smtptest.Expect("AUTH OAUTHBEARER "+base64Of(oauthIR)), smtptest.Send("334 "+base64Of(`{"status":"invalid_token"}`)),
				smtptest.Expect(base64Of("\x01")), // RFC 7628 3.2.3
				smtptest.Send("535 5.7.8 token expired")),
			wantErr: func(t *testing.T, err error) {
				if se := wantErr[*Error](t, err); !se.Policy() {
					t.Errorf("error = %v", se)
				}
			},
		},
		{
			name: "EXTERNAL", mech: "EXTERNAL",
			script: joinSteps(smtptest.Expect("AUTH EXTERNAL ="), smtptest.Send("235 2.7.0 ok")),
		},
		{
			name: "EXTERNAL with identity", mech: "EXTERNAL", cr: Credentials{Identity: "admin"},
			script: joinSteps(smtptest.Expect("AUTH EXTERNAL "+base64Of("admin")), smtptest.Send("235 2.7.0 ok")),
		},
		{
			name: "challenge not base64", mech: "CRAM-MD5", cr: Credentials{User: user, Password: pass},
			script: joinSteps(smtptest.Expect("AUTH CRAM-MD5"), smtptest.Send("334 not*base64"),
				smtptest.Expect("*"), smtptest.Send("501 5.7.0 Authentication aborted")),
			wantErr: func(t *testing.T, err error) { wantErr[*ProtocolError](t, err) },
		},
		{
			name: "mechanism not supported", mech: "PLAIN", cr: Credentials{User: user, Password: pass},
			script: joinSteps(smtptest.ExpectPrefix("AUTH PLAIN"), smtptest.Send("504 5.5.4 Unrecognized authentication type")),
			wantErr: func(t *testing.T, err error) {
				if se := wantErr[*Error](t, err); se.Reply.Code != 504 {
					t.Errorf("error = %v", se)
				}
			},
		},
		{
			name: "unexpected 2xx", mech: "PLAIN", cr: Credentials{User: user, Password: pass},
			script:  joinSteps(smtptest.ExpectPrefix("AUTH PLAIN"), smtptest.Send("250 ok?")),
			wantErr: func(t *testing.T, err error) { wantErr[*ProtocolError](t, err) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, show := range []bool{false, true} {
				var tr Transcript
				c, run := scripted(t, tt.script, ClientOptions{Trace: tr.Add, ShowSecrets: show})
				m, err := NewMechanism(tt.mech, tt.cr)
				if err != nil {
					t.Fatal(err)
				}
				err = c.Auth(m)
				if tt.wantErr != nil {
					tt.wantErr(t, err)
				} else if err != nil {
					t.Fatalf("Auth: %v", err)
				}
				run.Wait()
				checkRedaction(t, tr, run, show)
				if tt.golden != "" && !show {
					smtptest.CompareGolden(t, tt.golden, run.Transcript())
				}
			}
		})
	}
}

// checkRedaction: every line the client wrote after AUTH (the AUTH line's
// payload and each response) is absent from the trace unless ShowSecrets.
func checkRedaction(t *testing.T, tr Transcript, run *smtptest.Run, show bool) {
	t.Helper()
	var secrets []string
	for i, l := range strings.Split(strings.TrimSuffix(string(run.Received()), "\r\n"), "\r\n") {
		if i == 0 {
			_, after, _ := strings.Cut(strings.TrimPrefix(l, "AUTH "), " ")
			l = after
		}
		if l != "" && l != "*" && l != "=" {
			secrets = append(secrets, l)
		}
	}
	var all strings.Builder
	redactedLines := 0
	for _, ev := range tr.Events {
		fmt.Fprintf(&all, "%s %s\n", ev.Kind, ev.Line)
		if ev.Redacted {
			redactedLines++
		}
	}
	for _, s := range secrets {
		if show != strings.Contains(all.String(), s) {
			t.Errorf("ShowSecrets %v: secret %q in the trace is %v:\n%s", show, s, !show, all.String())
		}
	}
	if !show && len(secrets) > 0 && redactedLines == 0 {
		t.Errorf("no event marked Redacted:\n%s", all.String())
	}
	if show && redactedLines > 0 {
		t.Errorf("ShowSecrets: %d events marked Redacted", redactedLines)
	}
}

// scramServer drives xdg-go/scram's server side through a scripted peer.
func scramServer(t *testing.T, password string, tamper bool) smtptest.Step {
	cl, err := scram.SHA256.NewClient("user", password, "")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cl.GetStoredCredentialsWithError(scram.KeyFactors{Salt: "smtpkit-salt-123", Iters: 4096})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := scram.SHA256.NewServer(func(u string) (scram.StoredCredentials, error) {
		if u != "user" {
			return scram.StoredCredentials{}, fmt.Errorf("unknown user %q", u)
		}
		return creds, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return smtptest.Do("SCRAM-SHA-256 server", func(p *smtptest.Peer) error {
		conv := srv.NewConversation()
		read := func(prefix string) (string, error) {
			l, err := p.ReadLine()
			if err != nil {
				return "", err
			}
			if !strings.HasPrefix(l, prefix) {
				return "", fmt.Errorf("got %q, want prefix %q", l, prefix)
			}
			b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(l, prefix))
			return string(b), err
		}
		first, err := read("AUTH SCRAM-SHA-256 ")
		if err != nil {
			return err
		}
		s1, err := conv.Step(first)
		if err != nil {
			return err
		}
		if err := p.WriteLines("334 " + base64Of(s1)); err != nil {
			return err
		}
		final, err := read("")
		if err != nil {
			return err
		}
		s2, err := conv.Step(final)
		if err != nil {
			return p.WriteLines("535 5.7.8 Authentication credentials invalid")
		}
		if tamper {
			s2 = "v=" + base64Of("not the server signature")
		}
		if err := p.WriteLines("334 " + base64Of(s2)); err != nil {
			return err
		}
		last, err := p.ReadLine()
		if err != nil {
			return err
		}
		if last == "*" {
			return p.WriteLines("501 5.7.0 Authentication aborted")
		}
		if last != "" || !conv.Valid() {
			return fmt.Errorf("want an empty response after server-final, got %q (valid %v)", last, conv.Valid())
		}
		return p.WriteLines("235 2.7.0 Authentication successful")
	})
}

func TestAuthSCRAMSHA256(t *testing.T) {
	tests := []struct {
		name, serverPass string
		tamper           bool
		check            func(t *testing.T, err error)
	}{
		{"success", "pencil", false, func(t *testing.T, err error) {
			if err != nil {
				t.Fatalf("Auth: %v", err)
			}
		}},
		{"wrong password", "not-pencil", false, func(t *testing.T, err error) {
			if se := wantErr[*Error](t, err); !se.Policy() || se.Reply.Code != 535 {
				t.Errorf("error = %v", se)
			}
		}},
		{"server signature does not verify", "pencil", true, func(t *testing.T, err error) {
			if err == nil || !strings.Contains(err.Error(), "server validation failed") || !strings.Contains(err.Error(), "501") {
				t.Errorf("error = %v, want the mechanism's failure and the server's answer to the cancel", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr Transcript
			c, run := scripted(t, joinSteps(scramServer(t, tt.serverPass, tt.tamper)), ClientOptions{Trace: tr.Add})
			m, err := NewMechanism("SCRAM-SHA-256", Credentials{User: "user", Password: "pencil"})
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c.Auth(m))
			run.Wait()
			checkRedaction(t, tr, run, false)
		})
	}
}

func TestChooseMechanism(t *testing.T) {
	tests := []struct {
		offered []string
		want    string
		ok      bool
	}{
		{[]string{"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"}, "SCRAM-SHA-256", true},
		{[]string{"login", "plain"}, "PLAIN", true},
		{[]string{"LOGIN"}, "LOGIN", true},
		{[]string{"XOAUTH2", "GSSAPI"}, "", false},
		{nil, "", false},
	}
	for _, tt := range tests {
		if got, ok := ChooseMechanism(tt.offered); got != tt.want || ok != tt.ok {
			t.Errorf("ChooseMechanism(%q) = %q, %v", tt.offered, got, ok)
		}
	}
	if _, err := NewMechanism("GSSAPI", Credentials{}); err == nil {
		t.Error("NewMechanism(GSSAPI) did not fail")
	}
}
