package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// parser walks the YAML node tree so that every error can name its line. Decoding into
// yaml.Node (rather than into structs) keeps line numbers and lets unknown keys, duplicate
// keys and aliases of the same setting (helo, ehlo) be reported precisely.
type parser struct {
	path string
	home string
	f    *File
}

// yamlLine picks the line number out of a yaml.v3 syntax error.
var yamlLine = regexp.MustCompile(`(?s)^yaml: line (\d+): (.*)$`)

// parse turns the bytes of the file at path into a File. home expands "~/" in paths. Every
// error is an *Error.
func parse(path string, data []byte, home string) (f *File, err error) {
	p := &parser{path: path, home: home, f: emptyFile(path)}
	p.f.inheritLine = map[string]int{}
	// A config parser must report, not crash, whatever the file holds.
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, &Error{Path: path, Msg: fmt.Sprintf("cannot parse: %v", r)}
		}
	}()
	root, err := p.document(data)
	if err != nil {
		return nil, err
	}
	if err := p.top(root); err != nil {
		return nil, err
	}
	for _, name := range p.f.ProfileNames() {
		if _, err := p.f.chain(name); err != nil {
			return nil, err
		}
	}
	return p.f, nil
}

// document returns the root node of the single YAML document in data, or nil for an empty
// file.
func (p *parser) document(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, p.yamlError(err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, p.yamlError(err)
	default:
		return nil, p.errorf(extra.Line, "holds more than one YAML document")
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, nil
		}
		return doc.Content[0], nil
	}
	return &doc, nil
}

func (p *parser) yamlError(err error) error {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		if line, aerr := strconv.Atoi(m[1]); aerr == nil {
			return &Error{Path: p.path, Line: line, Msg: "yaml: " + m[2]}
		}
	}
	return &Error{Path: p.path, Msg: err.Error()}
}

