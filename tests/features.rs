//! The optional parts of the library are listed in several places that must agree
//! (issue 13, item 3): Cargo.toml's `[features]`, the CMake options of
//! cmake/AblyAuthCargo.cmake, include/ably_auth_conf.h.in (and the ably_auth_conf.h build.rs
//! generated for this build), the CMake package config and pkg-config file, and the bits of
//! `ably_auth_features()`. tests/c/test_features.c checks the CMake build's own header.

use std::path::Path;

use ably_auth::ffi::{ABLY_AUTH_FEATURE_MASK_HTTP_CLIENT, ably_auth_features};

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The Cargo features other than `default`, from Cargo.toml.
fn cargo_features() -> Vec<String> {
    let manifest = read("Cargo.toml");
    let section = manifest
        .split("\n[features]\n")
        .nth(1)
        .expect("Cargo.toml has [features]");
    section
        .lines()
        .take_while(|line| !line.starts_with('['))
        .filter_map(|line| line.split_once(" = ").map(|(name, _)| name.trim()))
        .filter(|name| !name.starts_with('#') && *name != "default")
        .map(str::to_owned)
        .collect()
}

fn macro_name(feature: &str) -> String {
    feature.to_uppercase().replace('-', "_")
}

/// Whether this build has `feature`, as the bits of ably_auth_features() say.
fn built_in(feature: &str) -> bool {
    let mask = match feature {
        "http-client" => ABLY_AUTH_FEATURE_MASK_HTTP_CLIENT,
        other => panic!("feature {other} has no ABLY_AUTH_FEATURE_MASK_* bit: add one"),
    };
    ably_auth_features() & mask != 0
}

#[test]
fn every_cargo_feature_is_listed_everywhere() {
    let features = cargo_features();
    assert_eq!(
        features,
        ["http-client"],
        "update this test's list and the places below"
    );
    let cmake = read("cmake/AblyAuthCargo.cmake");
    let template = read("include/ably_auth_conf.h.in");
    let package_config = read("cmake/AblyAuthConfig.cmake.in");
    let pkg_config = read("cmake/ably_auth.pc.in");
    for feature in &features {
        let name = macro_name(feature);
        assert!(
            cmake.contains(&format!("option(ABLY_AUTH_{name}\n")),
            "CMake option for {feature}"
        );
        assert!(
            cmake.contains(&format!("\"{name}:{feature}\"")),
            "CMake feature map for {feature}"
        );
        assert!(
            template.contains(&format!(
                "#define ABLY_AUTH_FEATURE_{name} @ABLY_AUTH_FEATURE_{name}@"
            )),
            "ably_auth_conf.h.in for {feature}"
        );
        assert!(
            package_config.contains(&format!(
                "set(ABLY_AUTH_FEATURE_{name} @ABLY_AUTH_FEATURE_{name}@)"
            )),
            "AblyAuthConfig.cmake.in for {feature}"
        );
        let pc_variable = feature.replace('-', "_");
        assert!(
            pkg_config.contains(&format!("\n{pc_variable}=@ABLY_AUTH_FEATURE_{name}@\n")),
            "ably_auth.pc.in for {feature}"
        );
    }
}

#[test]
fn the_generated_conf_header_and_ably_auth_features_match_this_build() {
    let generated = include_str!(concat!(env!("OUT_DIR"), "/include/ably_auth_conf.h"));
    assert!(!generated.contains('@'), "every placeholder replaced");
    // One entry per Cargo feature (every_cargo_feature_is_listed_everywhere checks the list).
    const BUILT: &[(&str, bool)] = &[("http-client", cfg!(feature = "http-client"))];
    for &(feature, on) in BUILT {
        let line = format!(
            "#define ABLY_AUTH_FEATURE_{} {}",
            macro_name(feature),
            u8::from(on)
        );
        assert!(generated.contains(&line), "ably_auth_conf.h: {line}");
        assert_eq!(built_in(feature), on, "ably_auth_features() for {feature}");
    }
    assert_eq!(
        ably_auth_features() & !ABLY_AUTH_FEATURE_MASK_HTTP_CLIENT,
        0,
        "no unknown bits"
    );
}

/// A networked call in a build without the built-in client and no host transport fails
/// with NOT_BUILT_IN; offline signing works in every build.
#[test]
fn networked_calls_without_a_client_fail_clearly() {
    let auth =
        ably_auth::Auth::new(ably_auth::ClientOptions::from_key("appId.keyId:keySecret").unwrap())
            .unwrap();
    assert!(auth.create_token_request(None, None).is_ok());
    assert!(auth.create_jwt(None, None).is_ok());
    if !cfg!(feature = "http-client") {
        let error = auth.time().unwrap_err();
        assert_eq!(
            error.code,
            ably_auth::ffi::ABLY_ERR_NOT_BUILT_IN as u32,
            "{error}"
        );
        assert!(error.message.contains("http-client"), "{error}");
        let mut options = ably_auth::ClientOptions::from_key("appId.keyId:keySecret").unwrap();
        options.transport.extra_ca_pem.push("pem".into());
        let error = ably_auth::Auth::new(options).unwrap_err();
        assert_eq!(
            error.code,
            ably_auth::ffi::ABLY_ERR_NOT_BUILT_IN as u32,
            "{error}"
        );
    }
}
