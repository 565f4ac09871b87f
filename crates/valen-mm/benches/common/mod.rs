//! Shared by the benchmark binaries: a seeded PRNG, a timer that reports the
//! median over repetitions, and a Markdown table with ratios to the peers.
//!
//! Each benchmark generates its traces from fixed seeds before timing, runs
//! every implementation on the same trace in the same process, and reports
//! the median ns per operation. The machines are noisy: compare ratios from
//! one run, never absolute figures from different runs.

#![allow(dead_code)]

use std::hint::black_box;
use std::time::Instant;

/// SplitMix64: small, fast, deterministic for a seed.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, n)` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `[lo, hi]`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// Log-uniform in `[lo, hi]` (`lo > 0`).
    pub fn log_uniform(&mut self, lo: u64, hi: u64) -> u64 {
        let (a, b) = ((lo as f64).ln(), (hi as f64 + 1.0).ln());
        let x = a + (b - a) * (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (x.exp() as u64).clamp(lo, hi)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// Puts `v` in a random order (Fisher-Yates).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

/// Median of `reps` runs of `f`, in ns per operation. `setup` builds fresh
/// state for each run (not timed); `f` consumes it and returns how many
/// operations it performed.
pub fn median_ns_per_op<S, R>(
    reps: usize,
    mut setup: impl FnMut() -> S,
    mut f: impl FnMut(S) -> (u64, R),
) -> f64 {
    let mut samples = Vec::with_capacity(reps);
    for _ in 0..reps {
        let state = setup();
        let t = Instant::now();
        let (ops, result) = f(state);
        let dt = t.elapsed();
        black_box(result);
        samples.push(dt.as_nanos() as f64 / ops.max(1) as f64);
    }
    median(&mut samples)
}

/// The median of `v` (sorts it).
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One row of a results table: a workload and each implementation's figure.
pub struct Row {
    /// Workload name.
    pub name: String,
    /// `(implementation, value)`; the first entry is ours.
    pub values: Vec<(String, f64)>,
}

/// Prints a Markdown table: one column per implementation (value), then the
/// ratio `peer / ours` for each peer (above 1 means ours is faster when the
/// unit is time). `unit` is shown in the header.
pub fn print_table(title: &str, unit: &str, rows: &[Row]) {
    let Some(first) = rows.first() else { return };
    println!("\n### {title}\n");
    let names: Vec<&str> = first.values.iter().map(|(n, _)| n.as_str()).collect();
    print!("| workload |");
    for n in &names {
        print!(" {n} ({unit}) |");
    }
    for n in &names[1..] {
        print!(" {n} / ours |");
    }
    println!();
    print!("| --- |");
    for _ in 0..(2 * names.len() - 1) {
        print!(" ---: |");
    }
    println!();
    for r in rows {
        print!("| {} |", r.name);
        for (_, v) in &r.values {
            print!(" {} |", fmt_num(*v));
        }
        let ours = r.values[0].1;
        for (_, v) in &r.values[1..] {
            let ratio = v / ours;
            if ratio.is_finite() {
                print!(" {ratio:.2}x |");
            } else {
                print!(" - |");
            }
        }
        println!();
    }
}

fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}
