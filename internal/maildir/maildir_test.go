package maildir

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

var fixedNow = func() time.Time { return time.Unix(1700000000, 123456789) }

func newTestStore() *Store {
	return NewStore(Options{Hostname: "mx.example.org", Now: fixedNow})
}

// names lists the entries of dir, failing the test if it cannot.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func wantEmpty(t *testing.T, dir string) {
	t.Helper()
	if n := names(t, dir); len(n) != 0 {
		t.Errorf("%s: want empty, have %q", dir, n)
	}
}

var nameRE = regexp.MustCompile(`^(\d+)\.M(\d+)P(\d+)Q(\d+)\.(.+),S=(\d+)$`)

func TestDeliver(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "users", "alice", "Maildir")
	if err := Ensure(dir); err != nil {
		t.Fatal(err)
	}
	s := newTestStore()
	prefix := []byte("Return-Path: <a@example.com>\r\nDelivered-To: alice@example.org\r\n")
	body := "Subject: hi\r\n\r\nhello\r\n"
	d, err := s.Deliver(context.Background(), dir, prefix, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}

	got := names(t, filepath.Join(dir, "new"))
	if len(got) != 1 || filepath.Join(dir, "new", got[0]) != d.Path {
		t.Fatalf("new/ holds %q, Deliver returned %q", got, d.Path)
	}
	wantEmpty(t, filepath.Join(dir, "tmp"))
	wantEmpty(t, filepath.Join(dir, "cur"))

	data, err := os.ReadFile(d.Path)
	if err != nil {
		t.Fatal(err)
	}
	if want := string(prefix) + body; string(data) != want {
		t.Errorf("content %q, want %q", data, want)
	}
	if d.Size != int64(len(data)) {
		t.Errorf("Size %d, file has %d bytes", d.Size, len(data))
	}
	smtptest.WantMode(t, d.Path, 0o600)
	for _, p := range []string{filepath.Join(dir, "..", ".."), filepath.Join(dir, ".."), dir,
		filepath.Join(dir, "tmp"), filepath.Join(dir, "new"), filepath.Join(dir, "cur")} {
		smtptest.WantMode(t, p, 0o700)
	}

	m := nameRE.FindStringSubmatch(got[0])
	if m == nil {
		t.Fatalf("name %q does not match %v", got[0], nameRE)
	}
	if m[1] != "1700000000" || m[2] != "123456" || m[3] != strconv.Itoa(os.Getpid()) ||
		m[5] != "mx.example.org" || m[6] != strconv.Itoa(len(data)) {
		t.Errorf("name %q: fields %q", got[0], m[1:])
	}
}

func TestDeliverCreatesMaildir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new-user", "Maildir")
	d, err := newTestStore().Deliver(context.Background(), dir, nil, strings.NewReader("x\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(d.Path) != filepath.Join(dir, "new") {
		t.Errorf("delivered to %s", d.Path)
	}
	for _, sub := range []string{"", "tmp", "new", "cur"} {
		smtptest.WantMode(t, filepath.Join(dir, sub), 0o700)
	}
}

