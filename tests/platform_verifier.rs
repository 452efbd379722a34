//! The platform certificate verifier option (issue 13, item 5). On Linux the verifier reads
//! the system trust store as OpenSSL finds it, and `SSL_CERT_FILE` overrides it: pointing it
//! at the loopback server's CA makes that CA trusted by the platform verifier and by nothing
//! else, which shows which verifier checked the certificate. This binary's only test owns
//! the environment.
#![cfg(target_os = "linux")]

mod common;
use common::*;

use ably_auth::Auth;

#[test]
fn the_platform_verifier_trusts_the_system_store_instead_of_the_bundled_roots() {
    let server = tls_server();
    let ca_file = std::env::temp_dir().join(format!("ably-auth-ca-{}.pem", std::process::id()));
    std::fs::write(&ca_file, server.ca_pem().unwrap()).unwrap();
    // SAFETY (set_var is unsafe in edition 2024): the only test of this binary.
    unsafe { std::env::set_var("SSL_CERT_FILE", &ca_file) };

    let mut bundled = key_options(&server);
    bundled.transport.extra_ca_pem.clear();
    let error = Auth::new(bundled.clone()).unwrap().time().unwrap_err();
    assert_eq!(
        error.code, 80000,
        "the bundled roots do not know the CA: {error}"
    );

    let mut platform = bundled;
    platform.transport.platform_verifier = true;
    let time = Auth::new(platform.clone()).unwrap().time();
    assert!(
        time.is_ok(),
        "the platform verifier reads SSL_CERT_FILE: {time:?}"
    );

    platform
        .transport
        .extra_ca_pem
        .push(server.ca_pem().unwrap());
    let error = Auth::new(platform).unwrap_err();
    assert_eq!(
        error.code, 40000,
        "extra CAs cannot be added to the platform verifier: {error}"
    );
    let _ = std::fs::remove_file(ca_file);
}
