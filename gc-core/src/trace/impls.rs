//! `Trace` and `Finalize` for std types (CPython's `tp_traverse` of its built-in
//! containers). Invariant: each impl reports every handle its value owns, once. Types that can never hold a `Gc` say so with
//! `MAY_CONTAIN_GC = false`; containers pass their elements' answer through.

use super::{Finalize, Trace, Tracer};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

macro_rules! leaf_types {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: holds no handle and reports none.
        unsafe impl Trace for $t {
            const MAY_CONTAIN_GC: bool = false;
            #[inline]
            fn trace(&self, _tracer: &mut Tracer) {}
        }
        impl Finalize for $t {
            const HAS_FINALIZER: bool = false;
        }
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
    const MAY_CONTAIN_GC: bool = false;
    fn trace(&self, _tracer: &mut Tracer) {}
}
impl Finalize for str {
    const HAS_FINALIZER: bool = false;
}

// SAFETY: holds no handle and reports none.
unsafe impl<T: ?Sized> Trace for std::marker::PhantomData<T> {
    const MAY_CONTAIN_GC: bool = false;
    fn trace(&self, _tracer: &mut Tracer) {}
}
impl<T: ?Sized> Finalize for std::marker::PhantomData<T> {
    const HAS_FINALIZER: bool = false;
}

/// A `Cell` can only be read by copying, and `Copy` types never hold a `Gc`.
// SAFETY: a `Copy` type holds no handle; reports none.
unsafe impl<T: Copy> Trace for Cell<T> {
    const MAY_CONTAIN_GC: bool = false;
    fn trace(&self, _tracer: &mut Tracer) {}
}
impl<T: Copy> Finalize for Cell<T> {
    const HAS_FINALIZER: bool = false;
}

/// A `RefCell` mutably borrowed during a collection hides its edges: the object holding it
/// then counts as reachable for that collection (conservative, never a panic).
// SAFETY: reports exactly what the inner value reports, or nothing (hidden edges) while it
// is mutably borrowed.
unsafe impl<T: Trace + ?Sized> Trace for RefCell<T> {
    const MAY_CONTAIN_GC: bool = T::MAY_CONTAIN_GC;
    fn trace(&self, tracer: &mut Tracer) {
        match self.try_borrow() {
            Ok(value) => value.trace(tracer),
            Err(_) => tracer.report_hidden_edges(),
        }
    }
}

impl<T: ?Sized> Finalize for RefCell<T> {
    const HAS_FINALIZER: bool = false;
}

macro_rules! containers {
    ($([$($g:tt)*] $t:ty => |$s:ident, $tr:ident| $body:expr;)*) => {$(
        // SAFETY: each element (or the boxed value) is owned and traced once.
        unsafe impl<$($g)*> Trace for $t {
            const MAY_CONTAIN_GC: bool = <Self as MayContain>::VALUE;
            #[inline]
            fn trace(&self, $tr: &mut Tracer) {
                let $s = self;
                $body
            }
        }
        impl<$($g)*> Finalize for $t {
            const HAS_FINALIZER: bool = false;
        }
    )*};
}

/// The element answer of each container, kept apart so the macro above stays uniform.
trait MayContain {
    const VALUE: bool;
}
impl<T: Trace + ?Sized> MayContain for Box<T> {
    const VALUE: bool = T::MAY_CONTAIN_GC;
}
impl<T: Trace> MayContain for Vec<T> {
    const VALUE: bool = T::MAY_CONTAIN_GC;
}
impl<T: Trace> MayContain for VecDeque<T> {
    const VALUE: bool = T::MAY_CONTAIN_GC;
}
impl<T: Trace> MayContain for Option<T> {
    const VALUE: bool = T::MAY_CONTAIN_GC;
}
impl<T: Trace, E: Trace> MayContain for Result<T, E> {
    const VALUE: bool = T::MAY_CONTAIN_GC || E::MAY_CONTAIN_GC;
}
impl<K: Trace, V: Trace, S> MayContain for HashMap<K, V, S> {
    const VALUE: bool = K::MAY_CONTAIN_GC || V::MAY_CONTAIN_GC;
}
impl<T: Trace, S> MayContain for HashSet<T, S> {
    const VALUE: bool = T::MAY_CONTAIN_GC;
}
impl<K: Trace, V: Trace> MayContain for BTreeMap<K, V> {
    const VALUE: bool = K::MAY_CONTAIN_GC || V::MAY_CONTAIN_GC;
}
impl<T: Trace> MayContain for BTreeSet<T> {
    const VALUE: bool = T::MAY_CONTAIN_GC;
}
impl<T: Trace> MayContain for [T] {
    const VALUE: bool = T::MAY_CONTAIN_GC;
}
impl<T: Trace, const N: usize> MayContain for [T; N] {
    const VALUE: bool = T::MAY_CONTAIN_GC;
}

containers! {
    [T: Trace + ?Sized] Box<T> => |s, t| (**s).trace(t);
    [T: Trace] Vec<T> => |s, t| s.iter().for_each(|x| x.trace(t));
    [T: Trace] VecDeque<T> => |s, t| s.iter().for_each(|x| x.trace(t));
    [T: Trace] Option<T> => |s, t| if let Some(x) = s { x.trace(t) };
    [T: Trace, E: Trace] Result<T, E> => |s, t| match s { Ok(x) => x.trace(t), Err(e) => e.trace(t) };
    [K: Trace, V: Trace, S] HashMap<K, V, S> => |s, t| s.iter().for_each(|(k, v)| { k.trace(t); v.trace(t) });
    [T: Trace, S] HashSet<T, S> => |s, t| s.iter().for_each(|x| x.trace(t));
    [K: Trace, V: Trace] BTreeMap<K, V> => |s, t| s.iter().for_each(|(k, v)| { k.trace(t); v.trace(t) });
    [T: Trace] BTreeSet<T> => |s, t| s.iter().for_each(|x| x.trace(t));
    [T: Trace] [T] => |s, t| s.iter().for_each(|x| x.trace(t));
    [T: Trace, const N: usize] [T; N] => |s, t| s.iter().for_each(|x| x.trace(t));
}

macro_rules! tuples {
    ($(($($n:tt $t:ident),+))*) => {$(
        // SAFETY: each field is owned and traced once.
        unsafe impl<$($t: Trace),+> Trace for ($($t,)+) {
            const MAY_CONTAIN_GC: bool = false $(|| $t::MAY_CONTAIN_GC)+;
            #[inline]
            fn trace(&self, tracer: &mut Tracer) {
                $(self.$n.trace(tracer);)+
            }
        }
        impl<$($t),+> Finalize for ($($t,)+) {
            const HAS_FINALIZER: bool = false;
        }
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