func TestHostnameEscaped(t *testing.T) {
	dir := t.TempDir()
	s := NewStore(Options{Hostname: "a/b:c", Now: fixedNow})
	d, err := s.Deliver(context.Background(), dir, nil, strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(d.Path, `.a\057b\072c,S=1`) {
		t.Errorf("name %q: host not escaped", filepath.Base(d.Path))
	}
}

// TestLinkNeverReplaces takes the name Deliver is about to use: the
// existing file must survive and the message get another name.
func TestLinkNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	if err := Ensure(dir); err != nil {
		t.Fatal(err)
	}
	s := newTestStore()
	taken := fmt.Sprintf("1700000000.M123456P%dQ%d.mx.example.org,S=3", os.Getpid(), seq.Load()+1)
	takenPath := filepath.Join(dir, "new", taken)
	if err := os.WriteFile(takenPath, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := s.Deliver(context.Background(), dir, nil, strings.NewReader("new"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Path == takenPath {
		t.Fatalf("delivered over %s", taken)
	}
	if b, _ := os.ReadFile(takenPath); string(b) != "old" {
		t.Errorf("existing message changed to %q", b)
	}
	if b, _ := os.ReadFile(d.Path); string(b) != "new" {
		t.Errorf("delivered %q", b)
	}
	wantEmpty(t, filepath.Join(dir, "tmp"))
}

func TestDeliverConcurrent(t *testing.T) {
	const writers, each = 20, 10
	dir := t.TempDir()
	if err := Ensure(dir); err != nil {
		t.Fatal(err)
	}
	s := newTestStore()
	var (
		mu    sync.Mutex
		paths = map[string]string{}
		wg    sync.WaitGroup
	)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				body := fmt.Sprintf("message %d/%d\r\n", w, i)
				d, err := s.Deliver(context.Background(), dir, []byte("X-Test: 1\r\n"), strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if _, dup := paths[d.Path]; dup {
					t.Errorf("name %s returned twice", d.Path)
				}
				paths[d.Path] = body
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(paths) != writers*each {
		t.Fatalf("%d distinct deliveries, want %d", len(paths), writers*each)
	}
	if n := names(t, filepath.Join(dir, "new")); len(n) != writers*each {
		t.Errorf("new/ holds %d files, want %d", len(n), writers*each)
	}
	for p, body := range paths {
		if b, err := os.ReadFile(p); err != nil || string(b) != "X-Test: 1\r\n"+body {
			t.Errorf("%s: %q %v", p, b, err)
		}
	}
	wantEmpty(t, filepath.Join(dir, "tmp"))
	if len(s.syncers) != 0 {
		t.Errorf("%d syncers kept after all deliveries returned", len(s.syncers))
	}
}

// failingReader returns n bytes and then err.
type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	m := min(len(p), r.n)
	for i := range p[:m] {
		p[i] = 'a'
	}
	r.n -= m
	return m, nil
}

func TestBodyReadError(t *testing.T) {
	dir := t.TempDir()
	if err := Ensure(dir); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("connection reset by peer")
	_, err := newTestStore().Deliver(context.Background(), dir, []byte("X: y\r\n"), &failingReader{n: 200 << 10, err: boom})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want the reader's", err)
	}
	var be *BodyError
	if !errors.As(err, &be) {
		t.Errorf("error %T is not a *BodyError", err)
	}
	var de *Error
	if errors.As(err, &de) {
		t.Errorf("a body error reads as a disk error: %v", de)
	}
	wantEmpty(t, filepath.Join(dir, "new"))
	wantEmpty(t, filepath.Join(dir, "tmp"))
}

func TestContextCanceled(t *testing.T) {
	dir := t.TempDir()
	if err := Ensure(dir); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := newTestStore().Deliver(ctx, dir, nil, strings.NewReader("x"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}

	// Canceled while the body streams in.
	ctx, cancel = context.WithCancel(context.Background())
	r := io.MultiReader(strings.NewReader("first part"), readerFunc(func(p []byte) (int, error) {
		cancel()
		return copy(p, "more"), nil
	}), strings.NewReader("rest"))
	_, err = newTestStore().Deliver(ctx, dir, nil, r)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	wantEmpty(t, filepath.Join(dir, "new"))
	wantEmpty(t, filepath.Join(dir, "tmp"))
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestLargePrefix(t *testing.T) {
	dir := t.TempDir()
	prefix := bytes.Repeat([]byte("Received: from somewhere\r\n"), 5000) // > one buffer
	d, err := newTestStore().Deliver(context.Background(), dir, prefix, strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(d.Path); !bytes.Equal(b, append(prefix, "body"...)) {
		t.Errorf("content differs: %d bytes", len(b))
	}
}

func TestEnsure(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b", "Maildir")
	for range 2 { // idempotent
		if err := Ensure(dir); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"a", "a/b", "a/b/Maildir", "a/b/Maildir/tmp", "a/b/Maildir/new", "a/b/Maildir/cur"} {
		smtptest.WantMode(t, filepath.Join(root, p), 0o700)
	}

	bad := filepath.Join(root, "bad")
	if err := os.Mkdir(bad, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "tmp"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := Ensure(bad)
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, syscall.ENOTDIR) || e.Path != filepath.Join(bad, "tmp") {
		t.Errorf("Ensure with tmp a file: %v", err)
	}
	if err := Ensure(""); err == nil {
		t.Error("Ensure(\"\") succeeded")
	}
}

func TestErrorClasses(t *testing.T) {
	for _, tt := range []struct {
		err                 error
		full, temp, perm    bool
		wantInMessageSuffix string
	}{
		{&fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, true, true, false, "no space left on device"},
		{syscall.EDQUOT, true, true, false, "quota exceeded"},
		{&os.SyscallError{Syscall: "fsync", Err: syscall.EIO}, false, true, false, "input/output error"},
		{syscall.EINTR, false, true, false, "interrupted system call"},
		{&os.LinkError{Op: "link", Old: "a", New: "b", Err: syscall.EACCES}, false, false, true, "permission denied"},
		{syscall.EROFS, false, false, true, "read-only file system"},
		{syscall.EPERM, false, false, true, "operation not permitted"},
		{syscall.ENOTDIR, false, false, false, "not a directory"},
		{io.ErrUnexpectedEOF, false, false, false, "unexpected EOF"},
	} {
		e := newError("write", "/m/tmp/x", tt.err)
		if e.Full != tt.full || e.Temporary() != tt.temp || e.Permission() != tt.perm {
			t.Errorf("%v: Full %v Temporary %v Permission %v, want %v %v %v",
				tt.err, e.Full, e.Temporary(), e.Permission(), tt.full, tt.temp, tt.perm)
		}
		if want := "maildir: write /m/tmp/x: "; !strings.HasPrefix(e.Error(), want) || !strings.HasSuffix(e.Error(), tt.wantInMessageSuffix) {
			t.Errorf("message %q", e.Error())
		}
	}
}

// BenchmarkDeliver20 delivers 2 KiB messages from 20 goroutines into one
// maildir; compare with scripts/bench/durable, the uncoalesced baseline.
func BenchmarkDeliver20(b *testing.B) {
	dir := b.TempDir()
	if err := Ensure(dir); err != nil {
		b.Fatal(err)
	}
	s := NewStore(Options{})
	body := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz\r\n"), 2048/28)
	b.SetParallelism(max(1, 20/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Deliver(context.Background(), dir, nil, bytes.NewReader(body)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
}
