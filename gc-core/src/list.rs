//! Layer 2: intrusive, circular, doubly linked lists of tracked objects (CPython's
//! `gc_list_*`). Flavour-neutral: it knows [`Links`] only, not what holds them.
//!
//! Invariant owned here: a list is a sentinel whose `next`/`prev` point at itself when
//! empty; in a *well-formed* list every node's `prev` holds a real pointer (not `gc_refs`)
//! and `a.next == b` exactly when `b.prev == a`. Every function requires that the lists it
//! touches are well formed and that their nodes are live, and keeps them so;
//! [`check_well_formed`] verifies it (debug builds call it between collector passes).

use crate::object::{Links, Obj};
use std::ptr;

/// Makes `head` an empty list.
pub(crate) fn init(head: &Links) {
    head.next.set(head);
    head.prev.set(head);
}

pub(crate) fn is_empty(head: &Links) -> bool {
    ptr::eq(head.next.get(), head)
}

/// Appends `node` at the tail of `head`.
///
/// # Safety
/// `node` is the live links of an object on no list; `head` a well-formed list.
pub(crate) unsafe fn append(node: *const Links, head: &Links) {
    let last = head.prev.get();
    // SAFETY: the tail of a well-formed list is live (the sentinel when empty).
    unsafe { (*last).next.set(node) };
    // SAFETY: `node` is live (caller).
    let node_ref = unsafe { &*node };
    node_ref.prev.set(last);
    node_ref.next.set(head);
    head.prev.set(node);
}

/// Inserts `node` at the head of `head` (right after the sentinel).
///
/// # Safety
/// `node` is the live links of an object on no list; `head` a well-formed list.
pub(crate) unsafe fn prepend(node: *const Links, head: &Links) {
    let first = head.next.get();
    // SAFETY: `node` is live (caller).
    let node_ref = unsafe { &*node };
    node_ref.next.set(first);
    node_ref.prev.set(head);
    // SAFETY: the first node of a well-formed list is live (the sentinel when empty).
    unsafe { (*first).prev.set(node) };
    head.next.set(node);
}

/// Unlinks `node` from whatever well-formed list holds it.
///
/// # Safety
/// `node` is live and on a well-formed list.
pub(crate) unsafe fn remove(node: *const Links) {
    // SAFETY: `node` is live (caller).
    let node_ref = unsafe { &*node };
    let prev = node_ref.prev.get();
    let next = node_ref.next.get();
    // SAFETY: neighbours on a well-formed list are live.
    unsafe { (*prev).next.set(next) };
    // SAFETY: as for `prev`.
    unsafe { (*next).prev.set(prev) };
    node_ref.next.set(ptr::null());
    node_ref.prev.set(ptr::null());
}

/// Moves every node of `from` to the tail of `to`; `from` becomes empty.
///
/// # Safety
/// Both are well-formed lists.
pub(crate) unsafe fn merge(from: &Links, to: &Links) {
    if is_empty(from) {
        return;
    }
    let to_tail = to.prev.get();
    let first = from.next.get();
    let last = from.prev.get();
    // SAFETY: the tail of a well-formed list is live (the sentinel when empty).
    unsafe { (*to_tail).next.set(first) };
    // SAFETY: `from` is not empty, so its first node is a live node.
    unsafe { (*first).prev.set(to_tail) };
    // SAFETY: `from` is not empty, so its last node is a live node.
    unsafe { (*last).next.set(to) };
    to.prev.set(last);
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
    let first = from.next.get();
    let last = from.prev.get();
    let to_first = to.next.get();
    // SAFETY: `from` is not empty, so its last node is a live node.
    unsafe { (*last).next.set(to_first) };
    // SAFETY: the first node of a well-formed list is live (the sentinel when empty).
    unsafe { (*to_first).prev.set(last) };
    to.next.set(first);
    // SAFETY: `from` is not empty, so its first node is a live node.
    unsafe { (*first).prev.set(to) };
    init(from);
}

/// Number of nodes (walks the list).
///
/// # Safety
/// `head` is a well-formed list.
pub(crate) unsafe fn len(head: &Links) -> usize {
    let mut n = 0;
    let mut node = head.next.get();
    while !ptr::eq(node, head) {
        n += 1;
        // SAFETY: nodes of a well-formed list are live.
        node = unsafe { (*node).next.get() };
    }
    n
}

