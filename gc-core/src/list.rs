//! Intrusive, circular, doubly linked lists of tracked objects (CPython's `gc_list_*`).
//!
//! A list is a sentinel [`Links`] whose `next`/`prev` point at itself when empty. Every
//! function here requires that the lists it touches are well formed: each node's `prev`
//! holds a real pointer (not `gc_refs`), and `next`/`prev` of neighbours agree.

use crate::object::{Header, Links};
use std::cell::Cell;
use std::ptr::{self, NonNull};

impl Links {
    /// An unlinked node; call [`init`] once it is at its final address.
    pub(crate) const fn unlinked() -> Links {
        Links {
            next: Cell::new(ptr::null()),
            prev: Cell::new(0),
        }
    }

    #[inline]
    pub(crate) fn prev_node(&self) -> *const Links {
        self.prev.get() as *const Links
    }
}

/// Makes `head` an empty list.
pub(crate) fn init(head: &Links) {
    head.next.set(head);
    head.prev.set(head as *const Links as usize);
}

pub(crate) fn is_empty(head: &Links) -> bool {
    ptr::eq(head.next.get(), head)
}

/// Appends `node` at the tail of `head`.
///
/// # Safety
/// `node` is a live node on no list; `head` a well-formed list.
pub(crate) unsafe fn append(node: *const Links, head: &Links) {
    // SAFETY: the caller guarantees both are live; the tail of a well-formed list is live.
    unsafe {
        let last = head.prev_node();
        (*last).next.set(node);
        (*node).prev.set(last as usize);
        (*node).next.set(head);
        head.prev.set(node as usize);
    }
}

/// Inserts `node` at the head of `head` (right after the sentinel).
///
/// # Safety
/// `node` is a live node on no list; `head` a well-formed list.
pub(crate) unsafe fn prepend(node: *const Links, head: &Links) {
    // SAFETY: the caller guarantees both are live; the first node of a well-formed list is
    // live (or the sentinel itself).
    unsafe {
        let first = head.next.get();
        (*node).next.set(first);
        (*node).prev.set(head as *const Links as usize);
        (*first).prev.set(node as usize);
        head.next.set(node);
    }
}

/// Unlinks `node` from whatever well-formed list holds it.
///
/// # Safety
/// `node` is on a well-formed list.
pub(crate) unsafe fn remove(node: *const Links) {
    // SAFETY: neighbours on a well-formed list are live.
    unsafe {
        let prev = (*node).prev_node();
        let next = (*node).next.get();
        (*prev).next.set(next);
        (*next).prev.set(prev as usize);
        (*node).next.set(ptr::null());
        (*node).prev.set(0);
    }
}

/// Moves every node of `from` to the tail of `to`; `from` becomes empty.
///
/// # Safety
/// Both are well-formed lists.
pub(crate) unsafe fn merge(from: &Links, to: &Links) {
    if is_empty(from) {
        return;
    }
    // SAFETY: the ends of well-formed lists are live.
    unsafe {
        let to_tail = to.prev_node();
        let first = from.next.get();
        let last = from.prev_node();
        (*to_tail).next.set(first);
        (*first).prev.set(to_tail as usize);
        (*last).next.set(to);
        to.prev.set(last as usize);
    }
    init(from);
}

/// Moves every node of `from` to the head of `to`, in order; `from` becomes empty.
///
/// # Safety
/// Both are well-formed lists.
pub(crate) unsafe fn merge_front(from: &Links, to: &Links) {
    if is_empty(from) {
        return;
    }
    // SAFETY: the ends of well-formed lists are live.
    unsafe {
        let first = from.next.get();
        let last = from.prev_node();
        let to_first = to.next.get();
        (*last).next.set(to_first);
        (*to_first).prev.set(last as usize);
        to.next.set(first);
        (*first).prev.set(to as *const Links as usize);
    }
    init(from);
}

/// Number of nodes (walks the list).
pub(crate) fn len(head: &Links) -> usize {
    let mut n = 0;
    let mut node = head.next.get();
    while !ptr::eq(node, head) {
        n += 1;
        // SAFETY: nodes of a well-formed list are live.
        node = unsafe { (*node).next.get() };
    }
    n
}

/// Calls `f` with each object of the list; `f` must not unlink anything.
pub(crate) fn for_each(head: &Links, mut f: impl FnMut(NonNull<Header>)) {
    let mut node = head.next.get();
    while !ptr::eq(node, head) {
        // SAFETY: nodes of a well-formed list are live; read `next` before calling `f`.
        let next = unsafe { (*node).next.get() };
        f(Header::from_links(node));
        node = next;
    }
}
