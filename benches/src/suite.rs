//! The measurements behind `gc-stress alloc`: the interleaved best-of-N
//! comparison matrix, the RSS probe and the burst-rounds policy comparison.

use std::error::Error;
use std::time::{Duration, Instant};

use gc_core::alloc::{HeapConfig, MallocStats};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::allocators::{CONTENDER_NAMES, Contender, OursHeap};
use crate::kernels::{self, Pattern};
use crate::rss::current_rss_bytes;

/// Boxed error used by the suite.
pub type SuiteError = Box<dyn Error + Send + Sync>;

/// Parameters of the comparison matrix.
#[derive(Debug, Clone)]
pub struct MatrixConfig {
    /// Block sizes to measure (each in `1..=512`).
    pub sizes: Vec<usize>,
    /// Patterns to measure.
    pub patterns: Vec<Pattern>,
    /// Alloc+free pairs per LIFO repetition.
    pub pairs: usize,
    /// Live blocks per FIFO / reverse / shuffle repetition.
    pub live: usize,
    /// Repetitions; the best (minimum) time is kept.
    pub reps: usize,
    /// Seed for the shuffled free order.
    pub seed: u64,
}

/// Best time of each contender for one pattern and size.
#[derive(Debug, Clone)]
pub struct Row {
    /// The pattern.
    pub pattern: Pattern,
    /// Block size in bytes.
    pub size: usize,
    /// Pairs (LIFO) or live blocks (other patterns) per repetition.
    pub count: usize,
    /// Best nanoseconds per alloc+free pair, indexed like [`CONTENDER_NAMES`].
    pub ns_per_pair: [f64; 4],
}

impl Row {
    /// `ns(ours) / ns(other)`: lower is better for ours.
    pub fn ratio(&self, ours: usize, other: usize) -> f64 {
        self.ns_per_pair[ours] / self.ns_per_pair[other]
    }
}

/// Geometric mean of positive values; `None` if there are none.
pub fn geomean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values
        .into_iter()
        .fold((0.0_f64, 0_usize), |(s, n), v| (s + v.ln(), n + 1));
    (n > 0).then(|| (sum / n as f64).exp())
}

/// Runs the matrix: for each pattern and size, `reps` repetitions; within a
/// repetition every contender runs once (rotating who goes first), so all of
/// them see the same machine state. Keeps the best time per contender.
/// `progress` is called with a short description before each pattern/size.
pub fn run_matrix(
    cfg: &MatrixConfig,
    contenders: &mut [Contender; CONTENDER_NAMES.len()],
    mut progress: impl FnMut(&str),
) -> Result<Vec<Row>, SuiteError> {
    let mut rows = Vec::new();
    let mut ptrs: Vec<*mut u8> = Vec::new();
    for &pattern in &cfg.patterns {
        let count = match pattern {
            Pattern::Lifo | Pattern::LifoWarm => cfg.pairs,
            Pattern::Live(_) => cfg.live,
        };
        for &size in &cfg.sizes {
            progress(&format!("{} size {size}", pattern.name()));
            let seed = cfg.seed ^ (size as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut best = [Duration::MAX; 4];
            for rep in 0..cfg.reps {
                for k in 0..contenders.len() {
                    let i = (rep + k) % contenders.len();
                    let elapsed = contenders[i].run(pattern, size, count, seed, &mut ptrs)?;
                    best[i] = best[i].min(elapsed);
                }
            }
            for c in contenders.iter() {
                c.validate().map_err(|msg| {
                    format!(
                        "our heap failed validation after {} size {size}: {msg}",
                        pattern.name()
                    )
                })?;
            }
            let ns_per_pair = best.map(|d| d.as_nanos() as f64 / count.max(1) as f64);
            rows.push(Row {
                pattern,
                size,
                count,
                ns_per_pair,
            });
        }
    }
    Ok(rows)
}

/// `n` block sizes drawn uniformly from `16..=64` with `seed`.
pub fn small_sizes(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen_range(16..=64)).collect()
}

/// Result of [`rss_probe`].
#[derive(Debug, Clone)]
pub struct RssReport {
    /// Number of live blocks at the peak.
    pub blocks: usize,
    /// RSS after creating the heap and the bookkeeping vectors.
    pub before: usize,
    /// RSS with all blocks live.
    pub peak: usize,
    /// RSS after freeing every block (no trim call).
    pub after: usize,
    /// `bytes_in_allocated_blocks` at the peak.
    pub peak_allocated_bytes: usize,
    /// Arenas in use at the peak.
    pub peak_arenas: usize,
    /// Arenas still mapped after freeing everything.
    pub after_arenas: usize,
    /// Of those, arenas kept mapped but decommitted (pages given back).
    pub after_reserved_arenas: usize,
    /// Arenas given back to the OS during the run.
    pub arenas_reclaimed: usize,
    /// `Display` of the heap statistics at the peak.
    pub peak_stats: String,
}

impl RssReport {
    /// `after - before` in bytes (may be negative).
    pub fn delta(&self) -> i64 {
        self.after as i64 - self.before as i64
    }
}

/// RSS target after freeing everything: within 2 MiB of the start.
pub const RSS_TARGET_BYTES: i64 = 2 << 20;

