//go:build cgo && ablyauth_external

package ablyauth

// Linkage left to the environment:
//
//	CGO_CFLAGS=-I/opt/ably-auth/include \
//	CGO_LDFLAGS="/opt/ably-auth/lib/libably_auth.a -lm -ldl -lpthread" \
//	go build -tags ablyauth_external
