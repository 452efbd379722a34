//go:build !cgo

package ablyauth

// The package calls the ably-auth C library through cgo, so it cannot be built with
// CGO_ENABLED=0 (or for a target without a C toolchain). Instead of a list of undefined
// symbols, the build fails on this one line, whose name says what to do.
var _ = ablyauth_requires_cgo_set_CGO_ENABLED_1_and_install_a_C_compiler
