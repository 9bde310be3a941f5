#!/usr/bin/env bash
# scripts/importrules.sh: the layout's import rules (README, "Development").
#  - engine packages never import internal/cli, cobra or lipgloss;
#  - only internal/cli (and its subpackages) import cobra;
#  - only internal/cli/render imports lipgloss;
#  - only internal/dnsx (and dnsx/...) import miekg/dns (and the benchmark
#    ceiling under scripts/bench/, which measures raw miekg/dns);
#  - only internal/config imports YAML.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=github.com/smtpkit/smtpkit
fail=0
while read -r pkg imports; do
  rel=${pkg#"$mod"/}
  for imp in $imports; do
    case "$imp" in
      github.com/spf13/cobra|github.com/spf13/cobra/*)
        case "$rel" in internal/cli|internal/cli/*) ;; cmd/*) ;; *) echo "$rel imports $imp (only internal/cli may)"; fail=1;; esac ;;
      charm.land/lipgloss*|github.com/charmbracelet/lipgloss*)
        case "$rel" in internal/cli/render) ;; *) echo "$rel imports $imp (only internal/cli/render may)"; fail=1;; esac ;;
      github.com/miekg/dns|github.com/miekg/dns/*)
        case "$rel" in internal/dnsx|internal/dnsx/*|scripts/bench/*) ;; *) echo "$rel imports $imp (only internal/dnsx may)"; fail=1;; esac ;;
      go.yaml.in/yaml/*|gopkg.in/yaml*)
        case "$rel" in internal/config) ;; *) echo "$rel imports $imp (only internal/config may)"; fail=1;; esac ;;
      "$mod"/internal/cli|"$mod"/internal/cli/*)
        case "$rel" in internal/cli|internal/cli/*|cmd/*) ;; *) echo "$rel imports $imp (engine packages never import the CLI)"; fail=1;; esac ;;
    esac
  done
done < <(go list -test=false -f '{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./...)
if [ "$fail" = 1 ]; then exit 1; fi
echo "import rules: ok"
