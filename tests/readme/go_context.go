// Harness for bindings/go/README.md, "Contexts, shutdown and game loops" (tests/readme-snippets.sh
// inserts its statements at @SNIPPET_BODY@ and builds it as a program of a module that uses
// the binding in this checkout). Offline: the Auth holds a token; it prints the header.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	ablyauth "github.com/ably-auth/ably-auth/bindings/go"
)

func run(ctx context.Context, auth *ablyauth.Auth, req *http.Request) error {
	// @SNIPPET_BODY@
	return nil
}

func main() {
	auth, err := ablyauth.New(ablyauth.Options{AuthOptions: ablyauth.AuthOptions{Token: "a-token"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer auth.Close()
	req, err := http.NewRequest(http.MethodGet, "https://example.invalid/channels/lobby", nil)
	if err == nil {
		err = run(context.Background(), auth, req)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(req.Header.Get("Authorization"))
}
