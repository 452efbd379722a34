//go:build cgo && !ablyauth_pkgconfig && !ablyauth_external

package ablyauth

// Default linkage: the static library of an installed ably-auth, found through the
// pkg-config module ably_auth_static that `cmake --install` writes next to ably_auth.pc
// (<prefix>/lib/pkgconfig). It gives the header directory and names libably_auth.a by its
// path, so binaries do not need the shared library at run time:
//
//	PKG_CONFIG_PATH=<prefix>/lib/pkgconfig go build
//
// Opt-outs: -tags ablyauth_pkgconfig links the shared library (pkg-config module
// ably_auth); -tags ablyauth_external takes CGO_CFLAGS / CGO_LDFLAGS from the environment.

/*
#cgo pkg-config: ably_auth_static
*/
import "C"
