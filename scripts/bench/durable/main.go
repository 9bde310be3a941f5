// Command durable measures the raw durable-write limit of a disk: the
// baseline that maildir and spool deliveries are compared with. Each writer
// loops: create a file in DIR/tmp with O_EXCL, write -size bytes, fsync,
// close, link it into DIR/new, fsync DIR/new, unlink the tmp name. Every
// writer fsyncs the directory itself: nothing is coalesced.
//
//	go run ./scripts/bench/durable -dir DIR -writers 20 -n 10000 -size 2048
//
// It prints "durable: N files, W writers, X files/s" on stdout. The files it
// created are removed afterwards unless -keep is given.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "durable:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("dir", "", "directory to write in (default: a new temporary directory, removed afterwards)")
	writers := flag.Int("writers", 20, "concurrent writers")
	n := flag.Int("n", 10000, "files to write in all")
	size := flag.Int("size", 2048, "bytes per file")
	keep := flag.Bool("keep", false, "keep the files written in DIR/new")
	flag.Parse()
	if *writers < 1 || *n < 1 || *size < 0 {
		return errors.New("-writers and -n must be positive, -size not negative")
	}

	root := *dir
	if root == "" {
		tmp, err := os.MkdirTemp("", "durable-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		root = tmp
	}
	tmpDir, newDir := filepath.Join(root, "tmp"), filepath.Join(root, "new")
	for _, d := range []string{tmpDir, newDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}

	data := make([]byte, *size)
	for i := range data {
		data[i] = "abcdefghijklmnopqrstuvwxyz\r\n"[i%28]
	}
	prefix := strconv.Itoa(os.Getpid()) + "." + strconv.FormatInt(time.Now().UnixNano(), 36) + "."

	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		runErr  error
		written = make([][]string, *writers)
	)
	start := time.Now()
	for w := range *writers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(*n) {
					return
				}
				name := prefix + strconv.FormatInt(i, 10)
				if err := writeOne(tmpDir, newDir, name, data); err != nil {
					errOnce.Do(func() { runErr = err })
					next.Store(int64(*n)) // stop the others
					return
				}
				written[w] = append(written[w], name)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if !*keep {
		for _, names := range written {
			for _, name := range names {
				os.Remove(filepath.Join(newDir, name))
			}
		}
	}
	if runErr != nil {
		return runErr
	}
	fmt.Printf("durable: %d files, %d writers, %.0f files/s\n", *n, *writers, float64(*n)/elapsed.Seconds())
	return nil
}

// writeOne is one durable write, exactly as a maildir delivery does it but
// with its own directory fsync.
func writeOne(tmpDir, newDir, name string, data []byte) error {
	tmp := filepath.Join(tmpDir, name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp, filepath.Join(newDir, name)); err != nil {
		return err
	}
	d, err := os.Open(newDir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Remove(tmp)
}
