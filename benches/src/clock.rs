//! The clock every timed figure of a contender's child process is read from
//! (`gc-stress --clock wall|cpu`).
//!
//! `wall` (the default) is [`std::time::Instant`]: what a user waits. `cpu` is the
//! process's CPU time, `clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`: user plus system time of
//! the child, so time the machine spent on other processes (two shared cores here) does not
//! count. A child sets its clock once, before the job starts ([`set`]); every workload then
//! reads it through [`Stamp`]. CPython reads the same clock
//! (`time.clock_gettime_ns(time.CLOCK_PROCESS_CPUTIME_ID)`) when given `--clock cpu`.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Which clock timed figures are read from.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// Wall time (`Instant`).
    #[default]
    Wall,
    /// The process's CPU time (`CLOCK_PROCESS_CPUTIME_ID`).
    Cpu,
}

impl Clock {
    /// `wall` or `cpu`, as the command line spells it.
    pub fn key(self) -> &'static str {
        match self {
            Clock::Wall => "wall",
            Clock::Cpu => "cpu",
        }
    }

    /// Parses [`Clock::key`].
    pub fn from_key(s: &str) -> Option<Clock> {
        match s {
            "wall" => Some(Clock::Wall),
            "cpu" => Some(Clock::Cpu),
            _ => None,
        }
    }

    /// A phrase for reports: which clock the times below were read from.
    pub fn describe(self) -> &'static str {
        match self {
            Clock::Wall => "times are wall-clock time",
            Clock::Cpu => "times are process CPU time, CLOCK_PROCESS_CPUTIME_ID, not wall time",
        }
    }
}

impl fmt::Display for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

static CPU: AtomicBool = AtomicBool::new(false);

/// Selects the clock [`Stamp::now`] reads from here on, for this whole process.
pub fn set(clock: Clock) {
    CPU.store(clock == Clock::Cpu, Ordering::Relaxed);
}

/// The clock [`Stamp::now`] reads.
pub fn current() -> Clock {
    if CPU.load(Ordering::Relaxed) {
        Clock::Cpu
    } else {
        Clock::Wall
    }
}

/// CPU time this process has used so far (all its threads).
pub fn process_cpu_time() -> Duration {
    cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// CPU time the calling thread has used so far.
pub fn thread_cpu_time() -> Duration {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// Reads one of Linux's CPU-time clocks.
fn cpu_clock(id: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live, writable `timespec` for the whole call, which is all
    // `clock_gettime` writes to; both CPU-time clock ids above exist on every Linux.
    let rc = unsafe { libc::clock_gettime(id, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime({id}) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A reading of the selected clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// A wall-clock instant.
    Wall(Instant),
    /// Process CPU time used so far.
    Cpu(Duration),
}

impl Stamp {
    /// Reads the clock chosen with [`set`].
    #[inline]
    pub fn now() -> Stamp {
        if CPU.load(Ordering::Relaxed) {
            Stamp::Cpu(process_cpu_time())
        } else {
            Stamp::Wall(Instant::now())
        }
    }

    /// Time from `earlier` to `self` (zero if the two are of different clocks or out of
    /// order).
    pub fn since(self, earlier: Stamp) -> Duration {
        match (self, earlier) {
            (Stamp::Wall(a), Stamp::Wall(b)) => a.saturating_duration_since(b),
            (Stamp::Cpu(a), Stamp::Cpu(b)) => a.saturating_sub(b),
            _ => Duration::ZERO,
        }
    }

    /// Time from `self` to now.
    #[inline]
    pub fn elapsed(self) -> Duration {
        Stamp::now().since(self)
    }

    /// Time from `self` to now in milliseconds.
    pub fn elapsed_ms(self) -> f64 {
        self.elapsed().as_secs_f64() * 1e3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_advances_while_working() {
        let before = process_cpu_time();
        let mut x = 0u64;
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(20) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        assert!(process_cpu_time() > before);
    }

    #[test]
    fn keys_round_trip() {
        for c in [Clock::Wall, Clock::Cpu] {
            assert_eq!(Clock::from_key(c.key()), Some(c));
        }
        assert_eq!(Clock::from_key("sundial"), None);
    }

    #[test]
    fn stamps_of_different_clocks_give_zero() {
        let w = Stamp::Wall(Instant::now());
        let c = Stamp::Cpu(Duration::from_secs(1));
        assert_eq!(c.since(w), Duration::ZERO);
    }
}
