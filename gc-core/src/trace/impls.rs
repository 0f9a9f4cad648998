//! `Trace` and `Finalize` for std types (CPython's `tp_traverse` of its built-in
//! containers). Invariant: each impl reports every handle its value owns, once. Types that
//! can never hold a `Gc` say so (`may_contain_gc` false); containers pass their elements'
//! answer through.
//!
//! `Rc<T>` and `Arc<T>` are leaves: a value shared by several owners cannot report its
//! handles once per owner, so they are never traced through. A `Gc` kept inside one is a
//! root for as long as the `Rc` lives (a cycle through it leaks, as any `Rc` cycle would);
//! hold a `Gc` instead, or skip the field when it never reaches one.

use super::{Finalize, Trace, Tracer};
use std::cell::{Cell, OnceCell, RefCell};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, LinkedList, VecDeque};

/// `Finalize` with no finalizer, for types that have none.
macro_rules! no_finalizer {
    ([$($g:tt)*] $t:ty) => {
        impl<$($g)*> Finalize for $t {
            #[inline(always)]
            fn has_finalizer() -> bool {
                false
            }
        }
    };
}

macro_rules! leaf_types {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: holds no handle and reports none.
        unsafe impl Trace for $t {
            #[inline(always)]
            fn trace(&self, _tracer: &mut Tracer) {}
            #[inline(always)]
            fn may_contain_gc() -> bool {
                false
            }
        }
        no_finalizer!([] $t);
    )*};
}

leaf_types!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    String,
    &'static str,
    std::path::PathBuf,
    std::ffi::OsString,
    std::time::Duration,
    std::time::Instant,
);

// SAFETY: holds no handle and reports none.
unsafe impl Trace for str {
    fn trace(&self, _tracer: &mut Tracer) {}
}
impl Finalize for str {}

macro_rules! leaf_generic {
    ($([$($g:tt)*] $t:ty;)*) => {$(
        // SAFETY: reports nothing: the value holds no handle it could report once (see the
        // module docs for `Rc` and `Arc`).
        unsafe impl<$($g)*> Trace for $t {
            #[inline(always)]
            fn trace(&self, _tracer: &mut Tracer) {}
            #[inline(always)]
            fn may_contain_gc() -> bool {
                false
            }
        }
        no_finalizer!([$($g)*] $t);
    )*};
}

leaf_generic! {
    [T: ?Sized] std::marker::PhantomData<T>;
    [T: ?Sized] std::rc::Rc<T>;
    [T: ?Sized] std::sync::Arc<T>;
    [R] fn() -> R;
    [A, R] fn(A) -> R;
    [A, B, R] fn(A, B) -> R;
    [A, B, C, R] fn(A, B, C) -> R;
    [A, B, C, D, R] fn(A, B, C, D) -> R;
}

/// A `Cell` is traced by taking its value out, tracing it and putting it back (the value is
/// restored even if its trace panics). `Cell<Option<Gc<T>>>` is the usual use.
// SAFETY: reports exactly what the value reports; the value is back in the cell before
// `trace` returns or unwinds, so no handle moves for good.
unsafe impl<T: Trace + Default> Trace for Cell<T> {
    fn trace(&self, tracer: &mut Tracer) {
        if !T::may_contain_gc() {
            return;
        }
        struct Restore<'a, T: Default>(&'a Cell<T>, Option<T>);
        impl<T: Default> Drop for Restore<'_, T> {
            fn drop(&mut self) {
                if let Some(v) = self.1.take() {
                    self.0.set(v);
                }
            }
        }
        let restore = Restore(self, Some(self.take()));
        if let Some(value) = &restore.1 {
            value.trace(tracer);
        }
    }
    #[inline(always)]
    fn may_contain_gc() -> bool {
        T::may_contain_gc()
    }
}
no_finalizer!([T: ?Sized] Cell<T>);

/// A `RefCell` mutably borrowed during a collection hides its edges: the object holding it
/// then counts as reachable for that collection (conservative, never a panic).
// SAFETY: reports exactly what the inner value reports, or nothing (hidden edges) while it
// is mutably borrowed.
unsafe impl<T: Trace> Trace for RefCell<T> {
    fn trace(&self, tracer: &mut Tracer) {
        match self.try_borrow() {
            Ok(value) => value.trace(tracer),
            Err(_) => tracer.report_hidden_edges(),
        }
    }
    #[inline(always)]
    fn may_contain_gc() -> bool {
        T::may_contain_gc()
    }
}
no_finalizer!([T: ?Sized] RefCell<T>);

// SAFETY: reports the value once it is set.
unsafe impl<T: Trace> Trace for OnceCell<T> {
    fn trace(&self, tracer: &mut Tracer) {
        if let Some(value) = self.get() {
            value.trace(tracer);
        }
    }
    #[inline(always)]
    fn may_contain_gc() -> bool {
        T::may_contain_gc()
    }
}
no_finalizer!([T] OnceCell<T>);

/// A box reports what its value reports.
// SAFETY: the boxed value is owned and traced once.
unsafe impl<T: Trace> Trace for Box<T> {
    #[inline]
    fn trace(&self, tracer: &mut Tracer) {
        (**self).trace(tracer)
    }
    #[inline(always)]
    fn may_contain_gc() -> bool {
        T::may_contain_gc()
    }
}
no_finalizer!([T: ?Sized] Box<T>);

// SAFETY: the boxed items are owned and traced once each.
unsafe impl<T: Trace> Trace for Box<[T]> {
    #[inline]
    fn trace(&self, tracer: &mut Tracer) {
        self.iter().for_each(|x| x.trace(tracer))
    }
    #[inline(always)]
    fn may_contain_gc() -> bool {
        T::may_contain_gc()
    }
}

