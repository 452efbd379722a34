package ablyauth_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	ablyauth "github.com/ably-auth/ably-auth/bindings/go"
)

// A listener that asks for the header on every new token, with tokens that live less than
// the 15 s expiry margin, used to recurse through the library until the goroutine's stack
// overflowed (issue 10, item 4): each token counted as expired on arrival.
func TestListenerRenewingOnShortLivedTokensDoesNotRecurse(t *testing.T) {
	lb := startLoopback(t, false)
	o := keyTokenOptions(lb)
	o.DefaultTokenParams = &ablyauth.TokenParams{TTL: 10_000}
	a := mustNew(t, o)
	var calls, headers atomic.Int32
	if _, err := a.AddListener(func(ev ablyauth.AuthEvent) {
		if ev.TokenDetails == nil || calls.Add(1) > 50 {
			return // a guard so that a regression ends instead of recursing for ever
		}
		if _, err := a.AuthorizationHeader(); err == nil {
			headers.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	before := len(lb.requests(t))
	if _, err := a.AuthorizationHeader(); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 || headers.Load() != 1 {
		t.Fatalf("listener calls %d, headers %d; want 1 and 1", calls.Load(), headers.Load())
	}
	fetches := 0
	for _, r := range lb.requests(t)[before:] {
		if strings.HasSuffix(r.Path, "/requestToken") {
			fetches++
		}
	}
	if fetches != 1 {
		t.Fatalf("%d token requests; want 1", fetches)
	}
}

// A listener that authorizes again on every failure stops after a bounded number of rounds
// with ABLY_ERR_REENTRANT_CALL instead of looping for ever.
func TestListenerRetryingEveryFailureIsBounded(t *testing.T) {
	lb := startLoopback(t, false)
	o := lb.options()
	o.AuthCallback = func(context.Context, ablyauth.TokenParams) (ablyauth.TokenMaterial, error) {
		return nil, &ablyauth.ErrorInfo{Message: "no token for you"}
	}
	a := mustNew(t, o)
	var calls, refused atomic.Int32
	if _, err := a.AddListener(func(ev ablyauth.AuthEvent) {
		if ev.Err == nil || calls.Add(1) > 100 {
			return
		}
		_, err := a.Authorize(nil, nil)
		if e, ok := err.(*ablyauth.ErrorInfo); ok && e.Code == 100001 {
			refused.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authorize(nil, nil); err == nil {
		t.Fatal("authorize succeeded with a failing callback")
	}
	if calls.Load() != 8 || refused.Load() != 1 {
		t.Fatalf("listener calls %d, refusals %d; want 8 and 1", calls.Load(), refused.Load())
	}
}
