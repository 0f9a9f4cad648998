//! Checks, ratios and tables for the outcomes of one workload.

use serde_json::{Map, Value, json};

use crate::clock::Clock;
use crate::compare::{Contender, Outcome};
use crate::jobs::{Job, JobResult, PauseSummary};

/// The outcomes of one job, with what was checked.
#[derive(Debug, Clone)]
pub struct Report {
    /// The job.
    pub job: Job,
    /// One outcome per contender, in table order.
    pub outcomes: Vec<Outcome>,
    /// Per contender: the consistency problems found (empty when the numbers add up).
    pub problems: Vec<Vec<String>>,
    /// `(key, ours / theirs)`.
    pub ratios: Vec<(String, f64)>,
    /// The clock the children timed the job with.
    pub clock: Clock,
}

impl Report {
    /// Checks the outcomes (timed with `clock`) and computes the ratios.
    pub fn new(job: Job, outcomes: Vec<Outcome>, clock: Clock) -> Report {
        let reference_checksum = match job {
            Job::Trees { depth } => Some(crate::jobs::trees_checksum(depth)),
            _ => None,
        };
        let problems = outcomes
            .iter()
            .map(|o| match &o.result {
                Ok(r) => check(&job, r, reference_checksum),
                Err(_) => Vec::new(),
            })
            .collect();
        let mut report = Report {
            job,
            outcomes,
            problems,
            ratios: Vec::new(),
            clock,
        };
        report.ratios = report.compute_ratios();
        report
    }

    /// Our outcome's problems (the tool fails when there are any).
    pub fn our_problems(&self) -> Vec<String> {
        self.outcomes
            .iter()
            .zip(&self.problems)
            .filter(|(o, _)| o.contender == Contender::Ours)
            .flat_map(|(o, p)| {
                let mut p = p.clone();
                if let Err(e) = &o.result {
                    p.push(format!("did not run: {e}"));
                }
                p
            })
            .collect()
    }

    fn result_of(&self, c: Contender) -> Option<&JobResult> {
        self.outcomes
            .iter()
            .zip(&self.problems)
            .find(|(o, p)| o.contender == c && p.is_empty())
            .and_then(|(o, _)| o.result.as_ref().ok())
    }

    /// Consistent results of the peers.
    fn peer_results(&self) -> Vec<(Contender, &JobResult)> {
        self.outcomes
            .iter()
            .zip(&self.problems)
            .filter(|(o, p)| matches!(o.contender, Contender::Peer(_)) && p.is_empty())
            .filter_map(|(o, _)| Some((o.contender, o.result.as_ref().ok()?)))
            .collect()
    }

