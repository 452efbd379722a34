//go:build ablyauth_pkgconfig

package ablyauth

// Linkage through pkg-config: PKG_CONFIG_PATH=<prefix>/lib/pkgconfig go build -tags ablyauth_pkgconfig.
// Static linking: also set CGO_LDFLAGS="$(pkg-config --static --libs ably_auth)".

/*
#cgo pkg-config: ably_auth
*/
import "C"
