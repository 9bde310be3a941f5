package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes through LoadEnv and Resolve. Neither may panic, every
// rejection of a readable file must be an *Error, and every profile of an accepted file must
// resolve.
func FuzzLoad(f *testing.F) {
	if seed, err := os.ReadFile(filepath.Join("..", "..", "testdata", "config", "example.yaml")); err == nil {
		f.Add(seed)
	}
	for _, s := range []string{
		"",
		"~\n",
		layered,
		"defaults:\n  helo: a\n  timeout: 30s\n",
		"profiles:\n  a: &a\n    user: x\n  b: *a\n  c:\n    inherit: b\n",
		"profiles:\n  a:\n    inherit: b\n  b:\n    inherit: a\n",
		"a: &a\n  b: *a\n",
		"profiles: &p\n  x: *p\n",
		"profiles:\n  b:\n    <<: {user: x}\n",
		"defaults:\n  password: x\n",
		"defaults: {tls: STARTTLS, pipelining: yes, tls_min: 1.3}\n",
		"--- a\n--- b\n",
		"? [a]\n: b\n",
		"defaults: !!binary aGVsbG8=\n",
		"defaults:\n  server: [\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		file, err := LoadEnv(path, envMap(map[string]string{"HOME": "/home/fuzz"}))
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not *Error", err, err)
			}
			_ = err.Error()
			return
		}
		if _, err := file.Resolve("", nil); err != nil {
			t.Fatalf("Resolve(\"\"): %v", err)
		}
		for _, name := range file.ProfileNames() {
			if _, err := file.Resolve(name, nil); err != nil {
				t.Fatalf("Resolve(%q): %v", name, err)
			}
		}
	})
}
