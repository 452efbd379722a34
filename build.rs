//! Generates `ably_auth_conf.h` (the 0/1 feature macros C sees at compile time) from
//! `include/ably_auth_conf.h.in`, as CMake's configure_file does: each
//! `@ABLY_AUTH_FEATURE_<NAME>@` becomes 1 when the Cargo feature `<name>` is on, else 0.
//! Written to `$OUT_DIR/include/` and, for cargo-only users, to `include/` next to the
//! libraries (`target/<profile>/include/ably_auth_conf.h`).

use std::path::{Path, PathBuf};
use std::{env, fs};

const TEMPLATE: &str = "include/ably_auth_conf.h.in";
const MARKER: &str = "@ABLY_AUTH_FEATURE_";

fn configure(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find(MARKER) {
        out.push_str(&rest[..start]);
        let after = &rest[start + MARKER.len()..];
        let end = after
            .find('@')
            .unwrap_or_else(|| panic!("{TEMPLATE}: unterminated {MARKER}"));
        let feature = &after[..end];
        let on = env::var_os(format!("CARGO_FEATURE_{feature}")).is_some();
        out.push_str(if on { "1" } else { "0" });
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn write(dir: &Path, text: &str) {
    fs::create_dir_all(dir).expect("create the include directory");
    let path = dir.join("ably_auth_conf.h");
    if fs::read_to_string(&path).ok().as_deref() != Some(text) {
        fs::write(&path, text).expect("write ably_auth_conf.h");
    }
}

fn main() {
    println!("cargo::rerun-if-changed={TEMPLATE}");
    let template = fs::read_to_string(TEMPLATE).expect("read include/ably_auth_conf.h.in");
    let text = configure(&template);
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    write(&out_dir.join("include"), &text);
    // OUT_DIR is <target>/<profile>/build/<pkg>-<hash>/out: the profile directory holds the
    // libraries users link.
    if let Some(profile_dir) = out_dir.ancestors().nth(3) {
        write(&profile_dir.join("include"), &text);
    }
}
