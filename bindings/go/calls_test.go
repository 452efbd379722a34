package ablyauth_test

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	ablyauth "github.com/ably-auth/ably-auth/bindings/go"
)

// hangGuard bounds waits on the library (never a timing assertion: a healthy run takes
// milliseconds; the guard only stops a broken one).
const hangGuard = 30 * time.Second

// silentHost is an async authCallback that never answers: it keeps each Completion (and
// answers them with an error at the end of the test) and signals its calls.
type silentHost struct {
	mu     sync.Mutex
	kept   []*ablyauth.Completion
	called chan struct{}
}

func newSilentHost(t *testing.T) *silentHost {
	h := &silentHost{called: make(chan struct{}, 64)}
	t.Cleanup(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, c := range h.kept {
			c.Complete(nil, errors.New("test over"))
		}
	})
	return h
}

func (h *silentHost) callback(_ ablyauth.TokenParams, c *ablyauth.Completion) {
	h.mu.Lock()
	h.kept = append(h.kept, c)
	h.mu.Unlock()
	h.called <- struct{}{}
}

func (h *silentHost) waitCalled(t *testing.T) {
	t.Helper()
	select {
	case <-h.called:
	case <-time.After(hangGuard):
		t.Fatal("the authCallback was not called")
	}
}

// silentAuth: an Auth whose token fetches hang in h (request timeout 60 s, beyond the guard).
func silentAuth(t *testing.T, lb *loopback, h *silentHost) *ablyauth.Auth {
	o := lb.options()
	o.RequestTimeout = 60 * time.Second
	o.AuthCallbackAsync = h.callback
	o.NoRenewAhead = true
	return mustNew(t, o)
}

// result is what a call made on another goroutine returned.
type result struct {
	name string
	err  error
}

// collect waits (with the hang guard) for n results.
func collect(t *testing.T, results <-chan result, n int) []result {
	t.Helper()
	var out []result
	for len(out) < n {
		select {
		case r := <-results:
			out = append(out, r)
		case <-time.After(hangGuard):
			t.Fatalf("only %d of %d calls returned: %v", len(out), n, out)
		}
	}
	return out
}

// wantEnded checks the results of calls ended by Shutdown or Close (not by a context): a
// call in flight gets ErrCancelled; one whose goroutine reached the Auth only afterwards is
// refused with `late` (ErrShutDown, or the closed error). The call whose authCallback ran
// was in flight, so at least one is ErrCancelled.
func wantEnded(t *testing.T, results []result, late int) {
	t.Helper()
	cancelled := 0
	for _, r := range results {
		var info *ablyauth.ErrorInfo
		switch {
		case !errors.As(r.err, &info):
			t.Errorf("%s: got %v, want an *ErrorInfo", r.name, r.err)
		case info.Code == ablyauth.ErrCancelled:
			cancelled++
		case info.Code != late:
			t.Errorf("%s: got %v, want ErrCancelled (or %d if started late)", r.name, r.err, late)
		}
		if errors.Is(r.err, context.Canceled) || errors.Is(r.err, context.DeadlineExceeded) {
			t.Errorf("%s: %v blames a context", r.name, r.err)
		}
	}
	if cancelled == 0 {
		t.Errorf("no call in flight was cancelled: %v", results)
	}
}

