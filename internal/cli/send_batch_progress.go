package cli

import (
	"os"

	"github.com/smtpkit/smtpkit/internal/batch"
	"github.com/smtpkit/smtpkit/internal/cli/render"
)

// batchProgress starts the progress line of send --batch on stderr (nil
// when render decides there is none: not a terminal, -q, -v or a JSON
// format). It goes by input octets when the input is a regular file, the
// --batch FILE or stdin redirected from one; a spinner with counts
// otherwise.
func batchProgress(g *globals, pr *render.Printer, name string, rd batch.Reader) *render.BatchProgress {
	var pos func() int64
	if p, ok := rd.(batch.Positioner); ok {
		pos = p.Offset
	}
	return pr.BatchProgress(batchInputSize(g, name), pos, g.env.Now)
}

// batchInputSize is the size of the batch input when it is a regular file,
// -1 otherwise. (Stdin is taken to be read from its start, as a shell
// redirection gives it.)
func batchInputSize(g *globals, name string) int64 {
	var st os.FileInfo
	var err error
	if name == "-" {
		f, ok := g.env.Stdin.(*os.File)
		if !ok {
			return -1
		}
		st, err = f.Stat()
	} else {
		st, err = os.Stat(name)
	}
	if err != nil || !st.Mode().IsRegular() {
		return -1
	}
	return st.Size()
}
