//go:build !unix

package cli

// noCoreDumps does nothing where there is no core file size limit.
func noCoreDumps() {}