func TestContextCallsCompleteExactlyOnce(t *testing.T) {
	lb := startLoopback(t, false)
	a := mustNew(t, keyTokenOptions(lb))
	ctx := context.Background()
	before := ablyauth.CompletionsRun()

	td, err := a.RequestTokenContext(ctx, &ablyauth.TokenParams{ClientID: "ctx"}, nil)
	if err != nil || td.ClientID != "ctx" || !strings.HasPrefix(td.Token, "lbtk-") {
		t.Fatalf("RequestTokenContext %+v %v", td, err)
	}
	td, err = a.AuthorizeContext(ctx, nil, nil)
	if err != nil || !strings.HasPrefix(td.Token, "lbtk-") {
		t.Fatalf("AuthorizeContext %+v %v", td, err)
	}
	h, err := a.AuthorizationHeaderContext(ctx)
	if err != nil || !strings.HasPrefix(h, "Bearer ") {
		t.Fatalf("AuthorizationHeaderContext %q %v", h, err)
	}
	now, err := a.TimeContext(ctx)
	if err != nil || time.Since(now).Abs() > time.Minute {
		t.Fatalf("TimeContext %v %v", now, err)
	}
	resp, err := a.RequestContext(ctx, "POST", "/channels/ctx/messages", nil,
		http.Header{"Content-Type": {"application/json"}}, []byte(`{"name":"n"}`))
	if err != nil || resp.StatusCode >= 300 {
		t.Fatalf("RequestContext %+v %v", resp, err)
	}
	resp.Close()
	// revokeTokens needs Basic auth: token auth gives its error through the same path.
	if _, err := a.RevokeTokensContext(ctx, []string{"clientId:x"}, nil); ablyauth.Code(err) != ablyauth.ErrRequiresBasicAuth {
		t.Fatalf("RevokeTokensContext %v", err)
	}
	// Refused before starting: no completion.
	if _, err := a.RevokeTokensContext(ctx, []string{"a\x00b"}, nil); ablyauth.Code(err) != ablyauth.ErrInvalidArgument {
		t.Fatalf("NUL in a target: %v", err)
	}
	if _, err := a.RequestContext(ctx, "GET", "/a\x00b", nil, nil, nil); ablyauth.Code(err) != ablyauth.ErrInvalidArgument {
		t.Fatalf("NUL in the path: %v", err)
	}
	if _, err := a.RequestTokenContext(ctx, &ablyauth.TokenParams{TTL: -1}, nil); ablyauth.Code(err) != ablyauth.ErrInvalidArgument {
		t.Fatalf("bad params: %v", err)
	}
	if err := a.Shutdown(-1); err != nil { // every completion has run when it returns
		t.Fatal(err)
	}
	if n := ablyauth.CompletionsRun() - before; n != 6 {
		t.Fatalf("%d completions ran for 6 calls started", n)
	}
}

func TestContextCallsOverTLS(t *testing.T) {
	lb := startLoopback(t, true)
	o := lb.options()
	o.Key = serverKey
	a := mustNew(t, o)
	res, err := a.RevokeTokensContext(context.Background(), []string{"clientId:alice"}, nil)
	if err != nil || res.SuccessCount != 1 || res.Results[0].Target != "clientId:alice" {
		t.Fatalf("RevokeTokensContext %+v %v", res, err)
	}
	h, err := a.AuthorizationHeaderContext(context.Background())
	if err != nil || !strings.HasPrefix(h, "Basic ") {
		t.Fatalf("%q %v", h, err)
	}
}

func TestContextCancelEndsTheCall(t *testing.T) {
	lb := startLoopback(t, false)
	host := newSilentHost(t)
	a := silentAuth(t, lb, host)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := a.AuthorizeContext(ctx, nil, nil)
		done <- err
	}()
	host.waitCalled(t)
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(hangGuard):
		t.Fatal("AuthorizeContext did not return after cancel")
	}
	var info *ablyauth.ErrorInfo
	if !errors.Is(err, context.Canceled) || !errors.As(err, &info) || info.Code != ablyauth.ErrCancelled ||
		ablyauth.Code(err) != ablyauth.ErrCancelled {
		t.Fatalf("got %v, want ErrCancelled and context.Canceled", err)
	}
	// A context done before the call: refused at once, nothing started.
	before := ablyauth.CompletionsRun()
	if _, err := a.TimeContext(ctx); !errors.Is(err, context.Canceled) || ablyauth.Code(err) != ablyauth.ErrCancelled {
		t.Fatalf("done context: %v", err)
	}
	if ablyauth.CompletionsRun() != before {
		t.Fatal("a call was started with a done context")
	}
}

