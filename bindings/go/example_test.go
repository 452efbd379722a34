package ablyauth_test

import (
	"encoding/json"
	"fmt"

	ablyauth "github.com/ably-auth/ably-auth/bindings/go"
)

// A game server signs a TokenRequest for a player; a fixed timestamp and nonce make the
// output reproducible (leave them unset in real use).
func ExampleAuth_CreateTokenRequest() {
	auth, err := ablyauth.New(ablyauth.Options{AuthOptions: ablyauth.AuthOptions{Key: "appId.keyId:keySecret"}})
	if err != nil {
		panic(err)
	}
	defer auth.Close()
	req, err := auth.CreateTokenRequest(&ablyauth.TokenParams{
		ClientID:   "player-42",
		TTL:        3_600_000,
		Capability: `{"chat:*":["subscribe","publish"]}`,
		Timestamp:  1_700_000_000_000,
		Nonce:      "0123456789abcdefghij",
	})
	if err != nil {
		panic(err)
	}
	text, _ := json.Marshal(req)
	fmt.Println(string(text))
	// Output:
	// {"keyName":"appId.keyId","ttl":3600000,"capability":"{\"chat:*\":[\"publish\",\"subscribe\"]}","clientId":"player-42","timestamp":1700000000000,"nonce":"0123456789abcdefghij","mac":"QPDOhC2GwMbooA90Ch+GtmD/7KanaQTZnrlCbg8Cwwc="}
}