/// Allocates `blocks` blocks of sizes 16..=64 from a fresh default
/// [`gc_core::alloc::Heap`],
/// frees them all in shuffled order and samples the RSS before, at the peak
/// and after. The allocator is not asked to trim: it must give memory back
/// on its own.
pub fn rss_probe(blocks: usize, seed: u64) -> Result<RssReport, SuiteError> {
    let sizes = small_sizes(blocks, seed);
    // Touch the bookkeeping memory before the first sample so that it is
    // part of the baseline (`resize` writes every element).
    let mut live: Vec<(*mut u8, u8)> = Vec::with_capacity(blocks);
    live.resize(blocks, (std::ptr::null_mut(), 0));
    live.clear();
    let mut ours = OursHeap::new();

    let before = current_rss_bytes()?;
    if let Err(e) = kernels::alloc_sized(&mut ours, &sizes, &mut live) {
        kernels::free_sized_all(&mut ours, &mut live);
        return Err(e.into());
    }
    let peak = current_rss_bytes()?;
    let peak_stats: MallocStats = ours.heap().stats();
    let peak_allocated_bytes = peak_stats.bytes_in_allocated_blocks;
    let peak_arenas = peak_stats.arenas_current;
    let peak_stats = peak_stats.to_string();

    live.shuffle(&mut SmallRng::seed_from_u64(seed.wrapping_add(1)));
    kernels::free_sized_all(&mut ours, &mut live);
    let after = current_rss_bytes()?;
    let end_stats = ours.heap().stats();
    ours.heap()
        .validate()
        .map_err(|msg| format!("our heap failed validation after the RSS probe: {msg}"))?;
    if end_stats.bytes_in_allocated_blocks != 0 {
        return Err(format!(
            "our heap reports {} bytes still allocated after freeing every block",
            end_stats.bytes_in_allocated_blocks
        )
        .into());
    }

    Ok(RssReport {
        blocks,
        before,
        peak,
        after,
        peak_allocated_bytes,
        peak_arenas,
        after_arenas: end_stats.arenas_current,
        after_reserved_arenas: end_stats.arenas_reserved,
        arenas_reclaimed: end_stats.arenas_reclaimed,
        peak_stats,
    })
}

/// Result of [`burst_rounds`] for one heap policy.
#[derive(Debug, Clone)]
pub struct BurstReport {
    /// `"default"` or `"cpython"`.
    pub policy: &'static str,
    /// Wall time of each round (allocate all blocks, then free them all).
    pub round_times: Vec<Duration>,
    /// `arenas_allocated_total` at the end: how many arenas were mapped.
    pub arenas_allocated_total: usize,
    /// `arenas_reclaimed` at the end: how many were given back.
    pub arenas_reclaimed: usize,
    /// Arenas still mapped at the end.
    pub arenas_current: usize,
}

impl BurstReport {
    /// Mean round time in milliseconds.
    pub fn mean_ms(&self) -> f64 {
        let total: Duration = self.round_times.iter().sum();
        total.as_secs_f64() * 1e3 / self.round_times.len().max(1) as f64
    }

    /// Best round time in milliseconds.
    pub fn min_ms(&self) -> f64 {
        self.round_times
            .iter()
            .min()
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    }

    /// First round time in milliseconds (cold heap).
    pub fn first_ms(&self) -> f64 {
        self.round_times
            .first()
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    }
}

/// `rounds` rounds of allocating `blocks` blocks of sizes 16..=64 and freeing
/// them all (in allocation order), on a heap with `HeapConfig::default()` and
/// one with `HeapConfig::cpython()`, alternating between the two each round.
pub fn burst_rounds(
    rounds: usize,
    blocks: usize,
    seed: u64,
) -> Result<[BurstReport; 2], SuiteError> {
    let sizes = small_sizes(blocks, seed);
    let mut live: Vec<(*mut u8, u8)> = Vec::with_capacity(blocks);
    let mut heaps = [
        ("default", OursHeap::with_config(HeapConfig::default())),
        ("cpython", OursHeap::with_config(HeapConfig::cpython())),
    ];
    let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        for k in 0..heaps.len() {
            let i = (round + k) % heaps.len();
            let ours = &mut heaps[i].1;
            let start = Instant::now();
            let result = kernels::alloc_sized(ours, &sizes, &mut live);
            kernels::free_sized_all(ours, &mut live);
            times[i].push(start.elapsed());
            result?;
        }
    }
    let mut reports = Vec::with_capacity(2);
    for ((policy, mut ours), round_times) in heaps.into_iter().zip(times) {
        ours.heap()
            .validate()
            .map_err(|msg| format!("{policy} heap failed validation after bursts: {msg}"))?;
        let stats = ours.heap().stats();
        reports.push(BurstReport {
            policy,
            round_times,
            arenas_allocated_total: stats.arenas_allocated_total,
            arenas_reclaimed: stats.arenas_reclaimed,
            arenas_current: stats.arenas_current,
        });
    }
    let [a, b]: [BurstReport; 2] = reports
        .try_into()
        .map_err(|_| "internal error: expected two burst reports")?;
    Ok([a, b])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geomean_basics() {
        assert_eq!(geomean([]), None);
        let g = geomean([1.0, 4.0]).unwrap();
        assert!((g - 2.0).abs() < 1e-12);
    }

    #[test]
    fn small_matrix_runs() {
        let cfg = MatrixConfig {
            sizes: vec![16, 512],
            patterns: Pattern::ALL.to_vec(),
            pairs: 1000,
            live: 1000,
            reps: 2,
            seed: 1,
        };
        let mut contenders = Contender::all();
        let rows = run_matrix(&cfg, &mut contenders, |_| {}).unwrap();
        assert_eq!(rows.len(), 10);
        assert!(
            rows.iter()
                .all(|r| r.ns_per_pair.iter().all(|&ns| ns > 0.0))
        );
    }

    #[test]
    fn small_rss_probe_and_bursts() {
        let r = rss_probe(10_000, 3).unwrap();
        assert!(r.peak_allocated_bytes >= 10_000 * 16);
        let [d, c] = burst_rounds(2, 10_000, 3).unwrap();
        assert_eq!(d.round_times.len(), 2);
        assert_eq!(c.round_times.len(), 2);
    }
}
