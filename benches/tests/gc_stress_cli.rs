//! `gc-stress` run as a user runs it, with tiny sizes: the figures it prints must add up
//! (objects freed equal objects created, checksums agree, every ratio the README names
//! is there), and bad input must give a clear error.

use std::process::{Command, Output};

use gc_bench::jobs::trees_checksum;
use serde_json::Value;

fn gc_stress(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gc-stress"))
        .args(args)
        .output()
        .expect("gc-stress starts")
}

/// Runs with `--json` and returns the parsed document; panics with stderr on failure.
fn json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = gc_stress(&all);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "gc-stress {args:?} failed: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "gc-stress {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn python_available() -> bool {
    gc_bench::compare::python_available().is_ok()
}

fn result<'a>(doc: &'a Value, contender: &str) -> &'a Value {
    let r = &doc["results"][contender];
    assert!(r.is_object(), "no result for {contender}: {doc}");
    assert!(
        r.get("skipped").is_none(),
        "{contender} was skipped: {}",
        r["skipped"]
    );
    r
}

fn ratio(doc: &Value, key: &str) -> f64 {
    doc["ratios"][key]
        .as_f64()
        .unwrap_or_else(|| panic!("ratio {key} missing: {}", doc["ratios"]))
}

const RUST_CONTENDERS: [&str; 8] = [
    "ours",
    "rc",
    "gcmodule",
    "dumpster",
    "rust-cc",
    "bacon_rajan_cc",
    "gc",
    "gc-arena",
];

#[test]
fn rings_compare_frees_every_object_with_every_contender() {
    // Enough objects (2.4 MB) that every process's resident size grows measurably.
    let doc = json(&[
        "rings",
        "--nodes",
        "50000",
        "--ring-size",
        "10",
        "--compare",
    ]);
    assert_eq!(doc["workload"], "rings");
    for c in RUST_CONTENDERS {
        let r = result(&doc, c);
        assert_eq!(r["dropped"], 50_000, "{c}: {r}");
        assert!(r.get("problems").is_none(), "{c}: {r}");
        assert!(r["alloc_ns_per_obj"].as_f64().unwrap() > 0.0, "{c}: {r}");
    }
    assert_eq!(result(&doc, "ours")["reported_collected"], 50_000);
    assert_eq!(result(&doc, "gc-arena")["reported_collected"], 50_000);
    assert_eq!(doc["clock"], "wall");
    assert_eq!(result(&doc, "rc")["collect_ns_per_obj"], 0.0);
    for key in [
        "rings_reclaim_vs_best_peer",
        "rings_reclaim_vs_rc",
        "rings_peak_rss_vs_rc",
    ] {
        assert!(ratio(&doc, key) > 0.0);
    }
    if python_available() {
        assert_eq!(result(&doc, "cpython")["dropped"], 50_000);
        assert!(ratio(&doc, "rings_collect_vs_cpython") > 0.0);
    } else {
        let skipped = doc["results"]["cpython"]["skipped"].as_str().unwrap();
        assert!(skipped.contains("python3"), "{skipped}");
    }
}

#[test]
fn live_collections_free_nothing() {
    let doc = json(&["live", "--nodes", "200", "--reps", "2", "--compare"]);
    for c in [
        "ours",
        "gcmodule",
        "dumpster",
        "rust-cc",
        "bacon_rajan_cc",
        "gc",
        "gc-arena",
    ] {
        assert_eq!(result(&doc, c)["collected"], 0, "{c}");
    }
    assert!(
        doc["results"].get("rc").is_none(),
        "Rc has no collector to time"
    );
    let ours = result(&doc, "ours");
    assert!(ours["young_collect_ns"].as_f64().unwrap() > 0.0);
    assert!(ratio(&doc, "live_collect_vs_best_peer") > 0.0);
    assert!(ratio(&doc, "live_young_old_vs_empty") > 0.0);
    if python_available() {
        assert!(ratio(&doc, "live_collect_vs_cpython") > 0.0);
    }
}

