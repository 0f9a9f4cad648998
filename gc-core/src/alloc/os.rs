//! Arena memory from the operating system: 1 MiB mappings aligned to 1 MiB, so that the
//! arena of any block is found by masking its address.

use super::ARENA_SIZE;
use std::ptr;

/// Maps one arena: `ARENA_SIZE` bytes, aligned to `ARENA_SIZE`, zero-filled.
/// Returns null when the system is out of address space or memory.
pub(crate) fn map_arena() -> *mut u8 {
    // Linux usually places a new mapping right below the previous one, so a plain
    // 1 MiB request is often aligned already; only when it is not do we over-map and trim.
    let p = map(ARENA_SIZE);
    if p.is_null() {
        return p;
    }
    if (p as usize).is_multiple_of(ARENA_SIZE) {
        return p;
    }
    // SAFETY: `p` is the whole mapping `map` just made; nothing has seen it.
    unsafe { unmap(p, ARENA_SIZE) };
    let raw = map(2 * ARENA_SIZE);
    if raw.is_null() {
        return raw;
    }
    let start = raw as usize;
    let aligned = (start + ARENA_SIZE - 1) & !(ARENA_SIZE - 1);
    let head = aligned - start;
    let tail = ARENA_SIZE - head;
    if head > 0 {
        // SAFETY: `[raw, aligned)` is the start of the mapping `map` just made, before the
        // aligned arena; nothing has seen it.
        unsafe { unmap(raw, head) };
    }
    if tail > 0 {
        // SAFETY: `[aligned + ARENA_SIZE, raw + 2 * ARENA_SIZE)` is the end of the mapping
        // `map` just made, after the aligned arena; nothing has seen it.
        unsafe { unmap((aligned + ARENA_SIZE) as *mut u8, tail) };
    }
    aligned as *mut u8
}

/// Returns an arena mapping to the OS.
///
/// # Safety
/// `base` came from [`map_arena`] and nothing uses the arena any more.
pub(crate) unsafe fn unmap_arena(base: *mut u8) {
    // SAFETY: `[base, base + ARENA_SIZE)` is a mapping from `map_arena` that nothing uses
    // any more (caller).
    unsafe { unmap(base, ARENA_SIZE) };
}

/// Gives the pages of `[base, base + len)` back to the OS while keeping the mapping; they
/// read as zero when touched again.
///
/// # Safety
/// `[base, base + len)` is a page-aligned range inside one of our own arena mappings that
/// holds no live data.
pub(crate) unsafe fn decommit(base: *mut u8, len: usize) {
    // SAFETY: a page-aligned range inside one of our own arena mappings that holds no live
    // data (caller); MADV_DONTNEED on such a range only drops its pages.
    let rc = unsafe { libc::madvise(base.cast(), len, libc::MADV_DONTNEED) };
    debug_assert_eq!(rc, 0, "madvise(MADV_DONTNEED) failed");
}

fn map(len: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping with no address hint touches no existing memory.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        ptr::null_mut()
    } else {
        p.cast()
    }
}

/// # Safety
/// `[p, p + len)` lies inside a mapping made by `map` and nothing uses it any more.
unsafe fn unmap(p: *mut u8, len: usize) {
    // SAFETY: a range inside a mapping made by `map` that nothing uses any more (caller).
    let rc = unsafe { libc::munmap(p.cast(), len) };
    debug_assert_eq!(rc, 0, "munmap failed");
}
