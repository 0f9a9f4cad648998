//! Allocator statistics in the shape of CPython's `sys._debugmallocstats()`.

use super::{ARENA_SIZE, NB_SMALL_SIZE_CLASSES, POOL_SIZE, SMALL_REQUEST_THRESHOLD};
use std::fmt;

/// Pools and blocks of one size class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SizeClassStats {
    /// Class index (0..32).
    pub class: usize,
    /// Block size of the class, `(class + 1) * 16`.
    pub block_size: usize,
    /// Pools serving this class.
    pub pools: usize,
    /// Blocks handed out and not yet freed.
    pub blocks_in_use: usize,
    /// Blocks free in those pools, carved or not.
    pub available_blocks: usize,
}

/// A snapshot of one heap's pools and arenas.
///
/// The byte figures break the mapped, resident arenas down completely:
/// `arenas_current * ARENA_SIZE == bytes_in_allocated_blocks + bytes_in_available_blocks
/// + unused_pools * POOL_SIZE + bytes_lost_to_pool_headers + bytes_lost_to_quantization
/// + bytes_lost_to_arena_headers + bytes_in_reserved_arenas` (see [`MallocStats::total`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MallocStats {
    /// Per size class, all 32.
    pub classes: [SizeClassStats; NB_SMALL_SIZE_CLASSES],
    /// Arenas ever mapped from the OS.
    pub arenas_allocated_total: usize,
    /// Arenas returned to the OS.
    pub arenas_reclaimed: usize,
    /// Most arenas mapped at once.
    pub arenas_highwater: usize,
    /// Arenas mapped now (in use, kept empty, or reserved).
    pub arenas_current: usize,
    /// Of those, empty arenas whose pages were given back but whose mapping is kept.
    pub arenas_reserved: usize,
    /// Of those, empty arenas kept resident until they sit unused through a whole
    /// `HeapConfig::purge_delay`.
    pub arenas_idle: usize,
    /// Bytes in blocks in use.
    pub bytes_in_allocated_blocks: usize,
    /// Bytes in free blocks of pools in use.
    pub bytes_in_available_blocks: usize,
    /// Pools of resident arenas holding no block in use.
    pub unused_pools: usize,
    /// Pool headers of pools in use.
    pub bytes_lost_to_pool_headers: usize,
    /// Tails of pools in use too short for another block.
    pub bytes_lost_to_quantization: usize,
    /// The header slot at the start of each resident arena (which keeps pools aligned).
    pub bytes_lost_to_arena_headers: usize,
    /// Whole reserved arenas (mapped, not resident).
    pub bytes_in_reserved_arenas: usize,
}

impl MallocStats {
    /// Bytes mapped for arenas: `arenas_current * ARENA_SIZE`.
    ///
    /// ```
    /// use gc_core::alloc::{ARENA_SIZE, MallocStats};
    ///
    /// let stats = MallocStats { arenas_current: 2, ..MallocStats::default() };
    /// assert_eq!(stats.mapped_bytes(), 2 * ARENA_SIZE);
    /// ```
    pub fn mapped_bytes(&self) -> usize {
        self.arenas_current * ARENA_SIZE
    }

    /// The sum of the byte breakdown; equals [`MallocStats::mapped_bytes`].
    ///
    /// ```
    /// // `gc_api::malloc_stats()` in gc-api.
    /// let stats = gc_core::control::malloc_stats();
    /// assert_eq!(stats.total(), stats.mapped_bytes());
    /// ```
    pub fn total(&self) -> usize {
        self.bytes_in_allocated_blocks
            + self.bytes_in_available_blocks
            + self.unused_pools * POOL_SIZE
            + self.bytes_lost_to_pool_headers
            + self.bytes_lost_to_quantization
            + self.bytes_lost_to_arena_headers
            + self.bytes_in_reserved_arenas
    }

    /// Blocks in use over all classes.
    ///
    /// ```
    /// use gc_core::alloc::MallocStats;
    ///
    /// let mut stats = MallocStats::default();
    /// stats.classes[0].blocks_in_use = 3;
    /// stats.classes[5].blocks_in_use = 4;
    /// assert_eq!(stats.blocks_in_use(), 7);
    /// ```
    pub fn blocks_in_use(&self) -> usize {
        self.classes.iter().map(|c| c.blocks_in_use).sum()
    }
}

/// Formats with thousands separators, as CPython's `_debugmallocstats` does.
struct Thousands(usize);

impl fmt::Display for Thousands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(ch);
        }
        f.pad(&out)
    }
}

impl fmt::Display for MallocStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Small block threshold = {SMALL_REQUEST_THRESHOLD}, in {NB_SMALL_SIZE_CLASSES} size classes."
        )?;
        writeln!(f)?;
        writeln!(f, "class   size   num pools   blocks in use  avail blocks")?;
        writeln!(f, "-----   ----   ---------   -------------  ------------")?;
        for c in self.classes.iter().filter(|c| c.pools > 0) {
            writeln!(
                f,
                "{:5}  {:5}  {:10}  {:14}  {:12}",
                c.class, c.block_size, c.pools, c.blocks_in_use, c.available_blocks
            )?;
        }
        writeln!(f)?;
        let line = |f: &mut fmt::Formatter<'_>, label: &str, value: usize| {
            writeln!(f, "{label:<35}= {:>21}", Thousands(value))
        };
        line(f, "# arenas allocated total", self.arenas_allocated_total)?;
        line(f, "# arenas reclaimed", self.arenas_reclaimed)?;
        line(f, "# arenas highwater mark", self.arenas_highwater)?;
        line(f, "# arenas allocated current", self.arenas_current)?;
        line(f, "# arenas reserved (decommitted)", self.arenas_reserved)?;
        line(
            f,
            "# arenas idle (resident, purged when unused)",
            self.arenas_idle,
        )?;
        line(
            f,
            &format!("{} arenas * {ARENA_SIZE} bytes/arena", self.arenas_current),
            self.mapped_bytes(),
        )?;
        writeln!(f)?;
        line(
            f,
            "# bytes in allocated blocks",
            self.bytes_in_allocated_blocks,
        )?;
        line(
            f,
            "# bytes in available blocks",
            self.bytes_in_available_blocks,
        )?;
        line(
            f,
            &format!("{} unused pools * {POOL_SIZE} bytes", self.unused_pools),
            self.unused_pools * POOL_SIZE,
        )?;
        line(
            f,
            "# bytes lost to pool headers",
            self.bytes_lost_to_pool_headers,
        )?;
        line(
            f,
            "# bytes lost to quantization",
            self.bytes_lost_to_quantization,
        )?;
        line(
            f,
            "# bytes lost to arena headers",
            self.bytes_lost_to_arena_headers,
        )?;
        line(
            f,
            "# bytes in reserved arenas",
            self.bytes_in_reserved_arenas,
        )?;
        line(f, "Total", self.total())
    }
}
