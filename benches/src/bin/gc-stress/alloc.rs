//! The `alloc` workload: our allocator against the system allocator and mimalloc.

use std::io::{IsTerminal, Write};

use clap::{Args, ValueEnum};
use gc_bench::allocators::{CONTENDER_NAMES, Contender, OursHeap};
use gc_bench::kernels::{FreeOrder, Pattern};
use gc_bench::rss::mib;
use gc_bench::suite::{
    self, BurstReport, MatrixConfig, RSS_TARGET_BYTES, Row, RssReport, SuiteError, geomean,
};
use gc_core::alloc::{HeapConfig, SMALL_REQUEST_THRESHOLD};
use serde_json::{Map, Value, json};
/// A timed allocation pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PatternArg {
    /// Allocate one block and free it right away, over and over, with no other block of
    /// that size live (each free empties our pool).
    Lifo,
    /// As lifo, but one other block of the same size stays live (the steady state).
    #[value(name = "lifo_warm")]
    LifoWarm,
    /// Allocate N blocks, then free them oldest first.
    Fifo,
    /// Allocate N blocks, then free them newest first.
    Reverse,
    /// Allocate N blocks, then free them in a seeded random order.
    Shuffle,
}

impl From<PatternArg> for Pattern {
    fn from(p: PatternArg) -> Self {
        match p {
            PatternArg::Lifo => Pattern::Lifo,
            PatternArg::LifoWarm => Pattern::LifoWarm,
            PatternArg::Fifo => Pattern::Live(FreeOrder::Fifo),
            PatternArg::Reverse => Pattern::Live(FreeOrder::Reverse),
            PatternArg::Shuffle => Pattern::Live(FreeOrder::Shuffle),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct AllocArgs {
    /// Block sizes in bytes, comma-separated, each in 1..=512.
    #[arg(
        long,
        value_delimiter = ',',
        value_parser = parse_block_size,
        default_value = "16,32,64,128,256,512"
    )]
    sizes: Vec<usize>,

    /// Patterns to time, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        value_enum,
        default_value = "lifo,lifo_warm,fifo,reverse,shuffle"
    )]
    patterns: Vec<PatternArg>,

    /// Alloc+free pairs per lifo / lifo_warm repetition.
    #[arg(long, default_value_t = 2_000_000, value_parser = parse_positive)]
    pairs: usize,

    /// Live blocks per FIFO / reverse / shuffle repetition.
    #[arg(long, default_value_t = 1_000_000, value_parser = parse_positive)]
    live: usize,

    /// Repetitions per measurement; the best (minimum) time is reported.
    #[arg(long, default_value_t = 3, value_parser = parse_positive)]
    reps: usize,

    /// Seed for the shuffled free order and the random block sizes.
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,

    /// Live blocks (sizes 16..=64) at the RSS peak; 0 skips the RSS section.
    #[arg(long, default_value_t = 1_000_000)]
    rss_blocks: usize,

    /// Rounds of the burst comparison; 0 skips the burst section.
    #[arg(long, default_value_t = 20)]
    burst_rounds: usize,

    /// Blocks (sizes 16..=64) allocated and freed per burst round.
    #[arg(long, default_value_t = 1_000_000, value_parser = parse_positive)]
    burst_blocks: usize,

    /// Empty arenas our `Heap` keeps resident between repetitions (default 1, as
    /// CPython). More trades RSS for speed: a burst freed and allocated again then skips
    /// the page faults of refilling decommitted arenas, as mimalloc and glibc do.
    #[arg(long, default_value_t = 1)]
    retain_arenas: usize,

    /// Also print our heap's statistics at the RSS peak (to stderr with --json).
    #[arg(long)]
    show_stats: bool,

    /// Print exactly one JSON object on stdout instead of tables.
    #[arg(long)]
    json: bool,
}

fn parse_block_size(s: &str) -> Result<usize, String> {
    let size: usize = s
        .trim()
        .parse()
        .map_err(|e| format!("`{s}` is not a block size: {e}"))?;
    if size == 0 || size > SMALL_REQUEST_THRESHOLD {
        return Err(format!(
            "block size {size} is out of range: sizes must be in 1..={SMALL_REQUEST_THRESHOLD} \
             (the small-request threshold)"
        ));
    }
    Ok(size)
}

