#![no_main]
// The checks live in src/checks.rs, shared with the stable replay test (tests/replay.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| ably_auth_fuzz::checks::capability(data));
