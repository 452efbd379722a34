package ablyauth_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	ablyauth "github.com/ably-auth/ably-auth/bindings/go"
)

// countingTransport counts the requests an *http.Client sends.
type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

// clientOptions are lb's options sending through the caller's *http.Client, which trusts
// lb's CA itself (the library's CACertsPEM is for its own client only).
func clientOptions(t testing.TB, lb *loopback) (ablyauth.Options, *countingTransport) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	if lb.tls {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(lb.caPEM)) {
			t.Fatal("loopback CA")
		}
		base.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	counter := &countingTransport{base: base}
	o := lb.options()
	o.CACertsPEM, o.ConnectTimeout = nil, 0
	o.Key = serverKey
	o.HTTPClient = &http.Client{Transport: counter}
	return o, counter
}

func TestHTTPClientCarriesEveryRequest(t *testing.T) {
	lb := startLoopback(t, true)
	o, counter := clientOptions(t, lb)
	a := mustNew(t, o)
	if _, err := a.RequestToken(nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Time(); err != nil {
		t.Fatal(err)
	}
	if got := counter.n.Load(); got != 2 {
		t.Fatalf("requests through the client: %d, want 2", got)
	}
}

func TestHTTPClientDeadlineAndServerErrors(t *testing.T) {
	lb := startLoopback(t, false)
	o, _ := clientOptions(t, lb)
	o.UseTokenAuth = true
	o.RequestTimeout = 300 * time.Millisecond
	a := mustNew(t, o)
	lb.rule(t, map[string]any{"pathPrefix": "/time", "times": 1, "action": map[string]any{
		"type": "slowHeaders", "delayMs": 3000, "then": map[string]any{"type": "pass"}}})
	var info *ablyauth.ErrorInfo
	if _, err := a.Time(); !errors.As(err, &info) || info.Code != 50003 {
		t.Fatalf("deadline: %v", err)
	}
	lb.rule(t, map[string]any{"pathPrefix": "/time", "times": 1, "action": map[string]any{
		"type": "ablyError", "status": 503, "code": 50300, "message": "busy"}})
	if _, err := a.Time(); !errors.As(err, &info) || info.Code != 50300 {
		t.Fatalf("server error: %v", err)
	}
}

func TestHTTPClientConflictsWithBuiltInOnlyOptions(t *testing.T) {
	lb := startLoopback(t, false)
	o, _ := clientOptions(t, lb)
	o.UseTokenAuth = true
	o.Resolve = map[string]string{"example.com": "127.0.0.1:1"}
	var info *ablyauth.ErrorInfo
	if _, err := ablyauth.New(o); !errors.As(err, &info) || info.Code != 40000 {
		t.Fatalf("New with Resolve and HTTPClient: %v", err)
	}
}
