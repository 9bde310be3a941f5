package tlspolicy

import (
	"encoding/hex"
	"testing"
)

func mustHex(t *testing.T, s string) HexBytes {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
