//go:build cgo && ablyauth_pkgconfig

package ablyauth

// Linkage against the shared library, through the pkg-config module ably_auth:
//
//	PKG_CONFIG_PATH=<prefix>/lib/pkgconfig go build -tags ablyauth_pkgconfig
//
// The program then needs libably_auth.so at run time: install into a prefix the loader
// searches (e.g. /usr/local, then ldconfig), or set LD_LIBRARY_PATH=<prefix>/lib.

/*
#cgo pkg-config: ably_auth
*/
import "C"