#[test]
fn churn_counts_collections_and_draws_the_picture() {
    let dir = std::env::temp_dir().join(format!("gc-stress-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("churn.svg");
    let doc = json(&["churn", "--cycles", "5000", "--svg", svg.to_str().unwrap()]);
    let ours = result(&doc, "ours");
    assert_eq!(ours["dropped"], 10_000);
    let collections: Vec<u64> = ours["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    // 10,000 tracked allocations at threshold 700 make 14 collections (a generation-1
    // collection takes a generation-0 one's turn).
    assert!(collections.iter().sum::<u64>() >= 14, "{collections:?}");
    assert!(collections[0] >= 10, "{collections:?}");
    let pauses = &ours["pauses_us"];
    let count = pauses["count"].as_u64().unwrap();
    assert!(count >= 14, "{pauses}");
    let (p50, p99, max) = (
        pauses["p50"].as_f64().unwrap(),
        pauses["p99"].as_f64().unwrap(),
        pauses["max"].as_f64().unwrap(),
    );
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{pauses}");
    assert!(ratio(&doc, "churn_gc_on_vs_off") > 0.0);
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(picture.starts_with("<svg"), "not an SVG");
    assert!(picture.contains("pause distribution"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn trees_checksums_agree() {
    let doc = json(&[
        "trees",
        "--depth",
        "6",
        "--compare",
        "--only",
        "rc,gc,cpython",
    ]);
    let want = trees_checksum(6);
    for c in ["ours", "rc", "gc"] {
        assert_eq!(result(&doc, c)["checksum"], want, "{c}");
    }
    assert!(
        doc["results"].get("dumpster").is_none(),
        "--only limits the run"
    );
    assert!(ratio(&doc, "trees_vs_rc") > 0.0);
    if python_available() {
        assert_eq!(result(&doc, "cpython")["checksum"], want);
    }
}

#[test]
fn mixed_reports_young_pauses_and_outstanding_garbage() {
    let doc = json(&[
        "mixed",
        "--old",
        "2000",
        "--young-cycles",
        "3000",
        "--sample-every",
        "10",
    ]);
    let ours = result(&doc, "ours");
    let young = ours["young_pauses_us"]["count"].as_u64().unwrap();
    assert!(young >= 6000 / 700, "{ours}");
    assert!(ours["young_pauses_empty_us"]["count"].as_u64().unwrap() > 0);
    let outstanding = ours["max_outstanding_garbage"].as_u64().unwrap();
    // Garbage waits for at most a young threshold's worth of allocations, plus the few
    // objects an in-progress cycle carries into older generations.
    assert!((1..2000).contains(&outstanding), "{outstanding}");
    assert!(ratio(&doc, "young_pause_old_vs_empty") > 0.0);
}

#[test]
fn graph_mutation_agrees_with_the_shadow_graph() {
    let doc = json(&["graph", "--steps", "5000", "--check-every", "1000"]);
    assert_eq!(doc["workload"], "graph");
    assert_eq!(doc["violations"].as_array().unwrap().len(), 0, "{doc}");
    assert_eq!(doc["nodes_freed"], doc["nodes_created"]);
    assert_eq!(doc["checks"], 5);
}

#[test]
fn the_tour_reports_every_headline_ratio() {
    let doc = json(&["--scale", "0.005"]);
    assert_eq!(doc["workload"], "tour");
    let workloads: Vec<&str> = doc["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["workload"].as_str().unwrap())
        .collect();
    // binary-trees twice: at a small depth with everyone, at a larger one without the
    // contenders too slow for it (whose rows say so).
    assert_eq!(
        workloads,
        ["rings", "live", "churn", "trees", "trees", "mixed"]
    );
    let depths: Vec<u64> = doc["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["workload"] == "trees")
        .map(|w| w["config"]["depth"].as_u64().unwrap())
        .collect();
    assert_eq!(depths.len(), 2);
    assert!(depths[1] > depths[0], "{depths:?}");
    let large = &doc["workloads"][4]["results"];
    for slow in ["gc", "gc-arena", "cpython"] {
        let why = large[slow]["skipped"].as_str().unwrap_or_default();
        assert!(why.contains("left at depth"), "{slow}: {why}");
    }
    assert_eq!(
        large["ours"]["checksum"],
        trees_checksum(depths[1] as u32),
        "{large}"
    );
    assert!(ratio(&doc, &format!("trees_d{}_vs_rc", depths[0])) > 0.0);
    // (Not the RSS ratio: at this scale a process's resident size may not move at all.)
    for key in [
        "rings_reclaim_vs_best_peer",
        "young_pause_old_vs_empty",
        "trees_vs_rc",
        "churn_vs_rc",
    ] {
        assert!(ratio(&doc, key) > 0.0, "{key}");
    }
    if python_available() {
        for key in ["rings_collect_vs_cpython", "live_collect_vs_cpython"] {
            assert!(ratio(&doc, key) > 0.0, "{key}");
        }
    }
    assert_eq!(doc["graph"]["violations"].as_array().unwrap().len(), 0);
}

#[test]
fn the_cpu_clock_is_used_and_reported() {
    let doc = json(&[
        "churn",
        "--cycles",
        "2000",
        "--compare",
        "--only",
        "rc,gc-arena,cpython",
        "--clock",
        "cpu",
    ]);
    assert_eq!(doc["clock"], "cpu");
    for c in ["ours", "rc", "gc-arena"] {
        let r = result(&doc, c);
        assert_eq!(r["dropped"], 4000, "{c}: {r}");
        assert!(r["total_ms"].as_f64().unwrap() >= 0.0, "{c}: {r}");
    }
    if python_available() {
        assert_eq!(result(&doc, "cpython")["dropped"], 4000);
    }
    let out = gc_stress(&["trees", "--depth", "6", "--clock", "cpu"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("process CPU time"), "{text}");

    let out = gc_stress(&["trees", "--clock", "sundial"]);
    assert!(!out.status.success());
}

#[test]
fn bad_sizes_and_names_are_clear_errors() {
    let out = gc_stress(&["rings", "--nodes", "25", "--ring-size", "10"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("multiple of the ring size"), "{err}");

    let out = gc_stress(&["rings", "--nodes", "20", "--compare", "--only", "nosuch"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown contender `nosuch`"), "{err}");

    let out = gc_stress(&["trees", "--depth", "40"]);
    assert!(!out.status.success());

    let out = gc_stress(&["child", "ours", "{not json"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad job"));
}

#[test]
fn help_explains_every_workload() {
    let out = gc_stress(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for w in ["rings", "live", "churn", "trees", "mixed", "graph", "alloc"] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(w))
            .unwrap_or_else(|| panic!("{w} missing from --help:\n{help}"));
        assert!(line.len() > w.len() + 20, "{w} has no sentence: {line}");
    }
    assert!(
        !help.contains("child"),
        "the internal subcommand stays hidden"
    );
}
