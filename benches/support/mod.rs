//! The timing loop shared by the benchmarks: warm, black-boxed, median of samples.
#![allow(dead_code)]

use std::time::Instant;

/// Samples per case; the median is reported.
pub const SAMPLES: usize = 31;

/// Median nanoseconds per call of `f`, over SAMPLES samples sized to ~20 ms each.
pub fn measure(mut f: impl FnMut()) -> f64 {
    let mut iters = 1u64;
    loop {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        if start.elapsed().as_millis() >= 20 {
            break;
        }
        iters *= 2;
    }
    let mut samples: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[SAMPLES / 2]
}
