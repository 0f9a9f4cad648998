//! `gc-stress`: stress and comparison workloads for the gc-core runtime.

mod alloc;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use gc_bench::clock::Clock;
use gc_bench::compare::{self, Contender, Outcome};
use gc_bench::jobs::{Job, JobResult};
use gc_bench::mutation::{self, GraphConfig, GraphReport};
use gc_bench::peers::Peer;
use gc_bench::report::Report;
use gc_bench::threads::{self, SyncContender, ThreadsJob};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Map, Value, json};

use alloc::{AllocArgs, parse_positive};

/// Stress and comparison workloads for gc-core: a CPython-style refcounting heap with a
/// generational cycle collector.
///
/// Without a subcommand, a tour runs every collector workload at a small size against
/// std Rc, the Rust GC crates and CPython (well under a minute) and says what it shows.
/// Every timed figure is wall time unless `--clock cpu` asks for process CPU time.
/// Each workload can also run alone, larger, with `--compare` to add the others.
#[derive(Debug, Parser)]
#[command(name = "gc-stress", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    workload: Option<Workload>,

    #[command(flatten)]
    tour: TourArgs,
}

#[derive(Debug, Subcommand)]
enum Workload {
    /// Objects in rings, every handle dropped, one full collection: allocation, drop and
    /// collection cost per object, and peak memory.
    Rings(RingsArgs),
    /// Full and young collections over a live heap that has no garbage: what tracing
    /// costs per live object, and whether a young collection ignores the old heap.
    Live(LiveArgs),
    /// Short-lived 2-object garbage cycles with automatic collection on: collections per
    /// generation, pause percentiles, and the cost of collection on versus off.
    Churn(ChurnArgs),
    /// Benchmarks-Game binary-trees: allocation-heavy code with no cycles, where
    /// refcounting frees everything and the collector only has to stay out of the way.
    Trees(TreesArgs),
    /// A big long-lived heap plus steady young garbage: young pauses must not grow with
    /// the old heap, and garbage must not pile up (the most ever waiting is reported).
    Mixed(MixedArgs),
    /// Seeded random graph mutation checked against a shadow graph: nothing reachable is
    /// ever freed, nothing unreachable survives a full collection.
    Graph(GraphArgs),
    /// Small-block allocation against the system allocator and mimalloc, plus RSS and
    /// arena-policy checks.
    Alloc(AllocArgs),
    /// N threads on the thread-safe flavour `gc_api::sync`: garbage cycles, binary trees
    /// and one graph they all mutate; ns per operation per thread and the speedup over one
    /// thread (`--compare`: Arc, dumpster::sync, gcmodule's ThreadedCc, our unsync Gc on
    /// one thread). `--pause`: mutator latency during a full collection of a big heap.
    Threads(ThreadsArgs),
    /// Runs one threads job with one contender and prints its result as JSON (used by
    /// `threads`, which starts one process per contender and thread count).
    #[command(hide = true)]
    ThreadsChild {
        /// ours-sync, arc, dumpster, gcmodule or ours-unsync.
        contender: String,
        /// The job, as JSON.
        job: String,
    },
    /// Runs one job with one Rust contender and prints its result as JSON (used by
    /// `--compare`, which starts one process per contender).
    #[command(hide = true)]
    Child {
        /// The clock every timed figure is read from.
        #[arg(long, value_enum, default_value_t = Clock::Wall)]
        clock: Clock,
        /// ours, rc, or a peer crate's name.
        contender: String,
        /// The job, as JSON.
        job: String,
    },
}

#[derive(Debug, Clone, Args)]
struct CompareArgs {
    /// Also run the workload with std Rc, the Rust GC crates (gcmodule, dumpster,
    /// rust-cc, bacon_rajan_cc, gc, gc-arena) and CPython, each in its own process, and
    /// print ratios (ours / theirs, lower is better).
    #[arg(long)]
    compare: bool,

    /// With --compare: only these contenders (comma-separated: rc, gcmodule, dumpster,
    /// rust-cc, bacon_rajan_cc, gc, gc-arena, cpython).
    #[arg(long, value_delimiter = ',', requires = "compare")]
    only: Vec<String>,

