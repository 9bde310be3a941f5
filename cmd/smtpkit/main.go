// Command smtpkit is the SMTP swiss-army knife: send, probe, mx, relay,
// sendmail and serve in one binary.
package main

import (
	"os"

	"github.com/smtpkit/smtpkit/internal/cli"
)

func main() { os.Exit(cli.Main()) }