    fn compute_ratios(&self) -> Vec<(String, f64)> {
        let Some(ours) = self.result_of(Contender::Ours) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut push = |key: String, ours: f64, theirs: f64| {
            if ours.is_finite() && theirs.is_finite() && theirs > 0.0 {
                out.push((key, ours / theirs));
            }
        };
        let metric: &dyn Fn(&JobResult) -> Option<f64> = match self.job {
            Job::Rings { .. } => &|r| match r {
                JobResult::Rings(r) => Some(r.reclaim_ns_per_obj()),
                _ => None,
            },
            Job::Live { .. } => &|r| match r {
                JobResult::Live(r) => Some(r.full_collect_ns_per_obj),
                _ => None,
            },
            Job::Trees { .. } => &|r| match r {
                JobResult::Trees(r) => Some(r.total_ms),
                _ => None,
            },
            Job::Churn { .. } => &|r| match r {
                JobResult::Churn(r) => Some(r.total_ms),
                _ => None,
            },
            Job::Mixed { .. } => &|r| match r {
                JobResult::Mixed(r) => Some(r.young_pauses_us.p50),
                _ => None,
            },
        };
        let name = self.job.name();
        let headline = match self.job {
            Job::Rings { .. } => "rings_reclaim",
            Job::Live { .. } => "live_collect",
            Job::Trees { .. } => "trees",
            Job::Churn { .. } => "churn",
            Job::Mixed { .. } => "young_pause",
        };
        let ours_metric = metric(ours).unwrap_or(f64::NAN);
        let cpython = self.result_of(Contender::CPython);
        let rc = self.result_of(Contender::Rc);
        if let Some(r) = rc.and_then(metric) {
            push(format!("{headline}_vs_rc"), ours_metric, r);
        }
        if let Some(c) = cpython.and_then(metric) {
            push(format!("{headline}_vs_cpython"), ours_metric, c);
        }
        let peers: Vec<(Contender, f64)> = self
            .peer_results()
            .into_iter()
            .filter_map(|(c, r)| Some((c, metric(r)?)))
            .collect();
        if let Some(best) = peers.iter().map(|p| p.1).min_by(f64::total_cmp) {
            push(format!("{headline}_vs_best_peer"), ours_metric, best);
        }
        for (c, m) in &peers {
            push(
                format!("{headline}_vs_{}", c.key().replace('-', "_")),
                ours_metric,
                *m,
            );
        }
        // Workload-specific figures.
        match (ours, cpython, rc) {
            (JobResult::Rings(o), c, r) => {
                if let Some(JobResult::Rings(c)) = c {
                    push(
                        format!("{name}_collect_vs_cpython"),
                        o.collect_ns_per_obj,
                        c.collect_ns_per_obj,
                    );
                    push(
                        format!("{name}_peak_rss_vs_cpython"),
                        o.peak_rss_bytes as f64,
                        c.peak_rss_bytes as f64,
                    );
                }
                if let Some(JobResult::Rings(r)) = r {
                    push(
                        format!("{name}_alloc_vs_rc"),
                        o.alloc_ns_per_obj,
                        r.alloc_ns_per_obj,
                    );
                    push(
                        format!("{name}_peak_rss_vs_rc"),
                        o.peak_rss_bytes as f64,
                        r.peak_rss_bytes as f64,
                    );
                }
            }
            (JobResult::Live(o), c, _) => {
                if let (Some(y), Some(e)) = (o.young_collect_ns, o.young_collect_empty_ns) {
                    push("live_young_old_vs_empty".into(), y, e);
                }
                if let (Some(JobResult::Live(c)), Some(y)) = (c, o.young_collect_ns)
                    && let Some(cy) = c.young_collect_ns
                {
                    push("live_young_vs_cpython".into(), y, cy);
                }
            }
            (JobResult::Churn(o), c, _) => {
                if let Some(off) = o.total_ms_gc_off {
                    push("churn_gc_on_vs_off".into(), o.total_ms, off);
                }
                if let (Some(JobResult::Churn(c)), Some(p)) = (c, o.pauses_us)
                    && let Some(cp) = c.pauses_us
                {
                    push("churn_pause_p99_vs_cpython".into(), p.p99, cp.p99);
                }
            }
            (JobResult::Mixed(o), c, _) => {
                push(
                    "young_pause_old_vs_empty".into(),
                    o.young_pauses_us.p50,
                    o.young_pauses_empty_us.p50,
                );
                push(
                    "young_pause_p99_old_vs_empty".into(),
                    o.young_pauses_us.p99,
                    o.young_pauses_empty_us.p99,
                );
                if let Some(JobResult::Mixed(c)) = c {
                    push(
                        "young_pause_p99_vs_cpython".into(),
                        o.young_pauses_us.p99,
                        c.young_pauses_us.p99,
                    );
                    push(
                        "max_outstanding_garbage_vs_cpython".into(),
                        o.max_outstanding_garbage as f64,
                        c.max_outstanding_garbage.max(1) as f64,
                    );
                }
            }
            _ => {}
        }
        out
    }

    /// The JSON form: config, per-contender results (or why not), problems and ratios.
    pub fn to_json(&self) -> Value {
        let mut results = Map::new();
        for (o, p) in self.outcomes.iter().zip(&self.problems) {
            let v = match &o.result {
                Ok(r) => {
                    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
                    if let Value::Object(m) = &mut v {
                        m.remove("workload");
                        if !p.is_empty() {
                            m.insert("problems".into(), json!(p));
                        }
                        if let Some(ver) = &o.version {
                            m.insert("version".into(), json!(ver));
                        }
                        if let Contender::Peer(peer) = o.contender {
                            m.insert("version".into(), json!(peer.version()));
                        }
                    }
                    v
                }
                Err(e) => json!({ "skipped": e }),
            };
            results.insert(o.contender.key().to_owned(), v);
        }
        let ratios: Map<String, Value> = self
            .ratios
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        json!({
            "workload": self.job.name(),
            "clock": self.clock.key(),
            "config": serde_json::to_value(&self.job).unwrap_or(Value::Null),
            "results": results,
            "ratios": ratios,
        })
    }

