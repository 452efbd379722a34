// The ably-go oracle test (oracle_test.go) in a module of its own, so that ably-go and its
// dependencies never reach the go.sum of programs that use the binding. It builds the
// binding from this checkout (replace below); run it with bindings/go/run-tests.sh.
module github.com/ably-auth/ably-auth/bindings/go/internal/oracle

go 1.22

require (
	github.com/ably-auth/ably-auth/bindings/go v0.0.0
	github.com/ably/ably-go v1.3.0
)

require (
	github.com/ably/vcdiff-go v0.0.2 // indirect
	github.com/klauspost/compress v1.10.3 // indirect
	github.com/ugorji/go/codec v1.1.9 // indirect
	golang.org/x/sys v0.2.0 // indirect
	nhooyr.io/websocket v1.8.7 // indirect
)

replace github.com/ably-auth/ably-auth/bindings/go => ../..
