//! Replays every committed fuzz input (`fuzz/corpus/<target>/*`, `fuzz/regressions/<target>/*`)
//! through the fuzz targets' checks, on stable, under plain `cargo test`. The checks are the
//! ones the cargo-fuzz targets run (`fuzz/src/checks.rs`), included by path.

#[path = "../fuzz/src/checks.rs"]
#[allow(dead_code)]
mod checks;
#[path = "../fuzz/src/replay.rs"]
mod replay;

#[test]
fn every_committed_fuzz_input_passes_its_check() {
    replay::replay_all(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz"));
}