func (p *parser) errorf(line int, format string, args ...any) error {
	return &Error{Path: p.path, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// top reads the top-level mapping: defaults and profiles.
func (p *parser) top(root *yaml.Node) error {
	if root == nil {
		return nil
	}
	root = deref(root)
	if isNull(root) {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return p.errorf(root.Line, "top level must be a mapping with defaults and profiles, not %s",
			describe(root))
	}
	seen := map[string]int{}
	return p.mapping(root, "at top level", func(key string, k, v *yaml.Node) error {
		if first, dup := seen[key]; dup {
			return p.errorf(k.Line, "duplicate key %q at top level (first at line %d)", key, first)
		}
		seen[key] = k.Line
		switch key {
		case "defaults":
			s, _, err := p.settings(v, "in defaults", false)
			p.f.Defaults = s
			return err
		case "profiles":
			return p.profiles(v)
		}
		return p.errorf(k.Line, "unknown key %q at top level%s", key,
			suggest(key, []string{"defaults", "profiles"}))
	})
}

func (p *parser) profiles(n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return p.errorf(n.Line, "profiles must map profile names to settings, not %s", describe(n))
	}
	seen := map[string]int{}
	return p.mapping(n, "in profiles", func(name string, k, v *yaml.Node) error {
		switch {
		case name == "":
			return p.errorf(k.Line, "empty profile name")
		case hasControl(name):
			return p.errorf(k.Line, "profile name %q must not contain control characters", name)
		}
		if first, dup := seen[name]; dup {
			return p.errorf(k.Line, "duplicate profile %q (first at line %d)", name, first)
		}
		seen[name] = k.Line
		s, inherit, err := p.settings(v, fmt.Sprintf("in profile %q", name), true)
		if err != nil {
			return err
		}
		p.f.Profiles[name] = s
		if inherit != nil {
			p.f.Inherits[name] = inherit.Value
			p.f.inheritLine[name] = inherit.Line
		}
		return nil
	})
}

// settings reads one section of settings. where places it in messages ("in defaults",
// "in profile \"work\""). A profile may also hold inherit, whose value node is returned.
func (p *parser) settings(n *yaml.Node, where string, profile bool) (Settings, *yaml.Node, error) {
	var s Settings
	if isNull(n) {
		return s, nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return s, nil, p.errorf(n.Line, "settings %s must be a mapping, not %s", where, describe(n))
	}
	type first struct {
		key  string
		line int
	}
	seen := map[*field]first{}
	var inherit *yaml.Node
	inheritAt := 0
	err := p.mapping(n, where, func(key string, k, v *yaml.Node) error {
		if profile && key == "inherit" {
			if inherit != nil {
				return p.errorf(k.Line, "duplicate key %q %s (first at line %d)", key, where, inheritAt)
			}
			raw, err := p.scalar(v, key, where)
			if err != nil {
				return err
			}
			if raw == "" || hasControl(raw) {
				return p.errorf(v.Line, "bad value %q for inherit %s: want a profile name", raw, where)
			}
			inherit, inheritAt = v, k.Line
			return nil
		}
		f := fieldByKey(key)
		if f == nil {
			return p.errorf(k.Line, "unknown key %q %s%s", key, where, suggest(key, keyNames(profile)))
		}
		if prev, dup := seen[f]; dup {
			if prev.key == key {
				return p.errorf(k.Line, "duplicate key %q %s (first at line %d)", key, where, prev.line)
			}
			return p.errorf(k.Line, "%s and %s are the same setting %s (first at line %d); use one",
				prev.key, key, where, prev.line)
		}
		seen[f] = first{key, k.Line}
		raw, err := p.scalar(v, key, where)
		if err != nil {
			return err
		}
		if f == passwordGroup[0] {
			p.f.HasInlinePassword = true
		}
		if err := f.set(&s, raw, p.home); err != nil {
			return p.errorf(v.Line, "%s", f.valueError(key, raw, where, err))
		}
		return nil
	})
	if err != nil {
		return Settings{}, nil, err
	}
	var set []string
	line := 0
	for _, f := range passwordGroup {
		if f.isSet(&s) {
			set = append(set, f.key)
			line = max(line, seen[f].line)
		}
	}
	if len(set) > 1 {
		return Settings{}, nil, p.errorf(line, "%s are set %s; use only one password source",
			joinAnd(set), where)
	}
	return s, inherit, nil
}

// mapping calls fn for each key and value of the mapping n, aliases resolved. It returns an
// *Error for a key that is not a plain scalar and for YAML merge keys ("<<").
func (p *parser) mapping(n *yaml.Node, where string, fn func(key string, k, v *yaml.Node) error) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return p.errorf(k.Line, "keys %s must be plain names, not %s", where, describe(k))
		}
		if k.ShortTag() == "!!merge" {
			return p.errorf(k.Line, "merge keys (<<) are not supported %s; use inherit", where)
		}
		if err := fn(k.Value, k, v); err != nil {
			return err
		}
	}
	return nil
}

// scalar returns the text of a scalar value, exactly as written (so tls_min: 1.0 stays
// "1.0" and a numeric-looking password is not reformatted).
func (p *parser) scalar(v *yaml.Node, key, where string) (string, error) {
	if isNull(v) {
		return "", p.errorf(v.Line, "missing value for %s %s", key, where)
	}
	if v.Kind != yaml.ScalarNode {
		return "", p.errorf(v.Line, "bad value for %s %s: want a single value, not %s", key, where, describe(v))
	}
	return v.Value, nil
}

// deref follows aliases to the node they name. The parser only creates aliases to anchored
// nodes, which are never aliases themselves; the bound guards against hand-built trees.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	if n == nil || n.Kind == yaml.AliasNode {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "an empty value"
		}
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "an empty value"
}

// keyNames lists the keys a section accepts, for suggestions.
func keyNames(profile bool) []string {
	var names []string
	for _, f := range fields {
		names = append(names, f.key)
		if f.alias != "" {
			names = append(names, f.alias)
		}
	}
	if profile {
		names = append(names, "inherit")
	}
	return names
}

// suggest returns ` (did you mean "x"?)` for the candidate closest to key, when it is close
// enough to be a likely typo, and "" otherwise.
func suggest(key string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := editDistance(key, c); d < bestDist && d < len(c) {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	out := s[0]
	for _, x := range s[1 : len(s)-1] {
		out += ", " + x
	}
	return out + " and " + s[len(s)-1]
}
