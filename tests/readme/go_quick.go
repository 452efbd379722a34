// Harness for bindings/go/README.md, the first example (tests/readme-snippets.sh inserts its
// statements at @SNIPPET_BODY@ and builds it as a program of a module that uses the binding
// in this checkout). Offline: signing only; it prints the TokenRequest.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	ablyauth "github.com/ably-auth/ably-auth/bindings/go"
)

func run(key string) error {
	// @SNIPPET_BODY@
	fmt.Println(string(body))
	return nil
}

func main() {
	if err := run("appId.keyId:keySecret"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
