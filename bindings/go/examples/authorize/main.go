// authorize: signs a TokenRequest for a client, then authorizes against an Ably REST
// endpoint (the key signs a TokenRequest and exchanges it for a token) and prints what it
// got, never the token itself. bindings/go/test-outside-module.sh builds it in a module
// outside this repository, as a user would, and runs it against the loopback server.
//
//	go run ./examples/authorize appId.keyId:keySecret [BASE_URL] [clientId]
//
// BASE_URL defaults to https://main.realtime.ably.net (Ably); http://127.0.0.1:PORT
// selects a local server over plain HTTP with no fallback hosts.
package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strconv"

	ablyauth "github.com/ably-auth/ably-auth/bindings/go"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: authorize KEY [BASE_URL] [clientId]")
		os.Exit(2)
	}
	base, clientID := "", "player-42"
	if len(os.Args) > 2 {
		base = os.Args[2]
	}
	if len(os.Args) > 3 {
		clientID = os.Args[3]
	}
	if err := run(os.Args[1], base, clientID); err != nil {
		fmt.Fprintln(os.Stderr, "authorize:", err)
		os.Exit(1)
	}
}

// options for a key and an endpoint given as a URL ("" for Ably's default).
func options(key, base string) (ablyauth.Options, error) {
	// Token auth: the key signs TokenRequests but is never sent (also over plain HTTP).
	o := ablyauth.Options{AuthOptions: ablyauth.AuthOptions{Key: key, UseTokenAuth: true}}
	if base == "" {
		return o, nil
	}
	u, err := url.Parse(base)
	if err != nil {
		return o, err
	}
	o.Endpoint = u.Hostname()
	o.NoTLS = u.Scheme == "http"
	if p := u.Port(); p != "" {
		if o.Port, err = strconv.Atoi(p); err != nil {
			return o, err
		}
		o.TLSPort = o.Port
	}
	if o.NoTLS {
		o.FallbackHosts = []string{} // a local server has no fallback hosts
	}
	return o, nil
}

func run(key, base, clientID string) error {
	o, err := options(key, base)
	if err != nil {
		return err
	}
	auth, err := ablyauth.New(o)
	if err != nil {
		return err
	}
	defer auth.Close()
	fmt.Printf("ably-auth %s (header %s)\n", ablyauth.Version(), ablyauth.HeaderVersion)

	params := &ablyauth.TokenParams{ClientID: clientID, TTL: 3_600_000}
	request, err := auth.CreateTokenRequest(params)
	if err != nil {
		return err
	}
	text, err := json.Marshal(request)
	if err != nil {
		return err
	}
	fmt.Printf("TokenRequest: %s\n", text)

	details, err := auth.Authorize(params, nil)
	if err != nil {
		return err
	}
	fmt.Printf("authorized: clientId %s, issued %s, expires %s\n", details.ClientID,
		details.IssuedAt().UTC().Format("15:04:05"), details.ExpiresAt().UTC().Format("15:04:05"))
	return nil
}
