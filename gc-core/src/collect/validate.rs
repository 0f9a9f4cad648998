//! CPython's `validate_list`: the flag table of `object::header`, executed. Debug builds
//! check a list between the collector's passes and panic with the broken rule; release
//! builds compile the checks away.

use crate::list;
use crate::object::{Links, flags};

/// What every object of a list must look like.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Expect {
    /// On a heap list between collections, or about to be collected: tracked, not in a
    /// collection.
    Listed,
    /// Kept by `move_unreachable`: tracked, neither `COLLECTING` nor `UNREACHABLE`.
    Reachable,
    /// Found unreachable: tracked and `UNREACHABLE`; `COLLECTING` until `handle_weakrefs`.
    Unreachable {
        /// Whether `COLLECTING` is still set.
        collecting: bool,
    },
}

/// Checks `head` against `expect` in debug builds.
///
/// # Safety
/// The nodes reachable from `head` by `next` are live tracked objects.
#[inline]
pub(crate) unsafe fn validate_list(head: &Links, expect: Expect) {
    if cfg!(debug_assertions) {
        // SAFETY: the nodes reachable from `head` are live tracked objects (caller).
        if let Err(e) = unsafe { check_list(head, expect) } {
            panic!("gc: list invariant broken ({expect:?}): {e}");
        }
    }
}

/// The check itself: the list is well formed and every object's flags match `expect`.
///
/// # Safety
/// As [`validate_list`].
pub(crate) unsafe fn check_list(head: &Links, expect: Expect) -> Result<usize, String> {
    // SAFETY: live nodes (caller).
    let n = unsafe { list::check_well_formed(head) }?;
    let mut broken = None;
    let mut index = 0;
    let check = |obj: crate::object::Obj| {
        // SAFETY: live (caller).
        let word = unsafe { obj.header() }.flags();
        let has = |flag| word & flag != 0;
        let ok = has(flags::TRACKED)
            && !has(flags::DEAD)
            && match expect {
                Expect::Listed => !has(flags::COLLECTING),
                Expect::Reachable => !has(flags::COLLECTING | flags::UNREACHABLE),
                Expect::Unreachable { collecting } => {
                    has(flags::UNREACHABLE) && has(flags::COLLECTING) == collecting
                }
            };
        if !ok && broken.is_none() {
            broken = Some(format!(
                "object {index} at {:#x} has flags {word:#x}",
                obj.addr()
            ));
        }
        index += 1;
    };
    // SAFETY: a well-formed list of live tracked objects (checked above, and caller).
    unsafe { list::for_each(head, check) };
    broken.map_or(Ok(n), Err)
}

/// Debug builds: the oldest objects a full collection leaves out of its walk, from `first`
/// to the end of `head`, are `len` objects tagged with the oldest generation, none a
/// candidate or escaped (the record `GcHeap::take_oldest_clean` vouched for).
///
/// # Safety
/// `first` is `head` or a node of the well-formed list `head` of live tracked objects.
pub(crate) unsafe fn validate_clean_oldest(head: &Links, first: *const Links, len: usize) {
    if !cfg!(debug_assertions) {
        return;
    }
    let mut n = 0;
    let mut node = first;
    while !std::ptr::eq(node, head) {
        // SAFETY: a node of the list (caller): a live tracked object.
        let obj = unsafe { crate::object::Obj::from_links(node) };
        // SAFETY: live.
        let word = unsafe { obj.header() }.flags();
        assert!(
            word & flags::GEN_MASK == flags::OLDEST
                && word & (flags::CANDIDATE | flags::ESCAPED) == 0,
            "gc: the oldest generation was recorded clean, but object {:#x} has flags {word:#x}",
            obj.addr()
        );
        n += 1;
        // SAFETY: live and tracked.
        node = unsafe { obj.links() }.next.get();
    }
    assert_eq!(
        n, len,
        "gc: the oldest generation holds {n} objects, the record says {len}"
    );
}
