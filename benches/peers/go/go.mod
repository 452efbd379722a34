module github.com/ably-auth/ably-auth/benches/peers/go

go 1.22

require (
	github.com/ably-auth/ably-auth/bindings/go v0.0.0
	github.com/ably/ably-go v1.3.0
	github.com/golang-jwt/jwt/v5 v5.3.1
)

require (
	github.com/ably/vcdiff-go v0.0.2 // indirect
	github.com/klauspost/compress v1.10.3 // indirect
	github.com/ugorji/go/codec v1.1.9 // indirect
	golang.org/x/sys v0.2.0 // indirect
	nhooyr.io/websocket v1.8.7 // indirect
)

replace github.com/ably-auth/ably-auth/bindings/go => ../../../bindings/go