    /// The clock every contender times with: wall time, or the process's CPU time
    /// (CLOCK_PROCESS_CPUTIME_ID: other processes on a shared machine do not count).
    #[arg(long, value_enum, default_value_t = Clock::Wall)]
    clock: Clock,

    /// Print exactly one JSON object on stdout instead of tables.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Args)]
struct RingsArgs {
    /// Objects in all.
    #[arg(long, default_value_t = 1_000_000, value_parser = parse_positive)]
    nodes: usize,
    /// Objects per ring (nodes must be a multiple of it).
    #[arg(long, default_value_t = 10, value_parser = parse_positive)]
    ring_size: usize,
    #[command(flatten)]
    common: CompareArgs,
}

#[derive(Debug, Clone, Args)]
struct LiveArgs {
    /// Live objects.
    #[arg(long, default_value_t = 1_000_000, value_parser = parse_positive)]
    nodes: usize,
    /// Objects per ring (nodes must be a multiple of it).
    #[arg(long, default_value_t = 10, value_parser = parse_positive)]
    ring_size: usize,
    /// Timed collections of each kind; the best is kept.
    #[arg(long, default_value_t = 5, value_parser = parse_positive)]
    reps: usize,
    #[command(flatten)]
    common: CompareArgs,
}

#[derive(Debug, Clone, Args)]
struct ChurnArgs {
    /// Garbage cycles created.
    #[arg(long, default_value_t = 1_000_000, value_parser = parse_positive)]
    cycles: usize,
    /// Draw our pause distribution and heap size over time to this SVG file.
    #[arg(long)]
    svg: Option<PathBuf>,
    #[command(flatten)]
    common: CompareArgs,
}

#[derive(Debug, Clone, Args)]
struct TreesArgs {
    /// Maximum tree depth (the Benchmarks Game uses 21; 16 takes about a second).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(4..=22))]
    depth: u32,
    #[command(flatten)]
    common: CompareArgs,
}

#[derive(Debug, Clone, Args)]
struct MixedArgs {
    /// Long-lived objects.
    #[arg(long, default_value_t = 1_000_000, value_parser = parse_positive)]
    old: usize,
    /// Objects per ring of the long-lived heap (old must be a multiple of it).
    #[arg(long, default_value_t = 10, value_parser = parse_positive)]
    ring_size: usize,
    /// Young garbage cycles created with the old heap present.
    #[arg(long, default_value_t = 1_000_000, value_parser = parse_positive)]
    young_cycles: usize,
    /// Sample outstanding garbage every this many cycles (and at every collection).
    #[arg(long, default_value_t = 100, value_parser = parse_positive)]
    sample_every: usize,
    /// Draw our pause distribution and heap size over time to this SVG file.
    #[arg(long)]
    svg: Option<PathBuf>,
    #[command(flatten)]
    common: CompareArgs,
}

#[derive(Debug, Clone, Args)]
struct GraphArgs {
    /// Mutation steps.
    #[arg(long, default_value_t = 300_000, value_parser = parse_positive)]
    steps: usize,
    /// Roots held at most (fewer roots, more garbage).
    #[arg(long, default_value_t = 64, value_parser = parse_positive)]
    max_roots: usize,
    /// A full collection and a check against the shadow graph every this many steps.
    #[arg(long, default_value_t = 10_000, value_parser = parse_positive)]
    check_every: usize,
    /// Seed of the mutation sequence.
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,
    /// Print exactly one JSON object on stdout instead of a summary.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Args)]
struct ThreadsArgs {
    /// Threads running at once (each runs the same work; 1 thread runs it too, for the
    /// speedup).
    #[arg(long, default_value_t = 2, value_parser = parse_positive)]
    threads: usize,
    /// Garbage 2-cycles per thread.
    #[arg(long, default_value_t = 200_000, value_parser = parse_positive)]
    cycles: usize,
    /// Depth of each binary tree.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=20))]
    depth: u32,
    /// Trees built, counted and dropped per thread.
    #[arg(long, default_value_t = 40, value_parser = parse_positive)]
    trees: usize,
    /// Nodes of the graph all threads share.
    #[arg(long, default_value_t = 4096, value_parser = parse_positive)]
    shared_nodes: usize,
    /// Operations on the shared graph per thread.
    #[arg(long, default_value_t = 400_000, value_parser = parse_positive)]
    shared_ops: usize,
    /// Seed of the shared graph and the operations on it.
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,
    /// Run every contender and thread count this many times (round-robin, each in a fresh
    /// process) and keep each one's fastest run.
    #[arg(long, default_value_t = 1, value_parser = parse_positive)]
    runs: usize,
    /// Also run Arc + parking_lot (cycles broken by hand), dumpster 2.1.0 sync, gcmodule
    /// 0.3.3 ThreadedCc, and our unsync gc_api::Gc on one thread.
    #[arg(long)]
    compare: bool,
    /// With --compare: only these (comma-separated: arc, dumpster, gcmodule, ours-unsync).
    #[arg(long, value_delimiter = ',', requires = "compare")]
    only: Vec<String>,
    /// Instead of the workload: the pause probe (a mutator thread's operation latency
    /// while another thread runs a full collection over --live objects).
    #[arg(long)]
    pause: bool,
    /// With --pause: live objects.
    #[arg(long, default_value_t = 1_000_000, value_parser = parse_positive)]
    live: usize,
    /// With --pause: full collections timed.
    #[arg(long, default_value_t = 3, value_parser = parse_positive)]
    reps: usize,
    /// Print exactly one JSON object on stdout instead of tables.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Args)]
struct TourArgs {
    /// Multiply every size of the tour by this factor (1 takes 15-40 s on 2 cores).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// The clock every contender times with: wall time, or the process's CPU time.
    #[arg(long, value_enum, default_value_t = Clock::Wall)]
    clock: Clock,
    /// Print exactly one JSON object on stdout instead of tables.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.workload {
        None => run_tour(&cli.tour),
        Some(Workload::Alloc(args)) => alloc::run_alloc(&args).map_err(|e| e.to_string()),
        Some(Workload::Child {
            clock,
            contender,
            job,
        }) => run_child(&contender, &job, clock),
        Some(Workload::Graph(args)) => run_graph(&args),
        Some(Workload::Threads(args)) => run_threads(&args),
        Some(Workload::ThreadsChild { contender, job }) => run_threads_child(&contender, &job),
        Some(Workload::Rings(a)) => run_single(
            Job::Rings {
                nodes: a.nodes,
                ring_size: a.ring_size,
            },
            &a.common,
            None,
        ),
        Some(Workload::Live(a)) => run_single(
            Job::Live {
                nodes: a.nodes,
                ring_size: a.ring_size,
                reps: a.reps,
            },
            &a.common,
            None,
        ),
        Some(Workload::Churn(a)) => {
            run_single(Job::Churn { cycles: a.cycles }, &a.common, a.svg.as_deref())
        }
        Some(Workload::Trees(a)) => run_single(Job::Trees { depth: a.depth }, &a.common, None),
        Some(Workload::Mixed(a)) => run_single(
            Job::Mixed {
                old_objects: a.old,
                ring_size: a.ring_size,
                young_cycles: a.young_cycles,
                sample_every: a.sample_every,
            },
            &a.common,
            a.svg.as_deref(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gc-stress: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_child(contender: &str, job: &str, clock: Clock) -> Result<(), String> {
    let contender =
        Contender::from_key(contender).ok_or_else(|| format!("unknown contender `{contender}`"))?;
    let job: Job = serde_json::from_str(job).map_err(|e| format!("bad job `{job}`: {e}"))?;
    let out = compare::run_here(contender, &job, clock)?;
    println!(
        "{}",
        serde_json::to_string(&out).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn run_threads_child(contender: &str, job: &str) -> Result<(), String> {
    let contender = SyncContender::from_key(contender)
        .ok_or_else(|| format!("unknown contender `{contender}`"))?;
    let job: ThreadsJob = serde_json::from_str(job).map_err(|e| format!("bad job `{job}`: {e}"))?;
    let out = contender.run_here(&job)?;
    println!(
        "{}",
        serde_json::to_string(&out).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn run_threads(args: &ThreadsArgs) -> Result<(), String> {
    if args.pause {
        let report = threads::pause::run(&threads::pause::PauseConfig {
            live: args.live,
            ring_size: 10,
            reps: args.reps,
        })?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
            );
        } else {
            println!(
                "({} cores available; times are wall-clock time)",
                threads::cores()
            );
            report.print();
        }
        return if report.collected == 0 {
            Ok(())
        } else {
            Err(format!(
                "the full collections freed {} objects of a heap that is all alive",
                report.collected
            ))
        };
    }
    let mut contenders = vec![SyncContender::OursSync];
    if args.compare {
        if args.only.is_empty() {
            contenders.extend(SyncContender::ALL.into_iter().skip(1));
        } else {
            for name in &args.only {
                let c = SyncContender::from_key(name.trim()).ok_or_else(|| {
                    format!(
                        "unknown contender `{name}` (known: arc, dumpster, gcmodule, ours-unsync)"
                    )
                })?;
                if !contenders.contains(&c) {
                    contenders.push(c);
                }
            }
        }
    }
    let job = ThreadsJob {
        threads: args.threads,
        cycles: args.cycles,
        depth: args.depth,
        trees: args.trees,
        shared_nodes: args.shared_nodes,
        shared_ops: args.shared_ops,
        seed: args.seed,
    };
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let runs = contenders
        .iter()
        .map(|c| {
            if c.crosses_threads() && args.threads > 1 {
                2
            } else {
                1
            }
        })
        .sum::<u64>()
        * args.runs as u64;
    let bar = progress_bar(runs, args.json);
    let report = threads::measure(&exe, &job, &contenders, args.runs, |what| {
        bar.set_message(what.to_owned());
        bar.inc(1);
    });
    bar.finish_and_clear();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.to_json()).map_err(|e| e.to_string())?
        );
    } else {
        println!(
            "threads: {} thread(s), each: {} garbage 2-cycles (churn), {} trees of depth {} \
             beside one long-lived tree (trees), {} operations on one graph of {} nodes all \
             threads share (shared: 7 in 8 swap two nodes' edges, 1 in 8 replace a slot's \
             node); each contender and thread count in its own process, fastest of {} run(s)",
            job.threads,
            job.cycles,
            job.trees,
            job.depth,
            job.shared_ops,
            job.shared_nodes,
            args.runs
        );
        println!(
            "({} cores available; wall is each thread's wall-clock time, cpu its CPU time, \
             per operation, averaged over the threads)",
            threads::cores()
        );
        if args.compare {
            println!(
                "(gcmodule has no automatic collection, dumpster's deadlocks here (see \
                 src/threads/contenders.rs): with both, each thread collects after every {} \
                 objects it allocates)",
                threads::contenders::COLLECT_EVERY
            );
        }
        println!();
        report.print();
    }
    let problems = report.our_problems();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "our threads runs are inconsistent: {}",
            problems.join("; ")
        ))
    }
}

/// Which contenders a run includes.
fn contenders(compare: bool, only: &[String]) -> Result<Vec<Contender>, String> {
    if !compare {
        return Ok(vec![Contender::Ours]);
    }
    let mut out = vec![Contender::Ours];
    if only.is_empty() {
        out.extend(Contender::all().into_iter().skip(1));
    } else {
        for name in only {
            let c = Contender::from_key(name.trim()).ok_or_else(|| {
                format!(
                    "unknown contender `{name}` (known: rc, gcmodule, dumpster, rust-cc, \
                     bacon_rajan_cc, gc, gc-arena, cpython)"
                )
            })?;
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    Ok(out)
}

fn progress_bar(len: u64, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} {msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Runs `job` with each contender, one child process each, timed with `clock`. The
/// contenders in `left_out` do not run; their row says why (`why`).
fn measure(
    job: &Job,
    contenders: &[Contender],
    clock: Clock,
    left_out: &[Contender],
    why: &str,
    bar: &ProgressBar,
) -> Result<Report, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let mut outcomes: Vec<Outcome> = Vec::new();
    for &c in contenders {
        if !c.applies_to(job) {
            continue;
        }
        if left_out.contains(&c) {
            outcomes.push(Outcome::failed(c, why.to_owned()));
            continue;
        }
        bar.set_message(format!("{}: {c}", job.name()));
        outcomes.push(compare::run_in_child(&exe, c, job, clock));
        bar.inc(1);
    }
    Ok(Report::new(job.clone(), outcomes, clock))
}

fn describe(job: &Job) -> String {
    match job {
        Job::Rings { nodes, ring_size } => format!(
            "rings: {nodes} objects in rings of {ring_size}; build, drop every handle, one \
             full collection (per object; for Rc, dropping means breaking each ring by hand)"
        ),
        Job::Live {
            nodes,
            ring_size,
            reps,
        } => format!(
            "live: {nodes} live objects in rings of {ring_size}; best of {reps} full \
             collections per live object, young collections with and without that old heap"
        ),
        Job::Trees { depth } => format!("trees: binary-trees of depth {depth}, whole program"),
        Job::Churn { cycles } => format!(
            "churn: {cycles} short-lived 2-object garbage cycles, automatic collection on \
             (Rc breaks each cycle by hand)"
        ),
        Job::Mixed {
            old_objects,
            young_cycles,
            ..
        } => format!(
            "mixed: {young_cycles} young garbage cycles next to {old_objects} long-lived \
             objects, and the same garbage with no old heap"
        ),
    }
}

fn draw_svg(report: &Report, path: &std::path::Path) -> Result<(), String> {
    let ours = report
        .outcomes
        .iter()
        .find(|o| o.contender == Contender::Ours)
        .ok_or("our run is missing")?;
    let title = match &report.job {
        Job::Churn { cycles } => format!("gc-stress churn: {cycles} garbage cycles"),
        Job::Mixed {
            old_objects,
            young_cycles,
            ..
        } => format!(
            "gc-stress mixed: {young_cycles} young garbage cycles beside {old_objects} old objects"
        ),
        other => format!("gc-stress {}", other.name()),
    };
    gc_bench::svg::draw(path, &title, &ours.timeline)
}

fn run_single(job: Job, args: &CompareArgs, svg: Option<&std::path::Path>) -> Result<(), String> {
    let contenders = contenders(args.compare, &args.only)?;
    let runs = contenders.iter().filter(|c| c.applies_to(&job)).count();
    let bar = progress_bar(runs as u64, args.json);
    let report = measure(&job, &contenders, args.clock, &[], "", &bar)?;
    bar.finish_and_clear();
    if let Some(path) = svg {
        draw_svg(&report, path)?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.to_json()).map_err(|e| e.to_string())?
        );
    } else {
        println!("{}", describe(&job));
        println!("({})", args.clock.describe());
        println!();
        report.print();
        print_ratios(&report.ratios);
        if let Some(path) = svg {
            println!(
                "pause distribution and heap size drawn to {}",
                path.display()
            );
        }
    }
    let problems = report.our_problems();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "our {} run is inconsistent: {}",
            job.name(),
            problems.join("; ")
        ))
    }
}

