package ablyauth_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	ablyauth "github.com/ably-auth/ably-auth/bindings/go"
)

const testKey = "appId.keyId:keySecretValue"

func newKeyAuth(t testing.TB, o ablyauth.Options) *ablyauth.Auth {
	t.Helper()
	if o.Key == "" {
		o.Key = testKey
	}
	a, err := ablyauth.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// expectedMAC is Ably's TokenRequest mac (RSA9g), written from the spec.
func expectedMAC(secret string, r *ablyauth.TokenRequest) string {
	ttl := ""
	if r.TTL != 0 {
		ttl = fmt.Sprint(r.TTL)
	}
	text := strings.Join([]string{r.KeyName, ttl, r.Capability, r.ClientID,
		fmt.Sprint(r.Timestamp), r.Nonce}, "\n") + "\n"
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(text))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestVersion(t *testing.T) {
	if got := ablyauth.Version(); got != ablyauth.HeaderVersion {
		t.Fatalf("library %q, header %q", got, ablyauth.HeaderVersion)
	}
}

func TestCreateTokenRequestOffline(t *testing.T) {
	a := newKeyAuth(t, ablyauth.Options{ClientID: "server"})
	req, err := a.CreateTokenRequest(&ablyauth.TokenParams{
		TTL:        60_000,
		Capability: `{"chat:*":["subscribe","publish"],"a":["*"]}`,
		ClientID:   "player-42",
	})
	if err != nil {
		t.Fatal(err)
	}
	if req.KeyName != "appId.keyId" || req.TTL != 60_000 || req.ClientID != "player-42" {
		t.Fatalf("unexpected request %+v", req)
	}
	if req.Capability != `{"a":["*"],"chat:*":["publish","subscribe"]}` {
		t.Fatalf("capability not canonical: %s", req.Capability)
	}
	if len(req.Nonce) < 16 || req.Timestamp == 0 {
		t.Fatalf("nonce %q timestamp %d", req.Nonce, req.Timestamp)
	}
	if want := expectedMAC("keySecretValue", req); req.MAC != want {
		t.Fatalf("mac %s, want %s", req.MAC, want)
	}
	// The JSON a client gets: Ably's field names, numbers as numbers.
	b, _ := json.Marshal(req)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"keyName", "ttl", "capability", "clientId", "timestamp", "nonce", "mac"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("JSON lacks %s: %s", k, b)
		}
	}

	// nil params: the defaults, and the options' clientId; ttl and capability left out.
	def, err := a.CreateTokenRequest(nil)
	if err != nil {
		t.Fatal(err)
	}
	if def.ClientID != "server" || def.TTL != 0 || def.Capability != "" {
		t.Fatalf("defaults: %+v", def)
	}
	if def.Nonce == req.Nonce {
		t.Fatal("nonce reused")
	}
	if want := expectedMAC("keySecretValue", def); def.MAC != want {
		t.Fatalf("mac %s, want %s", def.MAC, want)
	}

	// Fixed timestamp and nonce are used as given.
	fixed, err := a.CreateTokenRequest(&ablyauth.TokenParams{Timestamp: 1_700_000_000_000, Nonce: "0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	if fixed.Timestamp != 1_700_000_000_000 || fixed.Nonce != "0123456789abcdef" {
		t.Fatalf("fixed: %+v", fixed)
	}
}

