package ablyauth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ablyauth "github.com/ably-auth/ably-auth/bindings/go"
)

// keyTokenOptions: the server's key, token auth (plain HTTP allows no Basic auth).
func keyTokenOptions(lb *loopback) ablyauth.Options {
	o := lb.options()
	o.Key = serverKey
	o.UseTokenAuth = true
	return o
}

func mustNew(t testing.TB, o ablyauth.Options) *ablyauth.Auth {
	t.Helper()
	a, err := ablyauth.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func TestRequestTokenWithKey(t *testing.T) {
	lb := startLoopback(t, false)
	a := mustNew(t, keyTokenOptions(lb))
	td, err := a.RequestToken(&ablyauth.TokenParams{ClientID: "alice", TTL: 60_000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(td.Token, "lbtk-") || td.ClientID != "alice" || td.Expires-td.Issued != 60_000 {
		t.Fatalf("%+v", td)
	}
	// requestToken does not store the token (RSA8).
	if cur, err := a.TokenDetails(); err != nil || cur != nil {
		t.Fatalf("TokenDetails after RequestToken: %+v %v", cur, err)
	}
	// A rejected TokenRequest: the server's error.
	lb.rule(t, map[string]any{"pathPrefix": "/keys/", "action": map[string]any{
		"type": "ablyError", "status": 401, "code": 40104, "message": "timestamp not current"}})
	lb.rule(t, map[string]any{"pathPrefix": "/", "action": map[string]any{
		"type": "ablyError", "status": 401, "code": 40104, "message": "timestamp not current"}})
	_, err = a.RequestToken(nil, nil)
	var info *ablyauth.ErrorInfo
	if !errors.As(err, &info) || info.Code != ablyauth.ErrTimestampNotCurrent || info.StatusCode != 401 {
		t.Fatalf("injected 40104: %v", err)
	}
}

func TestAuthURL(t *testing.T) {
	lb := startLoopback(t, false)
	o := lb.options()
	o.AuthURL = lb.baseURL + "/auth/token-request"
	o.AuthParams = map[string][]string{"clientId": {"from-url"}}
	a := mustNew(t, o)
	td, err := a.Authorize(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if td.ClientID != "from-url" {
		t.Fatalf("%+v", td)
	}
}

// issuer is a game server's Auth: it signs TokenRequests for clients.
func issuer(t testing.TB, lb *loopback) *ablyauth.Auth {
	return mustNew(t, keyTokenOptions(lb))
}

func TestAuthorizeSyncCallback(t *testing.T) {
	lb := startLoopback(t, false)
	server := issuer(t, lb)
	var calls atomic.Int32
	o := lb.options()
	o.AuthCallback = func(ctx context.Context, p ablyauth.TokenParams) (ablyauth.TokenMaterial, error) {
		calls.Add(1)
		if _, ok := ctx.Deadline(); !ok {
			return nil, errors.New("no deadline")
		}
		if p.ClientID != "carol" {
			return nil, errors.New("params not passed: " + p.ClientID)
		}
		return server.CreateTokenRequest(&p)
	}
	a := mustNew(t, o)
	td, err := a.Authorize(&ablyauth.TokenParams{ClientID: "carol"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if td.ClientID != "carol" || calls.Load() != 1 {
		t.Fatalf("%+v calls=%d", td, calls.Load())
	}
	id, err := a.ClientID()
	if err != nil || id != "carol" {
		t.Fatalf("ClientID %q %v", id, err)
	}
	cur, err := a.TokenDetails()
	if err != nil || cur == nil || cur.Token != td.Token {
		t.Fatalf("TokenDetails %+v %v", cur, err)
	}
	if cur.ExpiresAt().Before(time.Now()) {
		t.Fatal("expired token")
	}
}

func TestAuthorizeAsyncCallbackFromAnotherGoroutine(t *testing.T) {
	lb := startLoopback(t, false)
	minted := lb.mint(t, map[string]any{"clientId": "dave", "ttl": 600_000})
	o := lb.options()
	o.AuthCallbackAsync = func(p ablyauth.TokenParams, c *ablyauth.Completion) {
		go func() {
			time.Sleep(50 * time.Millisecond)
			if err := c.Complete(&minted, nil); err != nil {
				t.Errorf("Complete: %v", err)
			}
			if err := c.Complete(ablyauth.TokenString("x"), nil); ablyauth.Code(err) != ablyauth.ErrInvalidArgument {
				t.Errorf("second Complete: %v", err)
			}
		}()
	}
	a := mustNew(t, o)
	td, err := a.Authorize(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if td.Token != minted.Token || td.ClientID != "dave" {
		t.Fatalf("%+v", td)
	}
	// A token string answered from another goroutine, through a synchronous callback
	// waiting on a channel.
	jwt := lb.control(t, "POST", "jwt", map[string]any{"clientId": "erin"})
	o = lb.options()
	o.AuthCallback = func(ctx context.Context, _ ablyauth.TokenParams) (ablyauth.TokenMaterial, error) {
		ch := make(chan string)
		go func() { ch <- strings.Split(strings.Split(string(jwt), `"jwt":"`)[1], `"`)[0] }()
		select {
		case s := <-ch:
			return ablyauth.TokenString(s), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	b := mustNew(t, o)
	resp, err := b.Request("GET", "/protected", nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(resp.Body), `"clientId":"erin"`) {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
}

func TestPanickingCallbackBecomes40170(t *testing.T) {
	lb := startLoopback(t, false)
	o := lb.options()
	o.AuthCallback = func(context.Context, ablyauth.TokenParams) (ablyauth.TokenMaterial, error) {
		panic("boom")
	}
	a := mustNew(t, o)
	_, err := a.Authorize(nil, nil)
	var info *ablyauth.ErrorInfo
	if !errors.As(err, &info) || info.Code != ablyauth.ErrAuthCallbackFailed {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "boom") {
		t.Fatalf("panic value lost: %v", err)
	}
	// The async form: a panic before answering is an answer too.
	o = lb.options()
	o.AuthCallbackAsync = func(ablyauth.TokenParams, *ablyauth.Completion) { panic("async boom") }
	b := mustNew(t, o)
	start := time.Now()
	_, err = b.RequestToken(nil, nil)
	if ablyauth.Code(err) != ablyauth.ErrAuthCallbackFailed || time.Since(start) > 3*time.Second {
		t.Fatalf("async panic: %v after %v", err, time.Since(start))
	}
	// An *ErrorInfo returned by the callback keeps its code.
	o = lb.options()
	o.AuthCallback = func(context.Context, ablyauth.TokenParams) (ablyauth.TokenMaterial, error) {
		return nil, &ablyauth.ErrorInfo{Code: 40300, StatusCode: 403, Message: "banned"}
	}
	c := mustNew(t, o)
	_, err = c.Authorize(nil, nil)
	if !errors.As(err, &info) || !strings.Contains(err.Error(), "banned") {
		t.Fatalf("callback error: %v", err)
	}
	found := false
	for e := info; e != nil; e = e.Cause {
		found = found || e.Code == 40300
	}
	if !found {
		t.Fatalf("code 40300 lost: %v", err)
	}
}

func TestAuthorizationHeaderAndTokenRejected(t *testing.T) {
	lb := startLoopback(t, false)
	a := mustNew(t, keyTokenOptions(lb))
	h, err := a.AuthorizationHeader()
	if err != nil {
		t.Fatal(err)
	}
	td, _ := a.TokenDetails()
	if td == nil || h != "Bearer "+base64.StdEncoding.EncodeToString([]byte(td.Token)) {
		t.Fatalf("header %q for %+v", h, td)
	}
	// Use the header on our own request.
	req, _ := http.NewRequest("GET", lb.baseURL+"/channels/x", nil)
	req.Header.Set("Authorization", h)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("own request: %d", resp.StatusCode)
	}
	if err := a.TokenRejected(td.Token); err != nil {
		t.Fatal(err)
	}
	h2, err := a.AuthorizationHeader()
	if err != nil || h2 == h {
		t.Fatalf("no new token after TokenRejected: %v", err)
	}
	// Nothing can renew a plain token: 40171.
	b := mustNew(t, func() ablyauth.Options { o := lb.options(); o.Token = td.Token; return o }())
	if err := b.TokenRejected(""); ablyauth.Code(err) != ablyauth.ErrTokenRenewalNotConfigured {
		t.Fatalf("TokenRejected without means: %v", err)
	}
}

func TestRequestRenewsAfterInjected40142(t *testing.T) {
	lb := startLoopback(t, false)
	var calls atomic.Int32
	o := lb.options()
	o.AuthCallback = func(context.Context, ablyauth.TokenParams) (ablyauth.TokenMaterial, error) {
		calls.Add(1)
		return lb.mint(t, map[string]any{"clientId": "frank"}), nil
	}
	a := mustNew(t, o)
	var events []ablyauth.AuthEvent
	var mu sync.Mutex
	if _, err := a.AddListener(func(ev ablyauth.AuthEvent) { mu.Lock(); events = append(events, ev); mu.Unlock() }); err != nil {
		t.Fatal(err)
	}
	resp, err := a.Request("GET", "/channels/room", nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.Contains(resp.Header("content-type"), "json") {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header("Content-Type"))
	}
	lb.rule(t, map[string]any{"pathPrefix": "/channels/", "action": map[string]any{
		"type": "ablyError", "status": 401, "code": 40142, "message": "Token expired"}})
	resp, err = a.Request("POST", "/channels/room/messages", map[string][]string{"x": {"1 2"}},
		http.Header{"X-Test": {"yes"}}, []byte(`{"name":"n","data":"d"}`))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 201 || calls.Load() != 2 {
		t.Fatalf("status %d, callback calls %d", resp.StatusCode, calls.Load())
	}
	mu.Lock()
	n := len(events)
	mu.Unlock()
	if n != 2 {
		t.Fatalf("listener heard %d events, want 2", n)
	}
	// A status >= 400 is a Response too, with the server's ErrorInfo in Error and its
	// headers and body readable.
	resp, err = a.Request("GET", "/nowhere", nil, nil, nil)
	if err != nil || resp.StatusCode != 404 || resp.Error == nil || resp.Error.Code != 40400 {
		t.Fatalf("404: %v %+v", err, resp)
	}
	lb.rule(t, map[string]any{"pathPrefix": "/channels/busy", "times": 1, "action": map[string]any{
		"type": "respond", "status": 429,
		"headers": [][]string{{"Content-Type", "application/json"}, {"Retry-After", "7"}},
		"body":    `{"error":{"code":42910,"statusCode":429,"message":"Slow down"}}`}})
	resp, err = a.Request("GET", "/channels/busy", nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 429 || resp.Header("Retry-After") != "7" || !strings.Contains(string(resp.Body), "Slow down") {
		t.Fatalf("429: %d %q %s", resp.StatusCode, resp.Header("Retry-After"), resp.Body)
	}
	if resp.Error == nil || resp.Error.Code != 42910 || resp.Error.StatusCode != 429 {
		t.Fatalf("429 ErrorInfo: %+v", resp.Error)
	}
	// Bad arguments are still an *ErrorInfo.
	_, err = a.Request("GET", "no-slash", nil, nil, nil)
	var info *ablyauth.ErrorInfo
	if !errors.As(err, &info) || info.Code != 40003 {
		t.Fatalf("no-slash: %v", err)
	}
}

func TestRevokeTokensAndTimeOverTLS(t *testing.T) {
	lb := startLoopback(t, true)
	o := lb.options()
	o.Key = serverKey
	a := mustNew(t, o)
	h, err := a.AuthorizationHeader()
	if err != nil || !strings.HasPrefix(h, "Basic ") {
		t.Fatalf("%q %v", h, err)
	}
	now, err := a.Time()
	if err != nil || time.Since(now).Abs() > time.Minute {
		t.Fatalf("Time %v %v", now, err)
	}
	margin := true
	res, err := a.RevokeTokens([]string{"clientId:alice", "bogus:x"}, &ablyauth.RevokeOptions{AllowReauthMargin: &margin})
	if err != nil {
		t.Fatal(err)
	}
	if res.SuccessCount != 1 || res.FailureCount != 1 || len(res.Results) != 2 {
		t.Fatalf("%+v", res)
	}
	ok, bad := res.Results[0], res.Results[1]
	if ok.Target != "clientId:alice" || ok.Error != nil || ok.AppliesAt == 0 {
		t.Fatalf("success entry %+v", ok)
	}
	if bad.Target != "bogus:x" || bad.Error == nil || bad.Error.Code != 40000 {
		t.Fatalf("failure entry %+v", bad)
	}
	// Token auth cannot revoke: 40162.
	o.UseTokenAuth = true
	b := mustNew(t, o)
	if _, err := b.RevokeTokens([]string{"clientId:x"}, nil); ablyauth.Code(err) != ablyauth.ErrRequiresBasicAuth {
		t.Fatalf("token auth revoke: %v", err)
	}
	if _, err := a.RevokeTokens(nil, nil); ablyauth.Code(err) != ablyauth.ErrInvalidArgument {
		t.Fatalf("no targets: %v", err)
	}
	// Without the server's CA, TLS fails: 80000.
	o = lb.options()
	o.Key = serverKey
	o.CACertsPEM = nil
	c := mustNew(t, o)
	if _, err := c.Time(); ablyauth.Code(err) != ablyauth.ErrConnectionFailed {
		t.Fatalf("untrusted CA: %v", err)
	}
}

func TestListeners(t *testing.T) {
	lb := startLoopback(t, false)
	fail := atomic.Bool{}
	o := lb.options()
	o.AuthCallback = func(context.Context, ablyauth.TokenParams) (ablyauth.TokenMaterial, error) {
		if fail.Load() {
			return nil, errors.New("server down")
		}
		return lb.mint(t, map[string]any{}), nil
	}
	a := mustNew(t, o)
	got := make(chan ablyauth.AuthEvent, 8)
	id, err := a.AddListener(func(ev ablyauth.AuthEvent) {
		// Re-entrant: listeners run with no library lock held.
		if _, err := a.ClientID(); err != nil {
			t.Errorf("re-entrant call: %v", err)
		}
		got <- ev
	})
	if err != nil {
		t.Fatal(err)
	}
	panicky, err := a.AddListener(func(ablyauth.AuthEvent) { panic("listener panic is dropped") })
	if err != nil {
		t.Fatal(err)
	}
	td, err := a.Authorize(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := <-got
	if ev.TokenDetails == nil || ev.TokenDetails.Token != td.Token || ev.Err != nil {
		t.Fatalf("token event %+v", ev)
	}
	fail.Store(true)
	if _, err := a.Authorize(nil, nil); err == nil {
		t.Fatal("Authorize succeeded")
	}
	ev = <-got
	if ev.Err == nil || ev.Err.Code != ablyauth.ErrAuthCallbackFailed || ev.TokenDetails != nil {
		t.Fatalf("failure event %+v", ev)
	}
	if err := a.RemoveListener(id); err != nil {
		t.Fatal(err)
	}
	if err := a.RemoveListener(panicky); err != nil {
		t.Fatal(err)
	}
	if err := a.RemoveListener(id); ablyauth.Code(err) != ablyauth.ErrInvalidArgument {
		t.Fatalf("second remove: %v", err)
	}
	fail.Store(false)
	if _, err := a.Authorize(nil, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-got:
		t.Fatalf("removed listener heard %+v", ev)
	default:
	}
}

func TestLogSink(t *testing.T) {
	lb := startLoopback(t, false)
	var mu sync.Mutex
	var lines []string
	o := keyTokenOptions(lb)
	o.LogLevel = ablyauth.LogVerbose
	o.Log = func(level ablyauth.LogLevel, msg string) {
		mu.Lock()
		lines = append(lines, level.String()+": "+msg)
		mu.Unlock()
	}
	a := mustNew(t, o)
	if _, err := a.Request("GET", "/channels/x", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	td, _ := a.TokenDetails()
	mu.Lock()
	defer mu.Unlock()
	if len(lines) == 0 {
		t.Fatal("no log lines")
	}
	for _, l := range lines {
		if strings.Contains(l, "loopbackSecret") || (td != nil && strings.Contains(l, td.Token)) {
			t.Fatalf("secret in log line %q", l)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	lb := startLoopback(t, false)
	var calls atomic.Int32
	server := issuer(t, lb)
	o := lb.options()
	o.AuthCallback = func(_ context.Context, p ablyauth.TokenParams) (ablyauth.TokenMaterial, error) {
		calls.Add(1)
		time.Sleep(20 * time.Millisecond)
		return server.CreateTokenRequest(&p)
	}
	a := mustNew(t, o)
	const goroutines, rounds = 24, 20
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*rounds)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				var err error
				switch (g + i) % 5 {
				case 0:
					_, err = a.AuthorizationHeader()
				case 1:
					_, err = server.CreateTokenRequest(&ablyauth.TokenParams{ClientID: "c"})
				case 2:
					_, err = a.TokenDetails()
				case 3:
					_, err = a.ClientID()
				case 4:
					if i%4 == 0 {
						_, err = a.Request("GET", "/channels/x", nil, nil, nil)
					}
				}
				if err != nil {
					errs <- err
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("authCallback called %d times, want one shared fetch", n)
	}
}

func TestCloseWhileCallsInFlight(t *testing.T) {
	lb := startLoopback(t, false)
	o := keyTokenOptions(lb)
	a, err := ablyauth.New(o)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				_, err := a.AuthorizationHeader()
				if err != nil && ablyauth.Code(err) != ablyauth.ErrInvalidArgument {
					t.Errorf("unexpected %v", err)
					return
				}
			}
		}()
	}
	time.Sleep(10 * time.Millisecond)
	a.Close()
	a.Close()
	wg.Wait()
}

func TestAsyncCallbackNeverAnsweredTimesOut(t *testing.T) {
	lb := startLoopback(t, false)
	o := lb.options()
	o.RequestTimeout = 300 * time.Millisecond
	o.AuthCallbackAsync = func(ablyauth.TokenParams, *ablyauth.Completion) {} // drops it
	a := mustNew(t, o)
	start := time.Now()
	_, err := a.Authorize(nil, nil)
	if ablyauth.Code(err) != ablyauth.ErrAuthCallbackFailed {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
		t.Fatalf("answered after %v", d)
	}
	// The dropped Completion is answered (late) by its finalizer, so it is not leaked.
	for i := 0; i < 5; i++ {
		runtime.GC()
	}
}