fn print_ratios(ratios: &[(String, f64)]) {
    if ratios.is_empty() {
        return;
    }
    println!();
    println!("ratios (ours / theirs; below 1 we are faster or smaller):");
    for (k, v) in ratios {
        println!("  {k:<40} {v:>8.3}");
    }
    println!();
}

fn run_graph(args: &GraphArgs) -> Result<(), String> {
    let cfg = GraphConfig {
        steps: args.steps,
        max_roots: args.max_roots,
        check_every: args.check_every,
        seed: args.seed,
    };
    let report = mutation::run(cfg);
    if args.json {
        let mut v = serde_json::to_value(&report).map_err(|e| e.to_string())?;
        if let Value::Object(m) = &mut v {
            m.insert("workload".into(), json!("graph"));
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
    } else {
        print_graph(&report);
    }
    graph_verdict(&report)
}

fn print_graph(r: &GraphReport) {
    println!(
        "graph: {} seeded mutation steps (seed {}), at most {} roots, full collection and \
         check every {} steps",
        r.config.steps, r.config.seed, r.config.max_roots, r.config.check_every
    );
    println!(
        "  nodes created {}, freed {} by the end; at most {} alive at a check",
        r.nodes_created, r.nodes_freed, r.max_live
    );
    println!(
        "  {} checks examined {} reachable nodes; collections by generation {:?}, {} objects \
         collected; {:.0} ms",
        r.checks, r.nodes_checked, r.collections, r.collected, r.total_ms
    );
    if r.violations.is_empty() {
        println!("  the heap agreed with the shadow graph at every check");
    } else {
        for v in &r.violations {
            println!("  VIOLATION: {v}");
        }
    }
}

fn graph_verdict(r: &GraphReport) -> Result<(), String> {
    if !r.violations.is_empty() {
        return Err(format!("{} violation(s) found", r.violations.len()));
    }
    if r.nodes_freed != r.nodes_created {
        return Err(format!(
            "{} of {} nodes were never freed",
            r.nodes_created - r.nodes_freed,
            r.nodes_created
        ));
    }
    Ok(())
}

/// One workload of the tour: its job, and the contenders left out of it (with why).
struct TourStep {
    job: Job,
    left_out: Vec<Contender>,
    why: String,
}

/// Contenders too slow for the tour's larger binary-trees: measured on the project's
/// 2-core machine at depth 18, `gc` 0.5.1 takes about 15 s and `gc-arena` 0.7 about 18 s
/// (tracing collectors without generations: each collection re-marks the long-lived tree
/// and sweeps every object) and CPython about 60 s, each longer than the rest of the tour.
/// They run the smaller depth only.
fn slow_at_large_trees() -> Vec<Contender> {
    vec![
        Contender::Peer(Peer::Gc),
        Contender::Peer(Peer::GcArena),
        Contender::CPython,
    ]
}

/// The tour's binary-trees depths at `scale`: a small one every contender runs, and a
/// larger one (18 at scale 1) for all but [`slow_at_large_trees`] (`None` when the scale
/// leaves no room above the small one).
fn tour_tree_depths(scale: f64) -> (u32, Option<u32>) {
    let small = (14.0 + scale.max(1e-3).log2()).round().clamp(4.0, 22.0) as u32;
    let large = (small + 4).min(22);
    (small, (large > small).then_some(large))
}

/// The tour's workloads at `scale` (1.0 is the default).
fn tour_steps(scale: f64) -> Vec<TourStep> {
    let n = |base: f64| ((base * scale).round() as usize).max(10);
    let rings = (n(200_000.0) / 10 * 10).max(10);
    let all = |job: Job| TourStep {
        job,
        left_out: Vec::new(),
        why: String::new(),
    };
    let (small, large) = tour_tree_depths(scale);
    let mut steps = vec![
        all(Job::Rings {
            nodes: rings,
            ring_size: 10,
        }),
        all(Job::Live {
            nodes: rings,
            ring_size: 10,
            reps: 3,
        }),
        all(Job::Churn {
            cycles: n(200_000.0),
        }),
        all(Job::Trees { depth: small }),
    ];
    if let Some(large) = large {
        steps.push(TourStep {
            job: Job::Trees { depth: large },
            left_out: slow_at_large_trees(),
            why: format!(
                "left at depth {small} (above): at depth {large} it takes longer than the \
                 rest of the tour"
            ),
        });
    }
    steps.push(all(Job::Mixed {
        old_objects: rings,
        ring_size: 10,
        young_cycles: n(300_000.0),
        sample_every: 100,
    }));
    steps
}

/// The ratios of the tour's reports in one list. Both binary-trees runs make `trees_*`
/// keys: the larger depth keeps them, the smaller one's become `trees_d{depth}_*`.
fn tour_ratios(reports: &[Report]) -> Vec<(String, f64)> {
    let largest_trees = reports
        .iter()
        .filter_map(|r| match r.job {
            Job::Trees { depth } => Some(depth),
            _ => None,
        })
        .max();
    let mut ratios = Vec::new();
    for r in reports {
        let rename = match r.job {
            Job::Trees { depth } if Some(depth) != largest_trees => Some(depth),
            _ => None,
        };
        for (k, v) in &r.ratios {
            let key = match (rename, k.strip_prefix("trees_")) {
                (Some(d), Some(rest)) => format!("trees_d{d}_{rest}"),
                _ => k.clone(),
            };
            ratios.push((key, *v));
        }
    }
    ratios
}

fn run_tour(args: &TourArgs) -> Result<(), String> {
    if !(args.scale > 0.0 && args.scale <= 100.0) {
        return Err(format!("--scale must be in (0, 100], got {}", args.scale));
    }
    let steps = tour_steps(args.scale);
    let all = Contender::all();
    let python_note = compare::python_available().err();
    let runs: usize = steps
        .iter()
        .map(|s| {
            all.iter()
                .filter(|c| c.applies_to(&s.job) && !s.left_out.contains(c))
                .count()
        })
        .sum();
    let bar = progress_bar(runs as u64 + 1, args.json);
    let mut reports = Vec::new();
    for step in &steps {
        reports.push(measure(
            &step.job,
            &all,
            args.clock,
            &step.left_out,
            &step.why,
            &bar,
        )?);
    }
    bar.set_message("graph: mutation checked against a shadow graph");
    let graph = mutation::run(GraphConfig {
        steps: ((100_000.0 * args.scale) as usize).max(100),
        max_roots: 64,
        check_every: ((10_000.0 * args.scale) as usize).max(10),
        seed: 0x5eed,
    });
    bar.finish_and_clear();

    let ratios = tour_ratios(&reports);
    if args.json {
        let mut merged = Map::new();
        for (k, v) in &ratios {
            merged.insert(k.clone(), json!(v));
        }
        let doc = json!({
            "workload": "tour",
            "scale": args.scale,
            "clock": args.clock.key(),
            "ratios": merged,
            "workloads": reports.iter().map(Report::to_json).collect::<Vec<_>>(),
            "graph": serde_json::to_value(&graph).map_err(|e| e.to_string())?,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?
        );
    } else {
        println!("gc-stress: a tour of the collector, side by side with std Rc, six Rust GC");
        println!("crates and CPython, each contender in its own process. Every object below");
        println!("is refcounted: most die the moment their last handle goes, and the");
        println!("generational cycle collector (CPython's algorithm) frees the cycles.");
        println!("({}.)", args.clock.describe());
        if let Some(note) = &python_note {
            println!("{note}");
        }
        for r in &reports {
            println!();
            println!("{}", describe(&r.job));
            r.print();
        }
        println!();
        print_graph(&graph);
        println!();
        print_headlines(&reports);
        println!();
        println!("Each workload runs alone, larger, with `gc-stress <workload> --compare`;");
        println!("`gc-stress --help` lists them. Figures and their machine: BENCHMARKS.md.");
    }
    let mut problems: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            r.our_problems()
                .into_iter()
                .map(move |p| format!("{}: {p}", r.job.name()))
        })
        .collect();
    if let Err(e) = graph_verdict(&graph) {
        problems.push(format!("graph: {e}"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "our runs are inconsistent: {}",
            problems.join("; ")
        ))
    }
}

