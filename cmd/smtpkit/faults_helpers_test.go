package main

// The fault tests' rig: the built binary in a working directory of its
// own, a small tmpfs to fill up or turn read-only under it, and smtptest
// servers that take mail or misbehave. faults_test.go holds the scenarios.

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/smtpkit/smtpkit/internal/smtptest"
)

// faultDiskSize is the size of the tmpfs the disk faults run on: two
// copies of a 100 KiB message fit, three do not.
const faultDiskSize = "256k"

// faultRig runs the built smtpkit in a directory of its own, on the
// ordinary disk, which is also its HOME (so no user config is read).
type faultRig struct {
	t   *testing.T
	bin string
	dir string
	env []string
}

// faultBinary skips the test under -short and builds smtpkit.
func faultBinary(t *testing.T) string {
	t.Helper()
	skipShortBuild(t)
	return buildSmtpkit(t)
}

func skipShortBuild(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped with -short: builds smtpkit")
	}
}

// newFaultRig gives bin a fresh working directory for this test.
func newFaultRig(t *testing.T, bin string) *faultRig {
	dir := t.TempDir()
	return &faultRig{t: t, bin: bin, dir: dir, env: binEnv(dir)}
}

// newDiskFaultRig skips under -short, mounts a faultDiskSize tmpfs and
// builds smtpkit. The mount comes first, so that its unmount (a cleanup)
// runs after anything the test then starts on it has stopped.
func newDiskFaultRig(t *testing.T) (*smallDisk, *faultRig) {
	t.Helper()
	skipShortBuild(t)
	disk := &smallDisk{t: t, dir: smtptest.Tmpfs(t, faultDiskSize), size: faultDiskSize}
	return disk, newFaultRig(t, buildSmtpkit(t))
}

// path is a path in the rig's working directory.
func (r *faultRig) path(elem ...string) string {
	return filepath.Join(append([]string{r.dir}, elem...)...)
}

// run runs smtpkit with args and fails the test unless it exits want.
func (r *faultRig) run(want int, args ...string) binRun {
	r.t.Helper()
	res := runBinary(r.t, r.bin, r.dir, r.env, false, args...)
	wantExit(r.t, res, want)
	return res
}

// runAnyExit runs smtpkit with args and leaves its exit status to the
// caller.
func (r *faultRig) runAnyExit(args ...string) binRun {
	r.t.Helper()
	return runBinary(r.t, r.bin, r.dir, r.env, false, args...)
}

// serve starts `smtpkit serve` with args on a loopback port; it is
// stopped when the test ends.
func (r *faultRig) serve(args ...string) *servedBinary {
	r.t.Helper()
	return startServeBinary(r.t, r.bin, r.dir, "serve", args...)
}

// goodServer is an smtptest server (no STARTTLS) that takes every
// message.
func goodServer(t *testing.T) *smtptest.Server {
	t.Helper()
	return smtptest.NewServer(t, smtptest.ServerOptions{NoStartTLS: true})
}

// faultyServer is an smtptest server (no STARTTLS) that takes the first
// after messages and then meets fault once in every session.
func faultyServer(t *testing.T, fault smtptest.Fault, after int) *smtptest.Server {
	t.Helper()
	return smtptest.NewServer(t, smtptest.ServerOptions{NoStartTLS: true, Fault: fault, FaultAfter: after})
}

// smallDisk is a mounted tmpfs the test fills up or turns read-only.
type smallDisk struct {
	t      *testing.T
	dir    string
	size   string
	filler string // the file fill wrote, until free removes it
}

// path is a path on the disk.
func (d *smallDisk) path(elem ...string) string {
	return filepath.Join(append([]string{d.dir}, elem...)...)
}

// readOnly remounts the disk read-only.
func (d *smallDisk) readOnly() {
	d.t.Helper()
	smtptest.RemountTmpfs(d.t, d.dir, d.size, true)
}

// writable remounts the disk writable.
func (d *smallDisk) writable() {
	d.t.Helper()
	smtptest.RemountTmpfs(d.t, d.dir, d.size, false)
}

// fill writes a file until the disk is full; free removes it.
func (d *smallDisk) fill() {
	d.t.Helper()
	d.filler = smtptest.FillUp(d.t, d.dir)
}

// free gives back the space fill took.
func (d *smallDisk) free() {
	d.t.Helper()
	if err := os.Remove(d.filler); err != nil {
		d.t.Fatal(err)
	}
}
