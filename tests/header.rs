//! The committed C header must equal a fresh cbindgen generation.
//! Regenerate with `ABLY_AUTH_BLESS=1 cargo test --test header`.

use std::path::Path;

#[test]
fn committed_header_matches_fresh_generation() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut fresh = Vec::new();
    cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut fresh);
    let fresh = String::from_utf8(fresh).expect("UTF-8 header");
    let path = root.join("include/ably_auth.h");
    if std::env::var_os("ABLY_AUTH_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write include/ably_auth.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "include/ably_auth.h is stale: regenerate it with `ABLY_AUTH_BLESS=1 cargo test --test header`"
    );
}

/// Every name the header defines carries the library's prefix: a bare `CANCELLED` or
/// `SHUT_DOWN` macro would break any C or C++ program with an enumerator of that name (such
/// as gRPC's `StatusCode::CANCELLED`) that includes the header.
#[test]
fn every_macro_of_the_header_has_the_library_prefix() {
    let header =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/ably_auth.h"))
            .expect("include/ably_auth.h");
    let bare: Vec<&str> = header
        .lines()
        .filter_map(|line| line.strip_prefix("#define "))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|name| !name.starts_with("ABLY_"))
        .collect();
    assert!(bare.is_empty(), "macros without the ABLY_ prefix: {bare:?}");
}
