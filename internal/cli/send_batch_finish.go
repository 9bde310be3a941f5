package cli

import (
	"github.com/smtpkit/smtpkit/internal/batch"
	"github.com/smtpkit/smtpkit/internal/message"
)

// batchFinish is what send --batch does to every rendered row, as a single
// send does to its message: the --attach and --attach-inline files (read
// and encoded once, here, not per row) make it multipart/mixed, and
// --dkim-key signs it (the key read once). nil when there is nothing to do.
//
// A missing attachment or key file gives its *os.PathError, wrapped (exit
// 66); an unusable key or DKIM setting a *message.ConfigError (exit 78).
func (o *SendOptions) batchFinish(g *globals) (*batch.Finish, error) {
	var list []message.Attachment
	for _, a := range o.Attach {
		list = append(list, message.Attachment{Path: a})
	}
	for _, a := range o.AttachInline {
		list = append(list, message.Attachment{Path: a, Inline: true})
	}
	if len(list) == 0 && o.DKIMKey == "" {
		return nil, nil
	}
	from, err := o.sender(g)
	if err != nil {
		return nil, err
	}
	f := &batch.Finish{Now: g.env.Now, Domain: from.Domain}
	if len(list) > 0 {
		if f.Attachments, err = message.LoadAttachments(list); err != nil {
			return nil, err
		}
	}
	if o.DKIMKey != "" {
		d := o.DKIMDomain
		if d == "" {
			d = from.Domain
		}
		if f.DKIM, err = message.NewDKIMSigner(message.DKIMOptions{Domain: d, Selector: o.DKIMSelector, KeyPath: o.DKIMKey}); err != nil {
			return nil, err
		}
	}
	return f, nil
}