/// The Rust peers of `r` that ran, by crate name, comma-separated.
fn peers_that_ran(r: &Report) -> String {
    let names: Vec<String> = r
        .outcomes
        .iter()
        .filter(|o| matches!(o.contender, Contender::Peer(_)) && o.result.is_ok())
        .map(|o| o.contender.key().to_owned())
        .collect();
    if names.is_empty() {
        "none ran".into()
    } else {
        names.join(", ")
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_names(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// One sentence per workload, from the ratios, each naming the size it was measured at.
fn print_headlines(reports: &[Report]) {
    println!("what this run shows (ours / theirs; below 1.00x we are faster or smaller):");
    let get = |r: &Report, key: &str| r.ratios.iter().find(|(k, _)| k == key).map(|p| p.1);
    let x = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.2}x"));
    let tree_depths = || {
        reports.iter().filter_map(|r| match r.job {
            Job::Trees { depth } => Some(depth),
            _ => None,
        })
    };
    let largest_trees = tree_depths().max();
    let smallest_trees = tree_depths().min();
    for r in reports {
        let ours = r
            .outcomes
            .iter()
            .find(|o| o.contender == Contender::Ours)
            .and_then(|o| o.result.as_ref().ok());
        match (&r.job, ours) {
            (Job::Rings { nodes, ring_size }, Some(JobResult::Rings(o))) => println!(
                "- cycles ({nodes} objects in rings of {ring_size}): freeing them costs {:.0} \
                 ns/object (drop + collect): {} CPython's collector alone, {} the best Rust \
                 peer, {} Rc breaking them by hand; memory {} Rc's",
                o.reclaim_ns_per_obj(),
                x(get(r, "rings_collect_vs_cpython")),
                x(get(r, "rings_reclaim_vs_best_peer")),
                x(get(r, "rings_reclaim_vs_rc")),
                x(get(r, "rings_peak_rss_vs_rc")),
            ),
            (Job::Live { nodes, .. }, Some(JobResult::Live(o))) => println!(
                "- live heap ({nodes} objects): a full collection costs {:.0} ns per live \
                 object: {} CPython, {} the best Rust peer; a young collection takes {} as \
                 long with that old heap as without",
                o.full_collect_ns_per_obj,
                x(get(r, "live_collect_vs_cpython")),
                x(get(r, "live_collect_vs_best_peer")),
                x(get(r, "live_young_old_vs_empty")),
            ),
            (Job::Churn { cycles }, Some(JobResult::Churn(o))) => println!(
                "- garbage cycles with automatic collection ({cycles} 2-object cycles): {:.0} \
                 ms, {} CPython, {} the best Rust peer, {} Rc breaking cycles by hand; {} the \
                 time with collection off",
                o.total_ms,
                x(get(r, "churn_vs_cpython")),
                x(get(r, "churn_vs_best_peer")),
                x(get(r, "churn_vs_rc")),
                x(get(r, "churn_gc_on_vs_off")),
            ),
            (Job::Trees { depth }, Some(JobResult::Trees(o))) if largest_trees != Some(*depth) => {
                println!(
                    "- binary-trees at depth {depth} (no cycles, {} nodes): {:.0} ms, {} Rc, \
                     {} CPython, {} gc, {} gc-arena, {} the best Rust peer",
                    o.checksum,
                    o.total_ms,
                    x(get(r, "trees_vs_rc")),
                    x(get(r, "trees_vs_cpython")),
                    x(get(r, "trees_vs_gc")),
                    x(get(r, "trees_vs_gc_arena")),
                    x(get(r, "trees_vs_best_peer")),
                )
            }
            (Job::Trees { depth }, Some(JobResult::Trees(o))) => {
                let skipped: Vec<String> = r
                    .outcomes
                    .iter()
                    .filter(|o| o.result.is_err())
                    .map(|o| o.contender.to_string())
                    .collect();
                println!(
                    "- binary-trees at depth {depth} (no cycles, {} nodes): {:.0} ms, {} Rc, \
                     {} the best Rust peer run at this depth ({}){}",
                    o.checksum,
                    o.total_ms,
                    x(get(r, "trees_vs_rc")),
                    x(get(r, "trees_vs_best_peer")),
                    peers_that_ran(r),
                    match (skipped.as_slice(), smallest_trees) {
                        ([], _) => String::new(),
                        (names, Some(small)) if small != *depth => format!(
                            "; {} ran at depth {small} only (too slow for the tour at {depth})",
                            join_names(names)
                        ),
                        (names, _) => format!("; {} did not run", join_names(names)),
                    },
                )
            }
            (
                Job::Mixed {
                    old_objects,
                    young_cycles,
                    ..
                },
                Some(JobResult::Mixed(o)),
            ) => println!(
                "- old heap + young garbage ({young_cycles} young cycles beside {old_objects} \
                 old objects): young pauses p50 {:.0} µs, {} the pause with no old heap; at \
                 most {} garbage objects waited for a collection (CPython: {})",
                o.young_pauses_us.p50,
                x(get(r, "young_pause_old_vs_empty")),
                o.max_outstanding_garbage,
                r.outcomes
                    .iter()
                    .find(|o| o.contender == Contender::CPython)
                    .and_then(|o| match &o.result {
                        Ok(JobResult::Mixed(m)) => Some(m.max_outstanding_garbage.to_string()),
                        _ => None,
                    })
                    .unwrap_or_else(|| "n/a".into()),
            ),
            (job, _) => println!("- {}: our run failed", job.name()),
        }
    }
}
