package ablyauth_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	ablyauth "github.com/ably-auth/ably-auth/bindings/go"
)

// loopback is one ably-loopback-server process (the workspace crate tests/support), an
// Ably-compatible REST server on 127.0.0.1 with a /_control/ API.
type loopback struct {
	baseURL string
	port    int
	tls     bool
	caPEM   string
	client  *http.Client
	stdin   io.WriteCloser
	cmd     *exec.Cmd
}

// The server's default key (tests/support KeyConfig::default).
const serverKey = "appId.keyId:loopbackSecret0123456789"

func serverBinary(t testing.TB) string {
	if p := os.Getenv("ABLY_LOOPBACK_SERVER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("ABLY_LOOPBACK_SERVER=%s: %v", p, err)
		}
		return p
	}
	for _, dir := range []string{"release", "debug"} {
		p := filepath.Join("..", "..", "target", dir, "ably-loopback-server")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("ably-loopback-server not built: run bindings/go/run-tests.sh, or " +
		"cargo build --release -p ably-loopback --bin ably-loopback-server, or set ABLY_LOOPBACK_SERVER")
	return ""
}

func startLoopback(t testing.TB, useTLS bool) *loopback {
	t.Helper()
	args := []string{"--exit-on-stdin-eof"}
	caPath := ""
	if useTLS {
		caPath = filepath.Join(t.TempDir(), "ca.pem")
		args = append(args, "--tls", "--ca-out", caPath)
	}
	cmd := exec.Command(serverBinary(t), args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lb := &loopback{tls: useTLS, stdin: stdin, cmd: cmd}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "LISTENING ") {
		t.Fatalf("loopback server: %q, %v", line, err)
	}
	lb.baseURL = strings.TrimSpace(strings.TrimPrefix(line, "LISTENING "))
	u, err := url.Parse(lb.baseURL)
	if err != nil {
		t.Fatal(err)
	}
	if lb.port, err = strconv.Atoi(u.Port()); err != nil {
		t.Fatal(err)
	}
	lb.client = &http.Client{Timeout: 10 * time.Second}
	if useTLS {
		pem, err := os.ReadFile(caPath)
		if err != nil {
			t.Fatal(err)
		}
		lb.caPEM = string(pem)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		lb.client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	return lb
}

// options points an Auth at the server: endpoint 127.0.0.1, its port and scheme, its CA,
// no fallback hosts, short timeouts.
func (lb *loopback) options() ablyauth.Options {
	o := ablyauth.Options{
		Endpoint:       "127.0.0.1",
		Port:           lb.port,
		TLSPort:        lb.port,
		NoTLS:          !lb.tls,
		FallbackHosts:  []string{},
		ConnectTimeout: 3 * time.Second,
		RequestTimeout: 5 * time.Second,
	}
	if lb.tls {
		o.CACertsPEM = []string{lb.caPEM}
	}
	return o
}

func (lb *loopback) control(t testing.TB, method, what string, body any) []byte {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, lb.baseURL+"/_control/"+what, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := lb.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("control %s %s: %d %s", method, what, resp.StatusCode, out)
	}
	return out
}

// mint registers a token at the server (MintSpec JSON) and returns its TokenDetails.
func (lb *loopback) mint(t testing.TB, spec map[string]any) ablyauth.TokenDetails {
	t.Helper()
	var td ablyauth.TokenDetails
	if err := json.Unmarshal(lb.control(t, "POST", "mint", spec), &td); err != nil {
		t.Fatal(err)
	}
	return td
}

func (lb *loopback) rule(t testing.TB, rule map[string]any) {
	t.Helper()
	lb.control(t, "POST", "rule", rule)
}

type recordedRequest struct {
	Method  string     `json:"method"`
	Path    string     `json:"path"`
	Headers [][]string `json:"headers"`
}

func (lb *loopback) requests(t testing.TB) []recordedRequest {
	var out []recordedRequest
	if err := json.Unmarshal(lb.control(t, "GET", "requests", nil), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func (lb *loopback) String() string { return fmt.Sprintf("loopback(%s)", lb.baseURL) }
