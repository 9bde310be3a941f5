package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// json FILE [PATH...]: FILE must hold exactly one JSON document, or the
// script fails. Each PATH (object keys and array indexes joined by dots,
// such as steps.2.status) is printed to stdout as PATH=VALUE, VALUE in
// compact JSON; a PATH ending in ".#" prints the length of the array or
// object before it. A PATH that leads nowhere fails the script.
func cmdJSON(ts *testscript.TestScript, neg bool, args []string) {
	noNeg(ts, neg, "json")
	if len(args) < 1 {
		ts.Fatalf("usage: json file [path...]")
	}
	b, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		ts.Fatalf("%s: not JSON: %v", args[0], err)
	}
	if _, err := dec.Token(); err == nil {
		ts.Fatalf("%s: more than one JSON document", args[0])
	}
	for _, path := range args[1:] {
		v, err := jsonPath(doc, path)
		if err != nil {
			ts.Fatalf("%s: %s: %v", args[0], path, err)
		}
		out, err := json.Marshal(v)
		ts.Check(err)
		fmt.Fprintf(ts.Stdout(), "%s=%s\n", path, out)
	}
}

func jsonPath(v any, path string) (any, error) {
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			if k == "#" {
				return len(x), nil
			}
			var ok bool
			if v, ok = x[k]; !ok {
				return nil, fmt.Errorf("no key %q", k)
			}
		case []any:
			if k == "#" {
				return len(x), nil
			}
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return nil, fmt.Errorf("no index %q in an array of %d", k, len(x))
			}
			v = x[i]
		default:
			return nil, fmt.Errorf("%q: not an object or array", k)
		}
	}
	return v, nil
}