/// Calls `f` with each object of the list, in order; `f` may unlink the object it is given
/// (the next node is read first) but nothing else.
///
/// # Safety
/// `head` is a well-formed list of tracked objects.
pub(crate) unsafe fn for_each(head: &Links, mut f: impl FnMut(Obj)) {
    let mut node = head.next.get();
    while !ptr::eq(node, head) {
        // SAFETY: nodes of a well-formed list are live.
        let next = unsafe { (*node).next.get() };
        // SAFETY: the nodes of these lists are links of tracked objects.
        f(unsafe { Obj::from_links(node) });
        node = next;
    }
}

/// Checks that `head` is well formed: every `next` is matched by the following node's
/// `prev`, and the walk comes back to the sentinel. Returns the number of nodes.
///
/// # Safety
/// Every node reachable from `head` by `next` is live.
pub(crate) unsafe fn check_well_formed(head: &Links) -> Result<usize, String> {
    let mut n = 0;
    let mut prev: *const Links = head;
    let mut node = head.next.get();
    while !ptr::eq(node, head) {
        if node.is_null() {
            return Err(format!("node {n} has a null `next`"));
        }
        // SAFETY: nodes reachable by `next` are live (caller).
        let node_ref = unsafe { &*node };
        if !ptr::eq(node_ref.prev.get(), prev) {
            return Err(format!(
                "node {n} at {node:p}: `prev` is {:p}, expected {prev:p}",
                node_ref.prev.get()
            ));
        }
        n += 1;
        prev = node;
        node = node_ref.next.get();
    }
    if !ptr::eq(head.prev.get(), prev) {
        return Err(format!(
            "the sentinel's `prev` is {:p}, expected the last node {prev:p}",
            head.prev.get()
        ));
    }
    Ok(n)
}

#[cfg(test)]
#[allow(clippy::multiple_unsafe_ops_per_block)]
mod tests {
    use super::*;

    fn nodes(n: usize) -> Vec<Links> {
        (0..n).map(|_| Links::unlinked()).collect()
    }

    fn order(head: &Links, all: &[Links]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut node = head.next.get();
        while !ptr::eq(node, head) {
            out.push(all.iter().position(|l| ptr::eq(l, node)).unwrap());
            // SAFETY: the test's nodes live in `all`.
            node = unsafe { (*node).next.get() };
        }
        out
    }

    #[test]
    fn append_prepend_remove_merge_keep_lists_well_formed() {
        let all = nodes(6);
        let (a, b) = (Links::unlinked(), Links::unlinked());
        init(&a);
        init(&b);
        // SAFETY: the nodes are live and on no list; `a` and `b` are well formed.
        unsafe {
            for n in &all[..3] {
                append(n, &a);
            }
            prepend(&all[3], &a);
            append(&all[4], &b);
            prepend(&all[5], &b);
            assert_eq!(check_well_formed(&a), Ok(4));
            assert_eq!(order(&a, &all), [3, 0, 1, 2]);
            remove(&all[1]);
            assert_eq!(check_well_formed(&a), Ok(3));
            merge(&b, &a);
            assert!(is_empty(&b));
            assert_eq!(order(&a, &all), [3, 0, 2, 5, 4]);
            append(&all[1], &b);
            merge_front(&b, &a);
            assert_eq!(order(&a, &all), [1, 3, 0, 2, 5, 4]);
            assert_eq!(len(&a), 6);
            assert_eq!(check_well_formed(&a), Ok(6));
        }
    }

    #[test]
    fn a_broken_link_is_reported() {
        let all = nodes(2);
        let head = Links::unlinked();
        init(&head);
        // SAFETY: the nodes live in `all`, on no list; `head` is well formed.
        unsafe {
            append(&all[0], &head);
            append(&all[1], &head);
        }
        all[1].set_gc_refs(3);
        // SAFETY: the nodes are live.
        let err = unsafe { check_well_formed(&head) }.unwrap_err();
        assert!(err.contains("node 1"), "{err}");
    }
}
