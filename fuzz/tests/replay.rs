//! Replays every committed corpus and regression input through the fuzz checks on stable:
//! `cargo test --manifest-path fuzz/Cargo.toml` (the root crate's `tests/fuzz_replay.rs`
//! runs the same replay under plain `cargo test`).

#[test]
fn every_committed_input_passes_its_check() {
    ably_auth_fuzz::replay::replay_all(env!("CARGO_MANIFEST_DIR"));
}
