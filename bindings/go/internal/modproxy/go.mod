// modproxy: a test tool of bindings/go/test-outside-module.sh, in a module of its own so
// that golang.org/x/mod stays out of the binding's go.mod and module zip.
module github.com/ably-auth/ably-auth/bindings/go/internal/modproxy

go 1.22.0

require golang.org/x/mod v0.22.0