    /// The human table.
    pub fn print(&self) {
        let columns = columns(&self.job);
        let label = |o: &Outcome| match (&o.contender, &o.version) {
            (Contender::CPython, Some(v)) => format!("CPython {v}"),
            (c, _) => c.to_string(),
        };
        let width = self
            .outcomes
            .iter()
            .map(|o| label(o).len())
            .max()
            .unwrap_or(10)
            .max(10);
        let mut header = format!("  {:<width$}", "contender");
        for (h, _) in &columns {
            header.push_str(&format!(" {h:>12}"));
        }
        header.push_str(&format!(" {:>9}", "ours/it"));
        println!("{header}");
        println!("  {}", "-".repeat(header.len() - 2));
        let ours_metric = self
            .result_of(Contender::Ours)
            .and_then(|r| columns.first().and_then(|(_, f)| f(r)));
        for (o, p) in self.outcomes.iter().zip(&self.problems) {
            let mut line = format!("  {:<width$}", label(o));
            match &o.result {
                Ok(r) => {
                    for (_, f) in &columns {
                        line.push_str(&format!(" {:>12}", f(r).map_or("-".into(), fmt_num)));
                    }
                    let ratio = match (ours_metric, columns.first().and_then(|(_, f)| f(r))) {
                        (Some(a), Some(b)) if b > 0.0 && o.contender != Contender::Ours => {
                            format!("{:.2}x", a / b)
                        }
                        _ => String::new(),
                    };
                    line.push_str(&format!(" {ratio:>9}"));
                    if !p.is_empty() {
                        line.push_str(&format!("  INCONSISTENT: {}", p.join("; ")));
                    }
                }
                Err(e) => line.push_str(&format!(" skipped: {e}")),
            }
            println!("{line}");
        }
        println!("  (\"ours/it\" divides our {} by each row's)", columns[0].0);
    }
}

fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

