// Command dnsceiling is the ceiling of scripts/bench/mx.sh: the fastest a
// Go program with miekg/dns asks one server the questions `smtpkit mx`
// asks (MX of each domain, then A and AAAA of its MX host, here taken as
// mx.DOMAIN), with W workers in a tight loop, each on one UDP socket of
// its own, no parsing beyond miekg/dns's own, no output. It prints the
// query rate.
//
//	dnsceiling -server 127.0.0.1:5353 -workers 50 domains.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

func main() {
	server := flag.String("server", "127.0.0.1:53", "DNS server")
	workers := flag.Int("workers", 50, "concurrent workers")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: dnsceiling [-server ADDR] [-workers N] domains.txt")
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var names []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if d := sc.Text(); d != "" {
			names = append(names, d)
		}
	}
	f.Close()
	type q struct {
		name string
		t    uint16
	}
	qs := make([]q, 0, 3*len(names))
	for _, d := range names {
		qs = append(qs, q{d, dns.TypeMX}, q{"mx." + d, dns.TypeA}, q{"mx." + d, dns.TypeAAAA})
	}
	var next, failed, answered atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
			conn, err := c.Dial(*server)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			defer conn.Close()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(qs)) {
					return
				}
				m := new(dns.Msg)
				m.SetQuestion(dns.Fqdn(qs[i].name), qs[i].t)
				m.SetEdns0(1232, true)
				r, _, err := c.ExchangeWithConn(m, conn)
				if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
					failed.Add(1)
					continue
				}
				answered.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	fmt.Printf("queries %d answered %d failed %d seconds %.3f qps %.0f\n",
		len(qs), answered.Load(), failed.Load(), el.Seconds(), float64(len(qs))/el.Seconds())
}