pub fn parse_positive(s: &str) -> Result<usize, String> {
    let n: usize = s
        .trim()
        .replace('_', "")
        .parse()
        .map_err(|e| format!("`{s}` is not a count: {e}"))?;
    if n == 0 {
        return Err("must be at least 1".to_owned());
    }
    Ok(n)
}

pub fn run_alloc(args: &AllocArgs) -> Result<(), SuiteError> {
    let mut sizes = Vec::with_capacity(args.sizes.len());
    for &s in &args.sizes {
        if !sizes.contains(&s) {
            sizes.push(s);
        }
    }
    let mut patterns: Vec<Pattern> = Vec::new();
    for &p in &args.patterns {
        let p = Pattern::from(p);
        if !patterns.contains(&p) {
            patterns.push(p);
        }
    }
    let cfg = MatrixConfig {
        sizes,
        patterns,
        pairs: args.pairs,
        live: args.live,
        reps: args.reps,
        seed: args.seed,
    };

    let show_progress = std::io::stderr().is_terminal();
    let progress = |what: &str| {
        if show_progress {
            eprint!("\r\x1b[2Kmeasuring {what} ...");
            let _ = std::io::stderr().flush();
        }
    };

    // The RSS probe runs first, on a process that has not yet churned through
    // the other allocators, so its figures are as clean as they can be.
    let rss = if args.rss_blocks > 0 {
        progress("rss");
        Some(suite::rss_probe(args.rss_blocks, args.seed)?)
    } else {
        None
    };

    let mut contenders = Contender::all();
    contenders[0] = Contender::Ours(OursHeap::with_config(HeapConfig {
        retained_empty_arenas: args.retain_arenas,
        ..HeapConfig::default()
    }));
    let rows = suite::run_matrix(&cfg, &mut contenders, progress)?;
    drop(contenders);

    let burst = if args.burst_rounds > 0 {
        progress("burst rounds");
        Some(suite::burst_rounds(
            args.burst_rounds,
            args.burst_blocks,
            args.seed,
        )?)
    } else {
        None
    };
    if show_progress {
        eprint!("\r\x1b[2K");
    }

    let ratios = ratios(&cfg, &rows, burst.as_ref());
    if args.json {
        let doc = json_report(args, &cfg, &rows, &ratios, rss.as_ref(), burst.as_ref());
        println!("{}", serde_json::to_string_pretty(&doc)?);
        if args.show_stats
            && let Some(r) = &rss
        {
            eprintln!("{}", r.peak_stats);
        }
    } else {
        print_matrix(&cfg, &rows);
        print_ratios(&ratios);
        if let Some(r) = &rss {
            print_rss(r, args.show_stats);
        }
        if let Some(b) = &burst {
            print_burst(b, args.burst_blocks);
        }
    }
    Ok(())
}

const OURS: usize = 0;
const OURS_GLOBAL: usize = 1;
const SYSTEM: usize = 2;
const MIMALLOC: usize = 3;

/// Geometric-mean ratios, keyed like `alloc_<pattern>[_global|_small]_vs_<other>`.
fn ratios(
    cfg: &MatrixConfig,
    rows: &[Row],
    burst: Option<&[BurstReport; 2]>,
) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let mut push = |key: String, filter: &dyn Fn(&Row) -> bool, ours: usize, other: usize| {
        if let Some(g) = geomean(
            rows.iter()
                .filter(|r| filter(r))
                .map(|r| r.ratio(ours, other)),
        ) {
            out.push((key, g));
        }
    };
    for &pattern in &cfg.patterns {
        let p = pattern.name();
        for (other, oname) in [(SYSTEM, "system"), (MIMALLOC, "mimalloc")] {
            push(
                format!("alloc_{p}_vs_{oname}"),
                &|r: &Row| r.pattern == pattern,
                OURS,
                other,
            );
            push(
                format!("alloc_{p}_global_vs_{oname}"),
                &|r: &Row| r.pattern == pattern,
                OURS_GLOBAL,
                other,
            );
            if pattern == Pattern::Live(FreeOrder::Shuffle) {
                push(
                    format!("alloc_{p}_small_vs_{oname}"),
                    &|r: &Row| r.pattern == pattern && (16..=64).contains(&r.size),
                    OURS,
                    other,
                );
            }
        }
    }
    if let Some([default, cpython]) = burst {
        out.push((
            "burst_default_vs_cpython".to_owned(),
            default.mean_ms() / cpython.mean_ms(),
        ));
    }
    out
}