type Column = (&'static str, Box<dyn Fn(&JobResult) -> Option<f64>>);

fn pause(
    f: fn(&PauseSummary) -> f64,
    pick: fn(&JobResult) -> Option<PauseSummary>,
) -> impl Fn(&JobResult) -> Option<f64> {
    move |r| pick(r).map(|p| f(&p))
}

/// The table's columns for a job; the first is the one the ratio column uses.
fn columns(job: &Job) -> Vec<Column> {
    fn rings(r: &JobResult) -> Option<&crate::jobs::RingsResult> {
        match r {
            JobResult::Rings(r) => Some(r),
            _ => None,
        }
    }
    fn live(r: &JobResult) -> Option<&crate::jobs::LiveResult> {
        match r {
            JobResult::Live(r) => Some(r),
            _ => None,
        }
    }
    fn churn(r: &JobResult) -> Option<&crate::jobs::ChurnResult> {
        match r {
            JobResult::Churn(r) => Some(r),
            _ => None,
        }
    }
    fn mixed(r: &JobResult) -> Option<&crate::jobs::MixedResult> {
        match r {
            JobResult::Mixed(r) => Some(r),
            _ => None,
        }
    }
    match job {
        Job::Rings { nodes, .. } => {
            let n = *nodes as f64;
            vec![
                (
                    "reclaim ns/o",
                    Box::new(|r| rings(r).map(|r| r.reclaim_ns_per_obj())),
                ),
                (
                    "alloc ns/o",
                    Box::new(|r| rings(r).map(|r| r.alloc_ns_per_obj)),
                ),
                (
                    "drop ns/o",
                    Box::new(|r| rings(r).map(|r| r.drop_ns_per_obj)),
                ),
                (
                    "collect ns/o",
                    Box::new(|r| rings(r).map(|r| r.collect_ns_per_obj)),
                ),
                ("freed", Box::new(|r| rings(r).map(|r| r.dropped as f64))),
                (
                    "peak MiB",
                    Box::new(|r| rings(r).map(|r| r.peak_rss_bytes as f64 / 1048576.0)),
                ),
                (
                    "bytes/obj",
                    Box::new(move |r| rings(r).map(|r| r.peak_rss_bytes as f64 / n)),
                ),
            ]
        }
        Job::Live { .. } => vec![
            (
                "full ns/o",
                Box::new(|r| live(r).map(|r| r.full_collect_ns_per_obj)),
            ),
            (
                "young µs",
                Box::new(|r| live(r)?.young_collect_ns.map(|n| n / 1e3)),
            ),
            (
                "young-empty µs",
                Box::new(|r| live(r)?.young_collect_empty_ns.map(|n| n / 1e3)),
            ),
            ("freed", Box::new(|r| live(r).map(|r| r.collected as f64))),
        ],
        Job::Trees { .. } => vec![
            (
                "total ms",
                Box::new(|r| match r {
                    JobResult::Trees(t) => Some(t.total_ms),
                    _ => None,
                }),
            ),
            (
                "checksum",
                Box::new(|r| match r {
                    JobResult::Trees(t) => Some(t.checksum as f64),
                    _ => None,
                }),
            ),
        ],
        Job::Churn { .. } => vec![
            ("total ms", Box::new(|r| churn(r).map(|r| r.total_ms))),
            ("gc off ms", Box::new(|r| churn(r)?.total_ms_gc_off)),
            (
                "gen0 colls",
                Box::new(|r| churn(r)?.collections.map(|c| c[0] as f64)),
            ),
            (
                "gen1 colls",
                Box::new(|r| churn(r)?.collections.map(|c| c[1] as f64)),
            ),
            (
                "gen2 colls",
                Box::new(|r| churn(r)?.collections.map(|c| c[2] as f64)),
            ),
            (
                "p50 µs",
                Box::new(pause(|p| p.p50, |r| churn(r)?.pauses_us)),
            ),
            (
                "p99 µs",
                Box::new(pause(|p| p.p99, |r| churn(r)?.pauses_us)),
            ),
            (
                "max µs",
                Box::new(pause(|p| p.max, |r| churn(r)?.pauses_us)),
            ),
            ("freed", Box::new(|r| churn(r).map(|r| r.dropped as f64))),
        ],
        Job::Mixed { .. } => vec![
            (
                "young p50 µs",
                Box::new(|r| mixed(r).map(|r| r.young_pauses_us.p50)),
            ),
            (
                "young p99 µs",
                Box::new(|r| mixed(r).map(|r| r.young_pauses_us.p99)),
            ),
            (
                "young max µs",
                Box::new(|r| mixed(r).map(|r| r.young_pauses_us.max)),
            ),
            (
                "empty p50 µs",
                Box::new(|r| mixed(r).map(|r| r.young_pauses_empty_us.p50)),
            ),
            (
                "empty p99 µs",
                Box::new(|r| mixed(r).map(|r| r.young_pauses_empty_us.p99)),
            ),
            (
                "max garbage",
                Box::new(|r| mixed(r).map(|r| r.max_outstanding_garbage as f64)),
            ),
            (
                "gen2 colls",
                Box::new(|r| mixed(r).map(|r| r.collections[2] as f64)),
            ),
            ("total ms", Box::new(|r| mixed(r).map(|r| r.total_ms))),
        ],
    }
}

/// What must hold for a result to be trusted.
fn check(job: &Job, result: &JobResult, reference_checksum: Option<u64>) -> Vec<String> {
    let mut problems = Vec::new();
    match (job, result) {
        (Job::Rings { nodes, .. }, JobResult::Rings(r)) => {
            if r.dropped != *nodes as u64 {
                problems.push(format!("freed {} of {nodes} objects", r.dropped));
            }
            if let Some(c) = r.reported_collected
                && c < *nodes as u64
            {
                problems.push(format!("reported {c} collected, expected {nodes}"));
            }
        }
        (Job::Live { .. }, JobResult::Live(r)) => {
            if r.collected != 0 {
                problems.push(format!("freed {} live objects", r.collected));
            }
        }
        (Job::Trees { .. }, JobResult::Trees(r)) => {
            if let Some(c) = reference_checksum
                && r.checksum != c
            {
                problems.push(format!("checksum {} (expected {c})", r.checksum));
            }
        }
        (Job::Churn { cycles }, JobResult::Churn(r)) => {
            if r.dropped != 2 * *cycles as u64 {
                problems.push(format!("freed {} of {} objects", r.dropped, 2 * cycles));
            }
        }
        (Job::Mixed { .. }, JobResult::Mixed(r)) => {
            if r.young_pauses_us.count == 0 {
                problems.push("no young collection ran".into());
            }
        }
        (job, _) => problems.push(format!("a result of the wrong kind for {}", job.name())),
    }
    problems
}
