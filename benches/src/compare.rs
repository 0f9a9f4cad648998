//! Runs one [`Job`] with each contender in its own child process and turns the results
//! into ratios (ours / theirs: lower is better for ours).
//!
//! Our `Gc`, `Rc` and the peer crates run in `gc-stress child [--clock cpu] CONTENDER
//! JOB_JSON`; CPython runs `benches/python/workloads.py JOB_JSON [--clock cpu]`. A fresh
//! process per contender keeps collector state, allocator caches and resident memory of one
//! from touching the next.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::clock::Clock;
use crate::harness::Rooted;
use crate::jobs::{Job, JobResult};
use crate::native::rc::RcHeap;
use crate::native::{NativeOutput, Sample};
use crate::peers::Peer;

/// Someone a workload is measured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Contender {
    /// Our `gc_api::Gc`.
    Ours,
    /// `std::rc::Rc`, cycles broken by hand.
    Rc,
    /// A Rust GC crate.
    Peer(Peer),
    /// CPython, through `benches/python/workloads.py`.
    CPython,
}

impl Contender {
    /// The name the `child` subcommand and the JSON output use.
    pub fn key(self) -> &'static str {
        match self {
            Contender::Ours => "ours",
            Contender::Rc => "rc",
            Contender::Peer(p) => p.name(),
            Contender::CPython => "cpython",
        }
    }

    /// Parses [`Contender::key`] (peers also by their alternative spellings).
    pub fn from_key(s: &str) -> Option<Contender> {
        match s {
            "ours" => Some(Contender::Ours),
            "rc" => Some(Contender::Rc),
            "cpython" => Some(Contender::CPython),
            other => Peer::from_name(other).map(Contender::Peer),
        }
    }

    /// Whether this contender can run `job` at all (no child is started otherwise).
    pub fn applies_to(self, job: &Job) -> bool {
        !matches!(
            (self, job),
            (Contender::Rc, Job::Live { .. } | Job::Mixed { .. })
                | (Contender::Peer(_), Job::Mixed { .. })
        )
    }

    /// Every contender, in table order.
    pub fn all() -> Vec<Contender> {
        let mut v = vec![Contender::Ours, Contender::Rc];
        v.extend(Peer::ALL.map(Contender::Peer));
        v.push(Contender::CPython);
        v
    }
}

impl fmt::Display for Contender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contender::Ours => f.write_str("ours (gc-api)"),
            Contender::Rc => f.write_str("std Rc"),
            Contender::Peer(p) => write!(f, "{} {}", p.name(), p.version()),
            Contender::CPython => f.write_str("CPython"),
        }
    }
}

/// What one contender did with one job.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Who ran it.
    pub contender: Contender,
    /// The figures, or why there are none (skipped, failed, not applicable).
    pub result: Result<JobResult, String>,
    /// Our collections, one sample each (churn and mixed with [`Contender::Ours`]).
    pub timeline: Vec<Sample>,
    /// CPython's version, when it ran.
    pub version: Option<String>,
}

impl Outcome {
    /// An outcome with no figures: the contender did not run the job, for this reason.
    pub fn failed(contender: Contender, why: String) -> Outcome {
        Outcome {
            contender,
            result: Err(why),
            timeline: Vec::new(),
            version: None,
        }
    }
}

/// The CPython script, next to this crate's sources.
pub fn python_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python/workloads.py")
}

/// Whether `python3` runs here; `Err` is the one-line note to print when it does not.
pub fn python_available() -> Result<(), String> {
    let script = python_script();
    if !script.is_file() {
        return Err(format!("CPython skipped: {} is missing", script.display()));
    }
    match Command::new("python3").arg("--version").output() {
        Ok(out) if out.status.success() => Ok(()),
        _ => Err("CPython skipped: no python3 on the PATH".to_owned()),
    }
}

/// How long one contender may take on one job before it is killed and reported as
/// timed out (a peer that never finishes must not hang the whole comparison).
pub const CHILD_TIME_LIMIT: Duration = Duration::from_secs(600);

