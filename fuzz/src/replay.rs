//! Replay of the committed inputs (`corpus/<target>/*`, `regressions/<target>/*`) through
//! [`checks`](super::checks). Shared by `fuzz/tests/replay.rs` and the root crate's
//! `tests/fuzz_replay.rs`, which include this file and `checks.rs` by path.

use std::fs;
use std::path::Path;

use super::checks;

/// Run every committed input under `fuzz_dir` through its target's check; panics naming the
/// file on the first failure, and when a target has no seed corpus.
pub fn replay_all(fuzz_dir: impl AsRef<Path>) {
    let fuzz_dir = fuzz_dir.as_ref();
    let mut total = 0;
    for kind in ["corpus", "regressions"] {
        let root = fuzz_dir.join(kind);
        let Ok(dirs) = fs::read_dir(&root) else {
            assert_eq!(kind, "regressions", "{} is missing", root.display());
            continue;
        };
        for dir in dirs {
            let dir = dir.expect("readable directory").path();
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let check = checks::target(&name)
                .unwrap_or_else(|| panic!("{} names no fuzz target", dir.display()));
            let mut files: Vec<_> = fs::read_dir(&dir)
                .expect("readable directory")
                .map(|e| e.expect("readable entry").path())
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            for file in files {
                let data = fs::read(&file).expect("readable input");
                let outcome = std::panic::catch_unwind(|| check(&data));
                assert!(
                    outcome.is_ok(),
                    "{name}: {} fails its check",
                    file.display()
                );
                total += 1;
            }
        }
    }
    for (name, _) in checks::TARGETS {
        let dir = fuzz_dir.join("corpus").join(name);
        let seeds = fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        assert!(
            seeds > 0,
            "target {name} has no seed corpus in {}",
            dir.display()
        );
    }
    eprintln!("replayed {total} fuzz inputs");
}
