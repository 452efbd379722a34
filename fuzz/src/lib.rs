//! Fuzzing support for ably-auth: the checking functions shared by the cargo-fuzz targets
//! (`fuzz_targets/`) and the stable replay tests (`tests/replay.rs` here and the root
//! `tests/fuzz_replay.rs`, which includes `checks.rs` by path).

pub mod checks;
pub mod replay;
