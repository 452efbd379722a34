module github.com/ably-auth/ably-auth/bindings/go

go 1.22
