package smtptest

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

var (
	errCancelled = errors.New("cancelled")
	errBase64    = errors.New("bad base64")
)

// auth runs AUTH (RFC 4954) for PLAIN (RFC 4616), LOGIN, CRAM-MD5
// (RFC 2195) and XOAUTH2 (the password is the token) against the server's
// one user.
func (ss *session) auth(arg string) error {
	o := &ss.srv.opts
	mech, ir, hasIR := strings.Cut(strings.TrimSpace(arg), " ")
	mech = strings.ToUpper(mech)
	switch {
	case !ss.esmtp:
		ss.reply(503, "5.5.1", "Error: send EHLO first")
		return nil
	case ss.authUser != "":
		ss.reply(503, "5.5.1", "Error: already authenticated")
		return nil
	case ss.tx != nil:
		ss.reply(503, "5.5.1", "Error: MAIL transaction in progress")
		return nil
	case o.NoAuth || len(o.AuthMechs) == 0:
		ss.errors++
		ss.reply(502, "5.5.1", "Error: command not implemented")
		return nil
	case o.AuthNeedsTLS && !ss.tls:
		ss.reply(538, "5.7.11", "Encryption required for requested authentication mechanism")
		return nil
	}
	known := false
	for _, m := range o.AuthMechs {
		known = known || strings.EqualFold(m, mech)
	}
	if !known {
		ss.reply(504, "5.5.4", "Unsupported authentication mechanism")
		return nil
	}
	var initial []byte
	if hasIR {
		if ir != "=" { // RFC 4954 4: "=" is an empty initial response
			b, err := base64.StdEncoding.DecodeString(ir)
			if err != nil {
				ss.reply(501, "5.5.2", "Cannot decode the initial response")
				return nil
			}
			initial = b
		} else {
			initial = []byte{}
		}
	}
	user, ok, err := ss.exchange(mech, initial)
	switch {
	case errors.Is(err, errCancelled):
		ss.reply(501, "5.7.0", "Authentication aborted")
	case errors.Is(err, errBase64):
		ss.reply(501, "5.5.2", "Cannot decode the response")
	case err != nil:
		return err
	case ok:
		ss.authUser = user
		ss.reply(235, "2.7.0", "Authentication successful")
	default:
		ss.reply(535, "5.7.8", "Error: authentication failed")
	}
	return nil
}

func (ss *session) exchange(mech string, initial []byte) (user string, ok bool, err error) {
	o := &ss.srv.opts
	respond := func(prompt string) ([]byte, error) {
		if initial != nil {
			b := initial
			initial = nil
			return b, nil
		}
		return ss.challenge([]byte(prompt))
	}
	switch mech {
	case "PLAIN":
		resp, err := respond("")
		if err != nil {
			return "", false, err
		}
		parts := bytes.Split(resp, []byte{0})
		if len(parts) != 3 {
			return "", false, nil
		}
		authz, u, p := string(parts[0]), string(parts[1]), string(parts[2])
		return u, (authz == "" || authz == u) && u == o.User && p == o.Password, nil
	case "LOGIN":
		u, err := respond("Username:")
		if err != nil {
			return "", false, err
		}
		p, err := ss.challenge([]byte("Password:"))
		if err != nil {
			return "", false, err
		}
		return string(u), string(u) == o.User && string(p) == o.Password, nil
	case "XOAUTH2":
		// "user=U^Aauth=Bearer T^A^A"; a refusal is a 334 with a JSON
		// error, answered by the client with an empty line, then 535.
		resp, err := respond("")
		if err != nil {
			return "", false, err
		}
		var u, token string
		for _, f := range strings.Split(string(resp), "\x01") {
			if v, ok := strings.CutPrefix(f, "user="); ok {
				u = v
			} else if v, ok := strings.CutPrefix(f, "auth=Bearer "); ok {
				token = v
			}
		}
		if u == o.User && token == o.Password {
			return u, true, nil
		}
		if _, err := ss.challenge([]byte(`{"status":"401","schemes":"bearer"}`)); err != nil {
			return "", false, err
		}
		return u, false, nil
	case "CRAM-MD5":
		if len(initial) > 0 {
			return "", false, nil
		}
		initial = nil
		ch := fmt.Sprintf("<%d.%d@%s>", ss.srv.Sessions(), time.Now().UnixNano(), o.Hostname)
		resp, err := ss.challenge([]byte(ch))
		if err != nil {
			return "", false, err
		}
		u, digest, _ := strings.Cut(string(resp), " ")
		h := hmac.New(md5.New, []byte(o.Password))
		h.Write([]byte(ch))
		want := hex.EncodeToString(h.Sum(nil))
		return u, u == o.User && hmac.Equal([]byte(digest), []byte(want)), nil
	}
	return "", false, nil
}

// challenge sends "334 base64(data)" and reads the client's answer.
func (ss *session) challenge(data []byte) ([]byte, error) {
	ss.raw("334 " + base64.StdEncoding.EncodeToString(data))
	if err := ss.bw.Flush(); err != nil {
		return nil, err
	}
	line, err := ss.readLine(12288)
	if err != nil {
		return nil, err
	}
	if line == "*" {
		return nil, errCancelled
	}
	b, err := base64.StdEncoding.DecodeString(line)
	if err != nil {
		return nil, errBase64
	}
	return b, nil
}