fn print_matrix(cfg: &MatrixConfig, rows: &[Row]) {
    println!(
        "gc-stress alloc: ns per alloc+free pair, best of {} rep(s), lower is better",
        cfg.reps
    );
    println!(
        "  lifo, lifo_warm: {} pairs per rep; fifo/reverse/shuffle: {} live blocks per rep; seed {}",
        cfg.pairs, cfg.live, cfg.seed
    );
    println!();
    let header = format!(
        "{:<9} {:>5} {:>9} {:>12} {:>9} {:>9} {:>12} {:>14}",
        "pattern",
        "size",
        CONTENDER_NAMES[OURS],
        CONTENDER_NAMES[OURS_GLOBAL],
        CONTENDER_NAMES[SYSTEM],
        CONTENDER_NAMES[MIMALLOC],
        "ours/system",
        "ours/mimalloc"
    );
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    for &pattern in &cfg.patterns {
        let pattern_rows: Vec<&Row> = rows.iter().filter(|r| r.pattern == pattern).collect();
        for r in &pattern_rows {
            println!(
                "{:<9} {:>5} {:>9.2} {:>12.2} {:>9.2} {:>9.2} {:>12.3} {:>14.3}",
                pattern.name(),
                r.size,
                r.ns_per_pair[OURS],
                r.ns_per_pair[OURS_GLOBAL],
                r.ns_per_pair[SYSTEM],
                r.ns_per_pair[MIMALLOC],
                r.ratio(OURS, SYSTEM),
                r.ratio(OURS, MIMALLOC),
            );
        }
        if pattern_rows.len() > 1 {
            let gm = |i: usize| geomean(pattern_rows.iter().map(|r| r.ns_per_pair[i]));
            let gr = |o: usize| geomean(pattern_rows.iter().map(|r| r.ratio(OURS, o)));
            println!(
                "{:<9} {:>5} {:>9.2} {:>12.2} {:>9.2} {:>9.2} {:>12.3} {:>14.3}",
                pattern.name(),
                "gmean",
                gm(OURS).unwrap_or(f64::NAN),
                gm(OURS_GLOBAL).unwrap_or(f64::NAN),
                gm(SYSTEM).unwrap_or(f64::NAN),
                gm(MIMALLOC).unwrap_or(f64::NAN),
                gr(SYSTEM).unwrap_or(f64::NAN),
                gr(MIMALLOC).unwrap_or(f64::NAN),
            );
        }
        println!();
    }
}

fn print_ratios(ratios: &[(String, f64)]) {
    println!("ratios (ours/theirs, geometric mean over sizes; lower is better)");
    for (key, value) in ratios {
        println!("  {key:<36} {value:>7.3}");
    }
    println!();
}

fn print_rss(r: &RssReport, show_stats: bool) {
    let delta = r.delta();
    println!(
        "RSS: {} live blocks of 16..=64 bytes on a fresh Heap (default policy), \
         freed in shuffled order, no trim call",
        r.blocks
    );
    println!("  before                 {:>12}", mib(r.before as f64));
    println!(
        "  peak                   {:>12}   ({} in blocks, {} arenas)",
        mib(r.peak as f64),
        mib(r.peak_allocated_bytes as f64),
        r.peak_arenas
    );
    println!(
        "  after freeing all      {:>12}   ({} arenas still mapped, {} of them decommitted; \
         {} unmapped)",
        mib(r.after as f64),
        r.after_arenas,
        r.after_reserved_arenas,
        r.arenas_reclaimed
    );
    println!(
        "  delta from start       {:>12}   target <= {}: {}",
        mib(delta as f64),
        mib(RSS_TARGET_BYTES as f64),
        if delta <= RSS_TARGET_BYTES {
            "ok"
        } else {
            "OVER TARGET"
        }
    );
    if show_stats {
        println!();
        println!("heap statistics at the peak:");
        println!("{}", r.peak_stats);
    }
    println!();
}