/// Runs `command` to completion, or kills it after `limit` (its stdout and stderr are
/// captured).
pub fn output_within(mut command: Command, limit: Duration) -> Result<Output, String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start: {e}"))?;
    // The pipes are drained on their own threads so a chatty child never blocks on a
    // full pipe while we wait for it.
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {} s", limit.as_secs()));
            }
            // Polling keeps this free of signals and unsafe code; 20 ms is nothing next
            // to the jobs it waits for.
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("could not wait for it: {e}")),
        }
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Runs `job` with `contender` in a child process that times it with `clock`. `exe` is
/// this program (the `child` subcommand runs the Rust contenders).
pub fn run_in_child(exe: &Path, contender: Contender, job: &Job, clock: Clock) -> Outcome {
    let job_json = match serde_json::to_string(job) {
        Ok(j) => j,
        Err(e) => return Outcome::failed(contender, format!("cannot encode the job: {e}")),
    };
    let command = match contender {
        Contender::CPython => {
            if let Err(note) = python_available() {
                return Outcome::failed(contender, note);
            }
            let mut c = Command::new("python3");
            c.arg(python_script())
                .arg(&job_json)
                .args(["--clock", clock.key()]);
            c
        }
        _ => {
            let mut c = Command::new(exe);
            c.args(["child", "--clock", clock.key()])
                .arg(contender.key())
                .arg(&job_json);
            c
        }
    };
    let output = match output_within(command, CHILD_TIME_LIMIT) {
        Ok(o) => o,
        Err(e) => return Outcome::failed(contender, e),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        return Outcome::failed(contender, format!("failed ({}): {last}", output.status));
    }
    let Some(line) = stdout.lines().rev().find(|l| !l.trim().is_empty()) else {
        return Outcome::failed(contender, "printed nothing".to_owned());
    };
    if contender == Contender::CPython {
        let version = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v.get("python")?.as_str().map(str::to_owned));
        return match serde_json::from_str::<JobResult>(line) {
            Ok(result) => Outcome {
                contender,
                result: Ok(result),
                timeline: Vec::new(),
                version,
            },
            Err(e) => Outcome::failed(contender, format!("unreadable output ({e}): {line}")),
        };
    }
    match serde_json::from_str::<NativeOutput>(line) {
        Ok(out) => Outcome {
            contender,
            result: Ok(out.result),
            timeline: out.timeline,
            version: None,
        },
        Err(e) => Outcome::failed(contender, format!("unreadable output ({e}): {line}")),
    }
}

/// Runs `job` in this process (the body of the `child` subcommand), timed with `clock`.
pub fn run_here(contender: Contender, job: &Job, clock: Clock) -> Result<NativeOutput, String> {
    crate::clock::set(clock);
    match contender {
        Contender::Ours => crate::native::ours::run(job),
        Contender::Rc => crate::native::run_with::<Rooted<RcHeap>>(job).map(NativeOutput::plain),
        Contender::Peer(p) => crate::peers::run(p, job).map(NativeOutput::plain),
        Contender::CPython => Err("CPython runs through benches/python/workloads.py".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_past_its_time_limit_is_killed() {
        let mut c = Command::new("sleep");
        c.arg("30");
        let started = Instant::now();
        let err = output_within(c, Duration::from_millis(100)).unwrap_err();
        assert!(err.contains("timed out"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_child_within_its_limit_gives_its_output() {
        let mut c = Command::new("sh");
        c.args(["-c", "echo out; echo err >&2; exit 3"]);
        let out = output_within(c, Duration::from_secs(60)).unwrap();
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status.code(), Some(3));
    }

    #[test]
    fn contender_keys_round_trip() {
        for c in Contender::all() {
            assert_eq!(Contender::from_key(c.key()), Some(c));
        }
        assert_eq!(Contender::from_key("nosuch"), None);
    }
}
