package ablyauth

// Options.HTTPClient: every request of the library goes through the caller's *http.Client
// (as ably-go's WithHTTPClient), so its proxy, TLS and RoundTripper settings apply. The
// library keeps Ably's headers, fallback hosts, retries, token renewal, size limits and
// the deadline; each exchange is sent on a goroutine of ours and answered from there.

/*
#include <stdint.h>
#include <stdlib.h>
#include "ably_auth.h"
*/
import "C"

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime/cgo"
	"sync"
	"time"
	"unsafe"
)

// hostTransport sends exchanges with client and cancels them by id.
type hostTransport struct {
	client  *http.Client
	mu      sync.Mutex
	cancels map[uint64]context.CancelFunc
}

func newHostTransport(c *http.Client) *hostTransport {
	client := *c
	// The library follows redirects itself (authUrl rules): hand it every response as is.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &hostTransport{client: &client, cancels: map[uint64]context.CancelFunc{}}
}

// exchange is a request read from an ably_http_exchange, in Go memory.
type exchange struct {
	ptr     *C.ably_http_exchange
	id      uint64
	method  string
	url     string
	headers [][2]string
	body    []byte
	timeout time.Duration
	maxBody int64
}

func readExchange(ex *C.ably_http_exchange) *exchange {
	e := &exchange{
		ptr:     ex,
		id:      uint64(C.ably_http_exchange_id(ex)),
		method:  C.GoString(C.ably_http_exchange_method(ex)),
		url:     C.GoString(C.ably_http_exchange_url(ex)),
		timeout: time.Duration(C.ably_http_exchange_timeout_ms(ex)) * time.Millisecond,
		maxBody: int64(C.ably_http_exchange_max_response_bytes(ex)),
	}
	for i := C.size_t(0); i < C.ably_http_exchange_header_count(ex); i++ {
		var name, value *C.char
		if C.ably_http_exchange_header(ex, i, &name, &value) {
			e.headers = append(e.headers, [2]string{C.GoString(name), C.GoString(value)})
		}
	}
	var n C.size_t
	if body := C.ably_http_exchange_body(ex, &n); body != nil {
		e.body = C.GoBytes(unsafe.Pointer(body), C.int(n))
	}
	return e
}

//export ablyauthGoHTTPSend
func ablyauthGoHTTPSend(userData unsafe.Pointer, ex *C.ably_http_exchange) {
	t, ok := cgo.Handle(uintptr(userData)).Value().(*hostTransport)
	e := readExchange(ex)
	if !ok {
		e.fail(C.ABLY_HTTP_FAIL_OTHER, "ablyauth: unknown HTTP transport state")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	t.mu.Lock()
	t.cancels[e.id] = cancel
	t.mu.Unlock()
	go t.perform(ctx, e)
}

//export ablyauthGoHTTPCancel
func ablyauthGoHTTPCancel(userData unsafe.Pointer, id C.uint64_t) {
	if t, ok := cgo.Handle(uintptr(userData)).Value().(*hostTransport); ok {
		t.mu.Lock()
		cancel := t.cancels[uint64(id)]
		t.mu.Unlock()
		if cancel != nil {
			cancel()
		}
	}
}

func (t *hostTransport) perform(ctx context.Context, e *exchange) {
	defer func() {
		t.mu.Lock()
		cancel := t.cancels[e.id]
		delete(t.cancels, e.id)
		t.mu.Unlock()
		cancel()
		if r := recover(); r != nil {
			e.fail(C.ABLY_HTTP_FAIL_OTHER, "ablyauth: the HTTP transport panicked")
		}
	}()
	req, err := http.NewRequestWithContext(ctx, e.method, e.url, bytes.NewReader(e.body))
	if err != nil {
		e.fail(C.ABLY_HTTP_FAIL_OTHER, err.Error())
		return
	}
	if e.body == nil {
		req.Body = http.NoBody
	}
	for _, h := range e.headers {
		req.Header.Add(h[0], h[1])
	}
	resp, err := t.client.Do(req)
	if err != nil {
		e.fail(failKind(err), err.Error())
		return
	}
	defer resp.Body.Close()
	// One byte over the limit is enough for the library to refuse the answer as too large.
	body, err := io.ReadAll(io.LimitReader(resp.Body, e.maxBody+1))
	if err != nil {
		e.fail(failKind(err), err.Error())
		return
	}
	e.respond(resp, body)
}

// failKind maps a net/http error to the ABLY_HTTP_FAIL_* kind that decides fallback.
func failKind(err error) C.int32_t {
	var dns *net.DNSError
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verification *tls.CertificateVerificationError
	var netErr net.Error
	switch {
	case errors.As(err, &dns):
		return C.ABLY_HTTP_FAIL_HOST_NOT_FOUND
	case errors.As(err, &unknownAuthority), errors.As(err, &hostname), errors.As(err, &invalid),
		errors.As(err, &verification):
		return C.ABLY_HTTP_FAIL_TLS
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return C.ABLY_HTTP_FAIL_TIMEOUT
	default:
		return C.ABLY_HTTP_FAIL_CONNECTION_FAILED
	}
}

// fail answers the exchange with a connection-level failure; a refusal (late answer) is
// dropped.
func (e *exchange) fail(kind C.int32_t, message string) {
	cmsg := C.CString(message)
	defer C.free(unsafe.Pointer(cmsg))
	C.ably_error_info_free(C.ably_http_exchange_fail(e.ptr, kind, cmsg))
}

// respond answers the exchange with the response; the header arrays live in C memory.
func (e *exchange) respond(resp *http.Response, body []byte) {
	var names, values []*C.char
	for name, vs := range resp.Header {
		for _, v := range vs {
			names = append(names, C.CString(name))
			values = append(values, C.CString(v))
		}
	}
	n := len(names)
	ptrSize := C.size_t(unsafe.Sizeof((*C.char)(nil)))
	cNames := (**C.char)(C.malloc(C.size_t(n+1) * ptrSize))
	cValues := (**C.char)(C.malloc(C.size_t(n+1) * ptrSize))
	copy(unsafe.Slice(cNames, n+1), names)
	copy(unsafe.Slice(cValues, n+1), values)
	var cBody unsafe.Pointer
	if len(body) > 0 {
		cBody = C.CBytes(body)
	}
	C.ably_error_info_free(C.ably_http_exchange_respond(e.ptr, C.int32_t(resp.StatusCode), cNames, cValues,
		C.size_t(n), (*C.uint8_t)(cBody), C.size_t(len(body))))
	for i := range names {
		C.free(unsafe.Pointer(names[i]))
		C.free(unsafe.Pointer(values[i]))
	}
	C.free(unsafe.Pointer(cNames))
	C.free(unsafe.Pointer(cValues))
	C.free(cBody)
}
