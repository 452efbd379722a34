package ablyauth_test

// Benchmarks of the binding's hot paths, for profiling (go test -bench . -cpuprofile);
// benches/peers/run.sh measures the same calls beside ably-go and golang-jwt.

import (
	"testing"

	ablyauth "github.com/ably-auth/ably-auth/bindings/go"
)

var benchParams = &ablyauth.TokenParams{
	TTL:        3_600_000,
	Capability: `{"channel1":["publish","subscribe"],"channel2":["subscribe"]}`,
	ClientID:   "client-1",
}

func BenchmarkCreateTokenRequest(b *testing.B) {
	a := newKeyAuth(b, ablyauth.Options{})
	for i := 0; i < b.N; i++ {
		if _, err := a.CreateTokenRequest(benchParams); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCreateJWT(b *testing.B) {
	a := newKeyAuth(b, ablyauth.Options{})
	for i := 0; i < b.N; i++ {
		if _, err := a.CreateJWT(benchParams); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRequestToken(b *testing.B) {
	lb := startLoopback(b, false)
	o := lb.options()
	o.Key, o.UseTokenAuth = serverKey, true
	a := newKeyAuth(b, o)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.RequestToken(nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}
