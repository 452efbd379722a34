// issue-tokens: what a game server does with ably-auth from Go. It signs a TokenRequest
// and an Ably JWT for a player with the app's API key, offline, and prints both.
//
//	go run ./examples/issue-tokens [appId.keyId:keySecret] [clientId]
//
// (from bindings/go, with PKG_CONFIG_PATH=<prefix>/lib/pkgconfig of an installed ably-auth:
// see README.md).
// The key defaults to $ABLY_KEY, then to a placeholder key.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	ablyauth "github.com/ably-auth/ably-auth/bindings/go"
)

func main() {
	key := os.Getenv("ABLY_KEY")
	if len(os.Args) > 1 {
		key = os.Args[1]
	}
	if key == "" {
		key = "appId.keyId:keySecret"
	}
	clientID := "player-42"
	if len(os.Args) > 2 {
		clientID = os.Args[2]
	}
	if err := run(key, clientID); err != nil {
		var info *ablyauth.ErrorInfo
		if errors.As(err, &info) {
			fmt.Fprintf(os.Stderr, "error %d (status %d): %s\n", info.Code, info.StatusCode, info.Message)
		} else {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(1)
	}
}

func run(key, clientID string) error {
	auth, err := ablyauth.New(ablyauth.Options{AuthOptions: ablyauth.AuthOptions{Key: key}})
	if err != nil {
		return err
	}
	defer auth.Close()

	params := &ablyauth.TokenParams{
		ClientID:   clientID,
		TTL:        60 * 60 * 1000,
		Capability: `{"chat:*":["publish","subscribe","presence"]}`,
	}
	request, err := auth.CreateTokenRequest(params)
	if err != nil {
		return err
	}
	text, err := json.Marshal(request)
	if err != nil {
		return err
	}
	fmt.Printf("ably-auth %s\n", ablyauth.Version())
	fmt.Printf("TokenRequest for %s (hand it to the client; it exchanges it with Ably):\n%s\n", clientID, text)

	jwt, err := auth.CreateJWT(params)
	if err != nil {
		return err
	}
	fmt.Printf("Ably JWT for %s (the client uses it as its token):\n%s\n", clientID, jwt)
	return nil
}
