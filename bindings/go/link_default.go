//go:build !ablyauth_pkgconfig && !ablyauth_external

package ablyauth

// Default linkage: the static library that `cargo build --release` leaves in this
// repository's target/release, and the header in include/. The test binaries are then
// self-contained. Build with -tags ablyauth_pkgconfig (pkg-config module ably_auth, as
// installed by `cmake --install`) or -tags ablyauth_external (CGO_CFLAGS / CGO_LDFLAGS
// from the environment) to link a library from elsewhere.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: ${SRCDIR}/../../target/release/libably_auth.a -lm -ldl -lpthread
*/
import "C"
