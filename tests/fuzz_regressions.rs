//! Regression tests for bugs found while fuzzing (inputs under `fuzz/regressions/<target>/`).

mod common;
use common::*;

/// `fuzz/regressions/time_body/time-2pow63`: `parse_time` accepts any positive u64, and
/// `Auth::time` computed the server offset as `server as i64 - local as i64`, which
/// overflows (a panic in debug builds, a wrapped offset in release) for a server time of
/// 2^63 ms or more. The offset now saturates.
#[test]
fn server_time_of_2_pow_63_ms_does_not_overflow_the_offset() {
    for body in ["[9223372036854775808]", "[18446744073709551615]", "[1e300]"] {
        let server = tls_server();
        server.push_rule(Rule::once(
            "/time",
            Action::Json {
                status: 200,
                body: body.to_owned(),
            },
        ));
        let auth = common::new_auth(key_options(&server)).unwrap();
        let time = auth.time().unwrap();
        assert!(time >= 1 << 63, "{body}: {time}");
        let offset = auth.server_time_offset().expect("the offset was learnt");
        assert!(offset > i64::MAX / 2, "{body}: offset {offset}");
    }
}
