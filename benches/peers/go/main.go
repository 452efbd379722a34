// Peers benchmark, Go side: createTokenRequest, JWT creation and the requestToken round
// trip through this library's Go binding beside ably-go and golang-jwt, in one process.
//
//	peers-go issue               createTokenRequest and JWT per call
//	peers-go roundtrip BASE_URL  requestToken against the loopback server (plain HTTP)
//
// Prints one "RESULT\t<case>\t<median ns>" line per case (median of SAMPLES samples of
// >= 20 ms each, after a warm-up), the same loop as benches/support/mod.rs.
package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strconv"
	"time"

	ablyauth "github.com/ably-auth/ably-auth/bindings/go"
	"github.com/ably/ably-go/ably"
	"github.com/golang-jwt/jwt/v5"
)

const (
	issueKey   = "appId.keyId:keySecret"
	loopKey    = "appId.keyId:loopbackSecret0123456789"
	ttl        = 3600000
	capability = `{"channel1":["publish","subscribe"],"channel2":["subscribe"]}`
	clientID   = "client-1"
)

var sink any

func samples() int {
	if s, err := strconv.Atoi(os.Getenv("SAMPLES")); err == nil && s > 0 {
		return s
	}
	return 31
}

// measure returns the median ns per call of f.
func measure(f func()) float64 {
	iters := 1
	for {
		start := time.Now()
		for i := 0; i < iters; i++ {
			f()
		}
		if time.Since(start) >= 20*time.Millisecond {
			break
		}
		iters *= 2
	}
	n := samples()
	out := make([]float64, n)
	for s := range out {
		start := time.Now()
		for i := 0; i < iters; i++ {
			f()
		}
		out[s] = float64(time.Since(start).Nanoseconds()) / float64(iters)
	}
	sort.Float64s(out)
	return out[n/2]
}

func report(name string, ns float64) { fmt.Printf("RESULT\t%s\t%.1f\n", name, ns) }

func must[T any](v T, err error) T {
	if err != nil {
		fmt.Fprintln(os.Stderr, "peers-go:", err)
		os.Exit(1)
	}
	return v
}

func issue() {
	ours := must(ablyauth.New(ablyauth.Options{AuthOptions: ablyauth.AuthOptions{Key: issueKey}}))
	params := &ablyauth.TokenParams{TTL: ttl, Capability: capability, ClientID: clientID}
	report("go-binding createTokenRequest", measure(func() {
		sink = must(ours.CreateTokenRequest(params))
	}))
	report("go-binding createJWT", measure(func() {
		sink = must(ours.CreateJWT(params))
	}))

	theirs := must(ably.NewREST(ably.WithKey(issueKey)))
	theirParams := &ably.TokenParams{TTL: ttl, Capability: capability, ClientID: clientID}
	report("ably-go createTokenRequest", measure(func() {
		sink = must(theirs.Auth.CreateTokenRequest(theirParams))
	}))

	secret := []byte("keySecret")
	report("golang-jwt HS256", measure(func() {
		iat := time.Now().Unix()
		token := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iat":               iat,
			"exp":               iat + ttl/1000,
			"x-ably-capability": capability,
			"x-ably-clientId":   clientID,
		})
		token.Header["kid"] = "appId.keyId"
		sink = must(token.SignedString(secret))
	}))
}

func roundtrip(base string) {
	u := must(url.Parse(base))
	port := must(strconv.Atoi(u.Port()))
	n := samples()
	if os.Getenv("SAMPLES") == "" {
		n = 15
	}
	os.Setenv("SAMPLES", strconv.Itoa(n))

	ours := must(ablyauth.New(ablyauth.Options{
		AuthOptions: ablyauth.AuthOptions{Key: loopKey, UseTokenAuth: true},
		Endpoint:    u.Hostname(), Port: port, NoTLS: true,
	}))
	report("go-binding requestToken round trip", measure(func() {
		sink = must(ours.RequestToken(nil, nil))
	}))

	theirs := must(ably.NewREST(ably.WithKey(loopKey), ably.WithRESTHost(u.Hostname()),
		ably.WithPort(port), ably.WithTLS(false), ably.WithUseBinaryProtocol(false),
		ably.WithFallbackHosts([]string{}), ably.WithUseTokenAuth(true)))
	ctx := context.Background()
	report("ably-go requestToken round trip", measure(func() {
		sink = must(theirs.Auth.RequestToken(ctx, nil))
	}))
}

func main() {
	switch {
	case len(os.Args) == 2 && os.Args[1] == "issue":
		issue()
	case len(os.Args) == 3 && os.Args[1] == "roundtrip":
		roundtrip(os.Args[2])
	default:
		fmt.Fprintln(os.Stderr, "usage: peers-go issue | peers-go roundtrip BASE_URL")
		os.Exit(2)
	}
}
