// Package batch is the engine of `smtpkit send --batch`: it streams rows from
// a CSV or JSONL file, renders one message per row from a text/template,
// paces the sends with a global token bucket, sends them over a few reused
// SMTP sessions with retries, and records each accepted row in an
// append-only journal so that a rerun never sends an accepted row twice.
//
// Nothing here imports the CLI: the command in internal/cli fills Options
// and hands each Result to render.
package batch
