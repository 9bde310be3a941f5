package maildir

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// patternReader yields n bytes of a fixed pattern without holding them.
type patternReader struct{ n int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	m := int(min(int64(len(p)), r.n))
	for i := range p[:m] {
		p[i] = "0123456789abcdef\r\n"[i%18]
	}
	r.n -= int64(m)
	return m, nil
}

// allocated runs f and returns the bytes it allocated on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestStreaming delivers 64 MiB (one copy, then two with different
// prefixes): the bytes allocated stay far below the message size.
func TestStreaming(t *testing.T) {
	const size = 64 << 20
	const limit = 4 << 20
	root := t.TempDir()
	s := newTestStore()
	ctx := context.Background()
	var d []Delivered
	var err error

	got := allocated(func() {
		var one Delivered
		one, err = s.Deliver(ctx, filepath.Join(root, "one"), []byte("X: 1\r\n"), &patternReader{n: size})
		d = []Delivered{one}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Deliver of 64 MiB allocated %d KiB", got>>10)
	if got > limit {
		t.Errorf("Deliver of 64 MiB allocated %d KiB", got>>10)
	}
	checkSize(t, d, size)

	got = allocated(func() {
		d, err = s.DeliverCopies(ctx, []Target{
			{Dir: filepath.Join(root, "a"), Prefix: []byte("To: a\r\n")},
			{Dir: filepath.Join(root, "b"), Prefix: []byte("To: bb\r\n")},
		}, &patternReader{n: size})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("DeliverCopies of 64 MiB to 2 maildirs allocated %d KiB", got>>10)
	if got > limit {
		t.Errorf("DeliverCopies of 64 MiB allocated %d KiB", got>>10)
	}
	checkSize(t, d, size)
}

func checkSize(t *testing.T, ds []Delivered, body int64) {
	t.Helper()
	for _, d := range ds {
		fi, err := os.Stat(d.Path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != d.Size || d.Size < body {
			t.Errorf("%s: %d bytes on disk, Size %d", d.Path, fi.Size(), d.Size)
		}
	}
}