// CreateTokenRequest and CreateJWT guess the size of the result; a key name longer than the
// guess makes the library report the size needed, and the call is repeated.
func TestIssuingBeyondTheFirstBufferGuess(t *testing.T) {
	keyName := "app." + strings.Repeat("k", 600)
	a := newKeyAuth(t, ablyauth.Options{AuthOptions: ablyauth.AuthOptions{Key: keyName + ":secret"}})
	req, err := a.CreateTokenRequest(nil)
	if err != nil {
		t.Fatal(err)
	}
	if req.KeyName != keyName || req.MAC != expectedMAC("secret", req) {
		t.Fatalf("long key name: %+v", req)
	}
	jwt, err := a.CreateJWT(&ablyauth.TokenParams{ClientID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if parts := strings.Split(jwt, "."); len(parts) != 3 || len(jwt) < 600 {
		t.Fatalf("long key name: JWT %q", jwt)
	}
}

func TestIssuingRefusesNULBytes(t *testing.T) {
	a := newKeyAuth(t, ablyauth.Options{})
	bad := &ablyauth.TokenParams{ClientID: "a\x00b"}
	if _, err := a.CreateTokenRequest(bad); ablyauth.Code(err) != ablyauth.ErrInvalidArgument ||
		!strings.Contains(err.Error(), "NUL") {
		t.Fatalf("CreateTokenRequest: %v", err)
	}
	if _, err := a.CreateJWT(bad); ablyauth.Code(err) != ablyauth.ErrInvalidArgument {
		t.Fatalf("CreateJWT: %v", err)
	}
}

func TestDefaultTokenParams(t *testing.T) {
	a := newKeyAuth(t, ablyauth.Options{DefaultTokenParams: &ablyauth.TokenParams{TTL: 5000, ClientID: "d"}})
	r, err := a.CreateTokenRequest(nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.TTL != 5000 || r.ClientID != "d" {
		t.Fatalf("%+v", r)
	}
	// Explicit params replace the defaults as a whole (RSA9h).
	r, err = a.CreateTokenRequest(&ablyauth.TokenParams{Capability: `{"x":["publish"]}`})
	if err != nil {
		t.Fatal(err)
	}
	if r.TTL != 0 || r.ClientID != "" {
		t.Fatalf("%+v", r)
	}
}

func TestCreateJWT(t *testing.T) {
	a := newKeyAuth(t, ablyauth.Options{})
	jwt, err := a.CreateJWT(&ablyauth.TokenParams{TTL: 120_000, ClientID: "bob", Capability: `{"c":["subscribe"]}`})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %s", jwt)
	}
	m := hmac.New(sha256.New, []byte("keySecretValue"))
	m.Write([]byte(parts[0] + "." + parts[1]))
	if base64.RawURLEncoding.EncodeToString(m.Sum(nil)) != parts[2] {
		t.Fatal("bad JWT signature")
	}
	var header, claims map[string]any
	decode := func(s string, v any) {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	decode(parts[0], &header)
	decode(parts[1], &claims)
	if header["kid"] != "appId.keyId" || header["alg"] != "HS256" {
		t.Fatalf("header %v", header)
	}
	if claims["x-ably-clientId"] != "bob" || claims["exp"].(float64)-claims["iat"].(float64) != 120 {
		t.Fatalf("claims %v", claims)
	}
}

// jwtParts decodes a JWT's header and claims and checks its HS256 signature with secret.
func jwtParts(t *testing.T, jwt string, secret string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %s", jwt)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(parts[0] + "." + parts[1]))
	if base64.RawURLEncoding.EncodeToString(m.Sum(nil)) != parts[2] {
		t.Fatal("bad JWT signature")
	}
	for i, v := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}

func TestJWTRevocationKey(t *testing.T) {
	a := newKeyAuth(t, ablyauth.Options{})
	jwt, err := a.CreateJWT(&ablyauth.TokenParams{RevocationKey: "group-7"})
	if err != nil {
		t.Fatal(err)
	}
	if _, claims := jwtParts(t, jwt, "keySecretValue"); claims["x-ably-revocation-key"] != "group-7" {
		t.Fatalf("claims %v", claims)
	}
	// A TokenRequest cannot carry it: refused rather than dropped.
	_, err = a.CreateTokenRequest(&ablyauth.TokenParams{RevocationKey: "group-7"})
	if ablyauth.Code(err) != ablyauth.ErrInvalidArgument {
		t.Fatalf("TokenRequest with a revocation key: %v", err)
	}
}

func TestEmbedTokenInJWT(t *testing.T) {
	expires := time.UnixMilli(1_700_000_003_999)
	jwt, err := ablyauth.EmbedTokenInJWT("appId.tok-en_1", expires, []byte("app-secret"))
	if err != nil {
		t.Fatal(err)
	}
	header, claims := jwtParts(t, jwt, "app-secret")
	if header["x-ably-token"] != "appId.tok-en_1" || header["alg"] != "HS256" || header["kid"] != nil {
		t.Fatalf("header %v", header)
	}
	if claims["exp"] != float64(1_700_000_003) {
		t.Fatalf("claims %v", claims)
	}
	if _, err := ablyauth.EmbedTokenInJWT("tok", expires, nil); ablyauth.Code(err) != ablyauth.ErrInvalidArgument {
		t.Fatalf("empty secret: %v", err)
	}
}

func TestErrorsAs(t *testing.T) {
	cases := []struct {
		name string
		o    ablyauth.Options
		code int
	}{
		{"no credentials", ablyauth.Options{}, ablyauth.ErrNoAuthMethod},
		{"malformed key", ablyauth.Options{AuthOptions: ablyauth.AuthOptions{Key: "not-a-key"}}, ablyauth.ErrInvalidCredentials},
		{"wildcard clientId", ablyauth.Options{AuthOptions: ablyauth.AuthOptions{Key: testKey}, ClientID: "*"}, ablyauth.ErrInvalidClientID},
		{"NUL in key", ablyauth.Options{AuthOptions: ablyauth.AuthOptions{Key: testKey + "\x00x"}}, ablyauth.ErrInvalidArgument},
		{"bad port", ablyauth.Options{AuthOptions: ablyauth.AuthOptions{Key: testKey}, Port: 70000}, ablyauth.ErrInvalidArgument},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := ablyauth.New(c.o)
			if err == nil {
				a.Close()
				t.Fatal("New succeeded")
			}
			var info *ablyauth.ErrorInfo
			if !errors.As(err, &info) {
				t.Fatalf("%T is not an *ErrorInfo", err)
			}
			if info.Code != c.code || info.Message == "" {
				t.Fatalf("got %v, want code %d", info, c.code)
			}
			if strings.Contains(err.Error(), "keySecretValue") {
				t.Fatal("the error quotes the secret")
			}
		})
	}
	a := newKeyAuth(t, ablyauth.Options{})
	_, err := a.CreateTokenRequest(&ablyauth.TokenParams{Capability: `{"x":["Fly"]}`})
	if ablyauth.Code(err) != ablyauth.ErrInvalidArgument {
		t.Fatalf("bad capability: %v", err)
	}
	_, err = a.CreateTokenRequest(&ablyauth.TokenParams{TTL: -1})
	if ablyauth.Code(err) != ablyauth.ErrInvalidArgument {
		t.Fatalf("negative ttl: %v", err)
	}
	// Without a key: 40101 from createTokenRequest.
	tok, err := ablyauth.New(ablyauth.Options{AuthOptions: ablyauth.AuthOptions{Token: "abc.def"}})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	_, err = tok.CreateTokenRequest(nil)
	var info *ablyauth.ErrorInfo
	if !errors.As(err, &info) || info.Code != ablyauth.ErrInvalidCredentials || info.StatusCode != 403 {
		t.Fatalf("token-only createTokenRequest: %v", err)
	}
	td, err := tok.TokenDetails()
	if err != nil || td == nil || td.Token != "abc.def" {
		t.Fatalf("TokenDetails: %+v %v", td, err)
	}
}

func TestCloseTwiceAndUseAfterClose(t *testing.T) {
	a, err := ablyauth.New(ablyauth.Options{AuthOptions: ablyauth.AuthOptions{Key: testKey}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateTokenRequest(nil); ablyauth.Code(err) != ablyauth.ErrInvalidArgument {
		t.Fatalf("after Close: %v", err)
	}
	if _, err := a.ClientID(); ablyauth.Code(err) != ablyauth.ErrInvalidArgument {
		t.Fatalf("after Close: %v", err)
	}
}

func TestFinalizerFreesForgottenAuth(t *testing.T) {
	freed := make(chan struct{}, 16)
	for i := 0; i < 8; i++ {
		_, err := ablyauth.New(ablyauth.Options{
			AuthOptions: ablyauth.AuthOptions{Key: testKey},
			// The log sink's handle is deleted when the library frees the Auth; a sink
			// that refers to nothing of the Auth keeps it collectable.
			Log: newSentinel(freed),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 20 && len(freed) < 8; i++ {
		runtime.GC()
		runtime.Gosched()
	}
	if len(freed) < 8 {
		t.Fatalf("only %d of 8 forgotten Auths were freed", len(freed))
	}
}

// newSentinel returns a log func whose closure object reports when it is collected,
// i.e. once the library dropped the cgo.Handle (free_user_data ran).
func newSentinel(freed chan struct{}) func(ablyauth.LogLevel, string) {
	box := &struct{ _ [16]byte }{}
	runtime.SetFinalizer(box, func(*struct{ _ [16]byte }) { freed <- struct{}{} })
	return func(ablyauth.LogLevel, string) { _ = box }
}