fn print_burst(b: &[BurstReport; 2], blocks: usize) {
    println!(
        "burst rounds: {} rounds of allocating {} blocks of 16..=64 bytes and freeing them all",
        b[0].round_times.len(),
        blocks
    );
    println!(
        "  {:<9} {:>10} {:>10} {:>10} {:>16} {:>10} {:>9}",
        "policy", "mean ms", "min ms", "first ms", "arenas mapped", "reclaimed", "current"
    );
    for r in b {
        println!(
            "  {:<9} {:>10.2} {:>10.2} {:>10.2} {:>16} {:>10} {:>9}",
            r.policy,
            r.mean_ms(),
            r.min_ms(),
            r.first_ms(),
            r.arenas_allocated_total,
            r.arenas_reclaimed,
            r.arenas_current
        );
    }
    println!(
        "  (arenas mapped = arenas_allocated_total: every one is an mmap of {} KiB)",
        gc_core::alloc::ARENA_SIZE / 1024
    );
}

fn json_report(
    args: &AllocArgs,
    cfg: &MatrixConfig,
    rows: &[Row],
    ratios: &[(String, f64)],
    rss: Option<&RssReport>,
    burst: Option<&[BurstReport; 2]>,
) -> Value {
    let results: Vec<Value> = rows
        .iter()
        .map(|r| {
            let ns: Map<String, Value> = CONTENDER_NAMES
                .iter()
                .zip(r.ns_per_pair)
                .map(|(name, ns)| (name.replace('-', "_"), json!(ns)))
                .collect();
            json!({
                "pattern": r.pattern.name(),
                "size": r.size,
                "count": r.count,
                "ns_per_pair": ns,
                "ours_vs_system": r.ratio(OURS, SYSTEM),
                "ours_vs_mimalloc": r.ratio(OURS, MIMALLOC),
                "ours_global_vs_system": r.ratio(OURS_GLOBAL, SYSTEM),
                "ours_global_vs_mimalloc": r.ratio(OURS_GLOBAL, MIMALLOC),
            })
        })
        .collect();
    let ratios: Map<String, Value> = ratios.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let rss = rss.map_or(Value::Null, |r| {
        json!({
            "blocks": r.blocks,
            "before_bytes": r.before,
            "peak_bytes": r.peak,
            "after_bytes": r.after,
            "delta_bytes": r.delta(),
            "target_delta_bytes": RSS_TARGET_BYTES,
            "within_target": r.delta() <= RSS_TARGET_BYTES,
            "peak_allocated_bytes": r.peak_allocated_bytes,
            "peak_arenas": r.peak_arenas,
            "after_arenas": r.after_arenas,
            "after_reserved_arenas": r.after_reserved_arenas,
            "arenas_reclaimed": r.arenas_reclaimed,
        })
    });
    let burst = burst.map_or(Value::Null, |b| {
        let policies: Map<String, Value> = b
            .iter()
            .map(|r| {
                (
                    r.policy.to_owned(),
                    json!({
                        "mean_ms_per_round": r.mean_ms(),
                        "min_ms_per_round": r.min_ms(),
                        "first_ms": r.first_ms(),
                        "round_ms": r.round_times.iter().map(|d| d.as_secs_f64() * 1e3).collect::<Vec<_>>(),
                        "arenas_allocated_total": r.arenas_allocated_total,
                        "arenas_reclaimed": r.arenas_reclaimed,
                        "arenas_current": r.arenas_current,
                    }),
                )
            })
            .collect();
        json!({
            "rounds": args.burst_rounds,
            "blocks_per_round": args.burst_blocks,
            "policies": policies,
        })
    });
    json!({
        "workload": "alloc",
        "unit": "ns per alloc+free pair (best of reps)",
        "config": {
            "sizes": cfg.sizes,
            "patterns": cfg.patterns.iter().map(|p| p.name()).collect::<Vec<_>>(),
            "pairs": cfg.pairs,
            "live": cfg.live,
            "reps": cfg.reps,
            "seed": cfg.seed,
        },
        "ratios": ratios,
        "results": results,
        "rss": rss,
        "burst": burst,
    })
}
