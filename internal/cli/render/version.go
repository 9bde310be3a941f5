package render

import "strings"

// VersionInfo is what `smtpkit version` prints. In JSON it is the object
//
//	version     string  release version, "dev" for a local build
//	commit      string  VCS revision (absent when unknown)
//	date        string  build date (absent when unknown)
//	go_version  string  the Go toolchain, e.g. "go1.26.8"
//	platform    string  GOOS/GOARCH
type VersionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	Date      string `json:"date,omitempty"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// Version prints v. Text is one line, with the parts that are known:
//
//	smtpkit 1.2.0 (commit 4f1a2b3, built 2026-01-02, go1.26.8 linux/amd64)
//
// json prints VersionInfo as a document, jsonl as one line with
// "type":"version". Quiet does not suppress it.
func (p *Printer) Version(v VersionInfo) error {
	switch p.o.Format {
	case FormatJSON:
		return p.JSON(v)
	case FormatJSONL:
		return p.JSONLine(struct {
			Type string `json:"type"`
			VersionInfo
		}{"version", v})
	}
	var parts []string
	if v.Commit != "" {
		parts = append(parts, "commit "+v.Commit)
	}
	if v.Date != "" {
		parts = append(parts, "built "+v.Date)
	}
	if rt := strings.TrimSpace(v.GoVersion + " " + v.Platform); rt != "" {
		parts = append(parts, rt)
	}
	ver := v.Version
	if ver == "" {
		ver = "dev"
	}
	line := paint(p.outStyled, ToneBold, "smtpkit "+clean(ver))
	if len(parts) > 0 {
		line += " " + paint(p.outStyled, ToneDim, "("+clean(strings.Join(parts, ", "))+")")
	}
	return p.write(p.out, line+"\n")
}