func TestContextDeadlineEndsTheCall(t *testing.T) {
	lb := startLoopback(t, false)
	host := newSilentHost(t)
	a := silentAuth(t, lb, host)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := a.AuthorizationHeaderContext(ctx) // the callback never answers: only the deadline ends it
	if !errors.Is(err, context.DeadlineExceeded) || ablyauth.Code(err) != ablyauth.ErrCancelled {
		t.Fatalf("got %v, want ErrCancelled and context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("message %q does not name the deadline", err)
	}
}

// startInFlight starts one call of each kind that needs a token on a, with a background
// context, each on its own goroutine; the results arrive on the returned channel.
func startInFlight(a *ablyauth.Auth) (<-chan result, int) {
	ctx := context.Background()
	calls := map[string]func() error{
		"AuthorizeContext": func() error { _, err := a.AuthorizeContext(ctx, nil, nil); return err },
		"RequestTokenContext": func() error {
			_, err := a.RequestTokenContext(ctx, nil, nil)
			return err
		},
		"AuthorizationHeaderContext": func() error { _, err := a.AuthorizationHeaderContext(ctx); return err },
		"RequestContext": func() error {
			_, err := a.RequestContext(ctx, "GET", "/channels/x", nil, nil, nil)
			return err
		},
	}
	results := make(chan result, len(calls))
	for name, call := range calls {
		go func() { results <- result{name, call()} }()
	}
	return results, len(calls)
}

func TestShutdownEndsCallsInFlight(t *testing.T) {
	lb := startLoopback(t, false)
	host := newSilentHost(t)
	a := silentAuth(t, lb, host)
	results, n := startInFlight(a)
	host.waitCalled(t)
	// The workers stay in the authCallback's wait (60 s), so Shutdown's own wait may time
	// out; the calls must not wait for it.
	if err := a.Shutdown(0); err != nil && ablyauth.Code(err) != ablyauth.ErrTimeout {
		t.Fatal(err)
	}
	wantEnded(t, collect(t, results, n), ablyauth.ErrShutDown)
	if _, err := a.TimeContext(context.Background()); ablyauth.Code(err) != ablyauth.ErrShutDown {
		t.Fatalf("after Shutdown: %v", err)
	}
	if _, err := a.CreateJWT(nil); ablyauth.Code(err) != ablyauth.ErrInvalidCredentials {
		t.Fatalf("offline calls still answer after Shutdown (no key here: 40101): %v", err)
	}
}

func TestCloseEndsCallsInFlight(t *testing.T) {
	lb := startLoopback(t, false)
	host := newSilentHost(t)
	o := lb.options()
	o.RequestTimeout = 60 * time.Second
	o.AuthCallbackAsync = host.callback
	a, err := ablyauth.New(o)
	if err != nil {
		t.Fatal(err)
	}
	results, n := startInFlight(a)
	host.waitCalled(t)
	a.Close()
	wantEnded(t, collect(t, results, n), ablyauth.ErrInvalidArgument) // 40003: closed
	if _, err := a.TimeContext(context.Background()); ablyauth.Code(err) != ablyauth.ErrInvalidArgument {
		t.Fatalf("after Close: %v", err)
	}
}

func TestContextCallsLeaveNoGoroutine(t *testing.T) {
	lb := startLoopback(t, false)
	host := newSilentHost(t)
	a := silentAuth(t, lb, host)
	b := mustNew(t, keyTokenOptions(lb))
	round := func(i int) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		if _, err := a.AuthorizationHeaderContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("round %d: %v", i, err)
		}
		cancel()
		ctx, cancel = context.WithCancel(context.Background())
		if _, err := b.TimeContext(ctx); err != nil { // completes first; its AfterFunc is stopped
			t.Fatal(err)
		}
		cancel()
	}
	// Warm up: a library thread that calls into Go (the authCallback, the completions)
	// keeps a goroutine of its own while it lives, which is not a leak.
	round(0)
	round(1)
	baseline := runtime.NumGoroutine()
	for i := 2; i < 20; i++ {
		round(i)
	}
	deadline := time.Now().Add(hangGuard)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCachedAuthorizationHeader(t *testing.T) {
	lb := startLoopback(t, false)
	a := mustNew(t, keyTokenOptions(lb))
	if _, err := a.CachedAuthorizationHeader(); ablyauth.Code(err) != ablyauth.ErrNoValidToken {
		t.Fatalf("before any token: %v", err)
	}
	h, err := a.AuthorizationHeaderContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	issued := len(lb.requests(t))
	cached, err := a.CachedAuthorizationHeader()
	if err != nil || cached != h {
		t.Fatalf("cached %q %v, want %q", cached, err, h)
	}
	if len(lb.requests(t)) != issued {
		t.Fatal("the cached read made a request")
	}
}

func TestWorkerThreadsAndRenewAheadOptions(t *testing.T) {
	lb := startLoopback(t, false)
	o := keyTokenOptions(lb)
	o.WorkerThreads = 17
	if _, err := ablyauth.New(o); ablyauth.Code(err) != ablyauth.ErrInvalidArgument {
		t.Fatalf("17 workers: %v", err)
	}
	o.WorkerThreads = 1
	o.NoRenewAhead = true
	a := mustNew(t, o)
	// One worker: the calls queue on it, and all complete.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := a.TimeContext(context.Background())
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