// SAFETY: holds no handle and reports none.
unsafe impl Trace for Box<str> {
    #[inline(always)]
    fn trace(&self, _tracer: &mut Tracer) {}
    #[inline(always)]
    fn may_contain_gc() -> bool {
        false
    }
}

/// `Box<dyn Trace>`: the boxed value reports its own edges; whether it may hold a `Gc` is
/// not known from the type, so it counts as possibly holding one. For a box of another
/// trait object whose trait has `Trace` as a supertrait, `gc_api::trace_box_dyn!(Trait)`
/// writes the same impl (a `Box` of a local trait object is a local type).
// SAFETY: the boxed value is owned and traced once.
unsafe impl Trace for Box<dyn Trace> {
    #[inline]
    fn trace(&self, tracer: &mut Tracer) {
        (**self).trace(tracer)
    }
}

macro_rules! containers {
    ($([$($g:tt)*] $t:ty => |$s:ident, $tr:ident| $body:expr, may: $may:expr;)*) => {$(
        // SAFETY: each element is owned and traced once.
        unsafe impl<$($g)*> Trace for $t {
            #[inline]
            fn trace(&self, $tr: &mut Tracer) {
                let $s = self;
                $body
            }
            #[inline(always)]
            fn may_contain_gc() -> bool {
                $may
            }
        }
        no_finalizer!([$($g)*] $t);
    )*};
}

containers! {
    [T: Trace] Vec<T> => |s, t| s.iter().for_each(|x| x.trace(t)), may: T::may_contain_gc();
    [T: Trace] VecDeque<T> => |s, t| s.iter().for_each(|x| x.trace(t)), may: T::may_contain_gc();
    [T: Trace] LinkedList<T> => |s, t| s.iter().for_each(|x| x.trace(t)), may: T::may_contain_gc();
    [T: Trace] BinaryHeap<T> => |s, t| s.iter().for_each(|x| x.trace(t)), may: T::may_contain_gc();
    [T: Trace] Option<T> => |s, t| if let Some(x) = s { x.trace(t) }, may: T::may_contain_gc();
    [T: Trace, E: Trace] Result<T, E> => |s, t| match s { Ok(x) => x.trace(t), Err(e) => e.trace(t) },
        may: T::may_contain_gc() || E::may_contain_gc();
    [K: Trace, V: Trace, S] HashMap<K, V, S> => |s, t| s.iter().for_each(|(k, v)| { k.trace(t); v.trace(t) }),
        may: K::may_contain_gc() || V::may_contain_gc();
    [T: Trace, S] HashSet<T, S> => |s, t| s.iter().for_each(|x| x.trace(t)), may: T::may_contain_gc();
    [K: Trace, V: Trace] BTreeMap<K, V> => |s, t| s.iter().for_each(|(k, v)| { k.trace(t); v.trace(t) }),
        may: K::may_contain_gc() || V::may_contain_gc();
    [T: Trace] BTreeSet<T> => |s, t| s.iter().for_each(|x| x.trace(t)), may: T::may_contain_gc();
    [T: Trace, const N: usize] [T; N] => |s, t| s.iter().for_each(|x| x.trace(t)), may: T::may_contain_gc();
}

// SAFETY: each element is owned and traced once.
unsafe impl<T: Trace> Trace for [T] {
    #[inline]
    fn trace(&self, tracer: &mut Tracer) {
        self.iter().for_each(|x| x.trace(tracer))
    }
}
impl<T> Finalize for [T] {}

macro_rules! tuples {
    ($(($($n:tt $t:ident),+))*) => {$(
        // SAFETY: each field is owned and traced once.
        unsafe impl<$($t: Trace),+> Trace for ($($t,)+) {
            #[inline]
            fn trace(&self, tracer: &mut Tracer) {
                $(self.$n.trace(tracer);)+
            }
            #[inline(always)]
            fn may_contain_gc() -> bool {
                false $(|| $t::may_contain_gc())+
            }
        }
        no_finalizer!([$($t),+] ($($t,)+));
    )*};
}

tuples! {
    (0 A)
    (0 A, 1 B)
    (0 A, 1 B, 2 C)
    (0 A, 1 B, 2 C, 3 D)
    (0 A, 1 B, 2 C, 3 D, 4 E)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H)
}

#[cfg(feature = "hashbrown")]
containers! {
    [K: Trace, V: Trace, S] hashbrown::HashMap<K, V, S> => |s, t| s.iter().for_each(|(k, v)| { k.trace(t); v.trace(t) }),
        may: K::may_contain_gc() || V::may_contain_gc();
    [T: Trace, S] hashbrown::HashSet<T, S> => |s, t| s.iter().for_each(|x| x.trace(t)), may: T::may_contain_gc();
}

#[cfg(feature = "indexmap")]
containers! {
    [K: Trace, V: Trace, S] indexmap::IndexMap<K, V, S> => |s, t| s.iter().for_each(|(k, v)| { k.trace(t); v.trace(t) }),
        may: K::may_contain_gc() || V::may_contain_gc();
    [T: Trace, S] indexmap::IndexSet<T, S> => |s, t| s.iter().for_each(|x| x.trace(t)), may: T::may_contain_gc();
}

#[cfg(feature = "smallvec")]
containers! {
    [A: smallvec::Array<Item: Trace>] smallvec::SmallVec<A> => |s, t| s.iter().for_each(|x| x.trace(t)),
        may: <A::Item as Trace>::may_contain_gc();
}
