//! Resident set size of the current process.

use std::io;

/// Returns the current resident set size in bytes, read from
/// `/proc/self/statm` (second field, in pages).
pub fn current_rss_bytes() -> io::Result<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let resident_pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected /proc/self/statm contents: {statm:?}"),
            )
        })?;
    Ok(resident_pages * page_size())
}

/// The system page size in bytes.
pub fn page_size() -> usize {
    // SAFETY: `sysconf` has no preconditions; it only reads a system value.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size)
        .ok()
        .filter(|&s| s > 0)
        .unwrap_or(4096)
}

/// Formats a byte count as MiB with two decimals.
pub fn mib(bytes: f64) -> String {
    format!("{:.2} MiB", bytes / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_is_positive() {
        let rss = current_rss_bytes().expect("statm readable on Linux");
        assert!(rss > 0);
        assert!(rss % page_size() == 0);
    }
}
