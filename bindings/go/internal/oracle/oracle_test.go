package oracle_test

// Oracle: our TokenRequest mac against the one ably-go (github.com/ably/ably-go, the
// official Go SDK) computes for identical inputs.
//
// ably-go signs in the unexported (*TokenRequest).sign, reached through the exported
// Auth.CreateTokenRequest. That path takes a fixed timestamp (TokenParams.Timestamp) but
// not a nonce: TokenParams has no Nonce field and setDefaults always draws a fresh one
// (randomString(32), crypto/rand) when the request has none. So the nonce is fixed the
// other way round: ably-go draws it, and we sign with that same nonce (TokenParams.Nonce)
// and the same key, timestamp, ttl, capability and clientId, then compare the macs.
// ably-go fills an unset ttl (3600000) and capability ({"*":["*"]}) where this library
// leaves them out (RSA5, RSA6), so the cases set both explicitly, and the capability is
// given in canonical form (ably-go signs the string as given; we canonicalise).

import (
	"testing"

	"github.com/ably/ably-go/ably"

	ablyauth "github.com/ably-auth/ably-auth/bindings/go"
)

func TestOracleMACMatchesAblyGo(t *testing.T) {
	cases := []struct {
		key, clientID, capability string
		ttl, timestamp            int64
	}{
		{"appId.keyId:keySecretValue", "player-42", `{"chat:*":["publish","subscribe"]}`, 60_000, 1_700_000_000_000},
		{"xVLyHw.LMJZxw:Zu4nKkFyLXpfF3MsSEXDpYvMHzx1bHhNjpC2GfTdgF0", "", `{"*":["*"]}`, 3_600_000, 1_000},
		{"a.b:s", "ünïcødé id", `{"a":["*"],"b:c":["history","presence","subscribe"]}`, 1, 1_711_111_111_111},
		{"app.key:secret/with+base64=", "*", `{"[*]*":["*"]}`, 86_400_000, 253_402_300_799_000},
	}
	for _, c := range cases {
		client, err := ably.NewREST(ably.WithKey(c.key))
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := client.Auth.CreateTokenRequest(&ably.TokenParams{
			TTL: c.ttl, Capability: c.capability, ClientID: c.clientID, Timestamp: c.timestamp,
		})
		if err != nil {
			t.Fatal(err)
		}
		a, err := ablyauth.New(ablyauth.Options{AuthOptions: ablyauth.AuthOptions{Key: c.key}})
		if err != nil {
			t.Fatal(err)
		}
		ours, err := a.CreateTokenRequest(&ablyauth.TokenParams{
			TTL: c.ttl, Capability: c.capability, ClientID: c.clientID,
			Timestamp: c.timestamp, Nonce: theirs.Nonce,
		})
		if err != nil {
			t.Fatal(err)
		}
		// Not vacuous: another nonce gives another mac.
		other, err := a.CreateTokenRequest(&ablyauth.TokenParams{
			TTL: c.ttl, Capability: c.capability, ClientID: c.clientID,
			Timestamp: c.timestamp, Nonce: theirs.Nonce + "x",
		})
		a.Close()
		if err != nil || other.MAC == theirs.MAC {
			t.Fatalf("mac ignores the nonce: %v", err)
		}
		if ours.KeyName != theirs.KeyName || ours.TTL != theirs.TTL || ours.Capability != theirs.Capability ||
			ours.ClientID != theirs.ClientID || ours.Timestamp != theirs.Timestamp || ours.Nonce != theirs.Nonce {
			t.Fatalf("inputs differ:\n ours   %+v\n ably-go %+v", ours, theirs)
		}
		if ours.MAC != theirs.MAC {
			t.Fatalf("mac differs for %+v: ours %s, ably-go %s", c, ours.MAC, theirs.MAC)
		}
		t.Logf("mac %s == ably-go for key %s clientId %q", ours.MAC, ours.KeyName, ours.ClientID)
	}
}
