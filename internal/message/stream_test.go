package message

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	bigSize = 64 << 20
	// slack is how much more memory than before a 64 MiB message may use.
	slack = 4 << 20
)

// writeBig writes a message of about size octets with LF line endings and
// some 8-bit text, and returns its path and its size once normalised.
func writeBig(t *testing.T, dir string, size int) (string, int64) {
	t.Helper()
	path := filepath.Join(dir, "big.eml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	head := "From: a@example.com\nTo: b@example.net\nSubject: big\n\n"
	w.WriteString(head)
	line := strings.Repeat("0123456789", 9) + "Grüß\n" // 95 octets
	n, lines := len(head), 4
	for n < size {
		w.WriteString(line)
		n += len(line)
		lines++
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, int64(n + lines)
}

// measure runs f and returns how much it allocated in total and the highest
// heap in use seen while it ran, both above the level before.
func measure(f func()) (alloc, peak uint64) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	var (
		mu   sync.Mutex
		max  uint64
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			mu.Lock()
			if m.HeapInuse > max {
				max = m.HeapInuse
			}
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(stop)
	<-done

	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if after.HeapInuse > max {
		max = after.HeapInuse
	}
	alloc = after.TotalAlloc - before.TotalAlloc
	if max > before.HeapInuse {
		peak = max - before.HeapInuse
	}
	return alloc, peak
}

// drain reads p fully twice, as a retry would, and returns the octets read
// the second time.
func drain(t *testing.T, p *Prepared) int64 {
	t.Helper()
	var n int64
	for range 2 {
		r, err := p.Open()
		if err != nil {
			t.Fatal(err)
		}
		n, err = io.Copy(io.Discard, r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// TestLargeMessageStreams proves that memory does not scale with message
// size: a 64 MiB message goes through each path while the allocations stay
// within a few MiB. It says nothing about speed.
func TestLargeMessageStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 64 MiB file")
	}
	dir := t.TempDir()
	path, want := writeBig(t, dir, bigSize)
	edits := []string{"Subject: edited!", "X-Added: yes"}
	wantEdited := want - int64(len("Subject: big\r\n")) + int64(len("Subject: edited!\r\nX-Added: yes\r\n"))

	t.Run("FromFile", func(t *testing.T) {
		var p *Prepared
		alloc, peak := measure(func() {
			var err error
			if p, err = FromFile(path, DataOptions{Headers: edits}); err != nil {
				t.Fatal(err)
			}
			if n := drain(t, p); n != p.Size {
				t.Errorf("read %d octets, Size %d", n, p.Size)
			}
		})
		defer p.Close()
		if p.Size != wantEdited || !p.EightBit {
			t.Errorf("Size %d EightBit %v, want %d true", p.Size, p.EightBit, wantEdited)
		}
		t.Logf("allocated %d KiB, peak heap +%d KiB", alloc>>10, peak>>10)
		if alloc > slack || peak > slack {
			t.Errorf("allocated %d KiB, peak heap +%d KiB for a %d MiB message", alloc>>10, peak>>10, bigSize>>20)
		}
	})

	t.Run("FromReader", func(t *testing.T) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var p *Prepared
		alloc, peak := measure(func() {
			// Hide *os.File so nothing can take a shortcut.
			if p, err = FromReader(struct{ io.Reader }{f}, DataOptions{Headers: edits, TempDir: dir}); err != nil {
				t.Fatal(err)
			}
			if n := drain(t, p); n != p.Size {
				t.Errorf("read %d octets, Size %d", n, p.Size)
			}
		})
		defer p.Close()
		if p.Size != wantEdited {
			t.Errorf("Size %d, want %d", p.Size, wantEdited)
		}
		t.Logf("allocated %d KiB, peak heap +%d KiB", alloc>>10, peak>>10)
		if alloc > slack || peak > slack {
			t.Errorf("allocated %d KiB, peak heap +%d KiB for a %d MiB message", alloc>>10, peak>>10, bigSize>>20)
		}
	})

	t.Run("Compose", func(t *testing.T) {
		body, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer body.Close()
		var p *Prepared
		alloc, peak := measure(func() {
			p, err = Compose(ComposeOptions{
				From:       Address{"a", "example.com"},
				BodyReader: body,
				Attach:     []Attachment{{Path: path, ContentType: "application/octet-stream"}},
				Now:        fixedNow,
				TempDir:    dir,
			})
			if err != nil {
				t.Fatal(err)
			}
			if n := drain(t, p); n != p.Size {
				t.Errorf("read %d octets, Size %d", n, p.Size)
			}
		})
		defer p.Close()
		if p.Size < 2*bigSize {
			t.Errorf("Size %d, want body and base64 attachment", p.Size)
		}
		t.Logf("allocated %d KiB, peak heap +%d KiB", alloc>>10, peak>>10)
		if alloc > slack || peak > slack {
			t.Errorf("allocated %d KiB, peak heap +%d KiB for a %d MiB body and attachment", alloc>>10, peak>>10, bigSize>>20)
		}
	})

	t.Run("DKIM", func(t *testing.T) {
		k := testKeys(t)[2]
		var p *Prepared
		// go-msgauth's canonicalizer allocates a little garbage per write, so
		// total allocation grows with size here; the heap in use must not.
		_, peak := measure(func() {
			var err error
			p, err = FromFile(path, DataOptions{DKIM: &DKIMOptions{Domain: "example.com", Selector: "sel", KeyPath: k.path}})
			if err != nil {
				t.Fatal(err)
			}
			if n := drain(t, p); n != p.Size {
				t.Errorf("read %d octets, Size %d", n, p.Size)
			}
		})
		defer p.Close()
		t.Logf("peak heap +%d KiB", peak>>10)
		if peak > 4*slack {
			t.Errorf("peak heap +%d KiB while signing a %d MiB message", peak>>10, bigSize>>20)
		}
		r, err := p.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		b, err := io.ReadAll(io.LimitReader(r, 2048))
		if err != nil || !strings.HasPrefix(string(b), "DKIM-Signature: ") {
			t.Errorf("no signature in front: %q", b)
		}
	})
}
