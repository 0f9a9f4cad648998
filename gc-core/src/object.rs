//! Objects: the header every object starts with, the per-type vtable, the `Trace` and
//! `Finalize` traits, and the tracer the collector hands to `Trace::trace`.
//!
//! Layout of one object (one allocation, 16-aligned):
//!
//! ```text
//! untracked:  [Header 16 B][value]
//! tracked:    [Header 16 B][Links 16 B][value]
//! ```
//!
//! The header holds the strong count, flag bits and a pointer to the type's [`VTable`].
//! Tracked objects (types whose `Trace` may reach a `Gc`) also carry the links of the
//! intrusive generation lists; during a collection `Links::prev` holds `gc_refs`, as
//! CPython's `_gc_prev` does.

use std::any::TypeId;
use std::cell::Cell;
use std::ptr::{self, NonNull};

/// Flag bits of [`Header::flags`].
pub(crate) mod flags {
    /// On a generation list (or the permanent generation, or a collection's work list).
    pub const TRACKED: u32 = 1 << 0;
    /// The finalizer ran (or started and panicked): it never runs again.
    pub const FINALIZED: u32 = 1 << 1;
    /// The value was dropped; only the memory remains until the last handle goes.
    pub const DEAD: u32 = 1 << 2;
    /// Weak references to the object exist (listed in the heap's weak table).
    pub const HAS_WEAK: u32 = 1 << 3;
    /// The strong count reached zero and the object is being (or queued to be) freed.
    pub const FREEING: u32 = 1 << 4;
    /// In the set a collection is examining; `Links::prev` holds `gc_refs`.
    pub const COLLECTING: u32 = 1 << 5;
    /// Tentatively unreachable in the current collection.
    pub const UNREACHABLE: u32 = 1 << 6;
    /// Allocated outside the pools (large or over-aligned).
    pub const LARGE: u32 = 1 << 7;
    /// The generation a tracked object was last promoted into (2 bits), kept so that an
    /// old object dying by refcounting can be taken off the long-lived counts.
    pub const GEN_SHIFT: u32 = 8;
    pub const GEN_MASK: u32 = 0b11 << GEN_SHIFT;
}

/// The part of every object the collector and the handles share.
#[repr(C)]
pub struct Header {
    /// Strong handles (`Gc`, `GcAny`, and the collector's temporary ones).
    pub(crate) refcount: Cell<u32>,
    pub(crate) flags: Cell<u32>,
    pub(crate) vtable: &'static VTable,
}

/// Links of the intrusive, circular, doubly linked generation lists.
#[repr(C)]
pub(crate) struct Links {
    pub(crate) next: Cell<*const Links>,
    /// The previous node, or `gc_refs` while the object is `COLLECTING`.
    pub(crate) prev: Cell<usize>,
}

pub(crate) const HEADER_SIZE: usize = size_of::<Header>();
pub(crate) const LINKS_SIZE: usize = size_of::<Links>();
const _: () = assert!(HEADER_SIZE == 16 && LINKS_SIZE == 16);

/// What the collector knows about a type, built once per type as a constant.
pub struct VTable {
    pub(crate) type_name: fn() -> &'static str,
    pub(crate) type_id: fn() -> TypeId,
    /// Calls `Trace::trace` on the value at the given address.
    pub(crate) trace: unsafe fn(*const u8, &mut Tracer),
    /// Drops the value at the given address in place.
    pub(crate) drop_value: unsafe fn(*mut u8),
    /// Whether dropping the value does anything (`std::mem::needs_drop`).
    pub(crate) needs_drop: bool,
    /// Calls `Finalize::finalize`, for types that have a finalizer.
    pub(crate) finalize: Option<unsafe fn(*const u8)>,
    /// Whether objects of the type are on the generation lists.
    pub(crate) tracked: bool,
    /// Offset of the value from the header.
    pub(crate) value_offset: usize,
    /// Bytes of the whole allocation.
    pub(crate) size: usize,
    /// Alignment of the whole allocation.
    pub(crate) align: usize,
}

impl std::fmt::Debug for VTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VTable")
            .field("type", &(self.type_name)())
            .field("tracked", &self.tracked)
            .field("size", &self.size)
            .finish()
    }
}

/// The vtable of `T`, as a promoted constant.
pub(crate) struct VTableOf<T>(std::marker::PhantomData<T>);

impl<T: Trace + Finalize + 'static> VTableOf<T> {
    const TRACKED: bool = T::MAY_CONTAIN_GC;
    const VALUE_OFFSET: usize = {
        let fixed = if Self::TRACKED {
            HEADER_SIZE + LINKS_SIZE
        } else {
            HEADER_SIZE
        };
        let align = align_of::<T>();
        fixed.div_ceil(align) * align
    };
    const ALIGN: usize = if align_of::<T>() > 16 {
        align_of::<T>()
    } else {
        16
    };
    pub(crate) const VTABLE: &'static VTable = &VTable {
        type_name: std::any::type_name::<T>,
        type_id: TypeId::of::<T>,
        trace: trace_erased::<T>,
        drop_value: drop_erased::<T>,
        needs_drop: std::mem::needs_drop::<T>(),
        finalize: if T::HAS_FINALIZER {
            Some(finalize_erased::<T>)
        } else {
            None
        },
        tracked: Self::TRACKED,
        value_offset: Self::VALUE_OFFSET,
        size: Self::VALUE_OFFSET + size_of::<T>(),
        align: Self::ALIGN,
    };
}

/// # Safety
/// `value` points at a live, initialised `T`.
unsafe fn trace_erased<T: Trace>(value: *const u8, tracer: &mut Tracer) {
    // SAFETY: guaranteed by the caller.
    unsafe { (*value.cast::<T>()).trace(tracer) }
}

/// # Safety
/// `value` points at a live, initialised `T` that is never used again.
unsafe fn drop_erased<T>(value: *mut u8) {
    // SAFETY: guaranteed by the caller.
    unsafe { ptr::drop_in_place(value.cast::<T>()) }
}

/// # Safety
/// `value` points at a live, initialised `T`.
unsafe fn finalize_erased<T: Finalize>(value: *const u8) {
    // SAFETY: guaranteed by the caller.
    unsafe { (*value.cast::<T>()).finalize() }
}

/// Reports the `Gc` handles a value holds, so the cycle collector can see the object graph.
///
/// `#[derive(Trace)]` writes the impl (an `unsafe impl` the derive vouches for, so users
/// of the derive write no `unsafe`): it calls `trace` on every field, in order.
///
/// # Safety
///
/// The collector decides what to drop from what `trace` reports, so an impl promises:
///
/// 1. **Every handle, exactly once.** It reports every `Gc`/`Weak`/`GcAny` the value owns
///    (directly or inside containers), each exactly once per call.
/// 2. **Only owned handles.** It reports no handle the value does not own (a handle borrowed
///    from elsewhere, a second report of the same handle, a handle of another value).
/// 3. **The same edges on every call** while no `&mut` access to the value happens in
///    between (interior mutability by code other than `trace` counts as such access).
/// 4. **No moves.** It never moves, drops, clones or stores a handle from inside `trace`.
///
/// Breaking rule 2 (reporting too many edges) can make the collector take a reachable
/// object for garbage and drop its value while a `&T` into it is still in use: undefined
/// behaviour. Breaking rules 1, 3 or 4 by reporting too *few* edges, in any pass or only in
/// some, only leaks: before it drops anything the collector counts the edges of the final
/// garbage set once more and keeps the whole set if any member is referenced from outside.
/// A `trace` that panics makes its collection treat everything it examined as reachable.
///
/// A hand-written impl states that it keeps the contract (`#[derive(Trace)]` writes the
/// same thing for you):
///
/// ```
/// # use gc_core as gc_api;
/// use gc_api::{Finalize, Gc, Trace, Tracer};
///
/// struct Raw {
///     items: Vec<Gc<u32>>,
///     cached_len: usize,
/// }
///
/// // SAFETY: reports each handle of `items` once; it owns them and never moves them.
/// unsafe impl Trace for Raw {
///     fn trace(&self, tracer: &mut Tracer) {
///         self.items.trace(tracer);
///     }
/// }
/// impl Finalize for Raw {
///     const HAS_FINALIZER: bool = false;
/// }
///
/// let raw = Gc::new(Raw { items: vec![Gc::new(1), Gc::new(2)], cached_len: 2 });
/// assert!(Gc::is_tracked(&raw));
/// ```
///
/// `MAY_CONTAIN_GC = false` declares that no value of the type ever holds a `Gc`: its
/// objects are not tracked (pure refcounting, like CPython's atomic objects).
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `Trace`, so a value holding it cannot be traced",
    label = "`{Self}` is not `Trace`",
    note = "`#[derive(Trace)]` on `{Self}` if it may hold a `Gc`; a field that never holds one \
            can be left out of tracing with `#[gc(skip)]`"
)]
pub unsafe trait Trace {
    /// Whether a value of this type can hold a `Gc` (false: its objects are untracked).
    const MAY_CONTAIN_GC: bool = true;

    /// Calls `trace` on every field that may hold a `Gc`.
    fn trace(&self, tracer: &mut Tracer);
}

/// A finalizer (Python's `__del__`, PEP 442 semantics): runs at most once per object,
/// before the object's value is dropped, while everything it references is intact.
/// A finalizer may resurrect its object (store a handle to it somewhere reachable);
/// the object then survives and is later freed without a second finalizer call.
pub trait Finalize {
    /// Whether `finalize` does anything (false: the collector never calls it).
    const HAS_FINALIZER: bool = true;

    /// Called once, before the value is dropped.
    fn finalize(&self) {}
}

/// What a tracer does with each edge.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum TraceMode {
    /// `subtract_refs`: decrement `gc_refs` of targets in the collected set.
    SubtractRefs,
    /// `move_unreachable`: targets still tentatively unreachable become reachable.
    MarkReachable,
    /// Introspection: record every target (as a strong handle, taken at once).
    Collect,
    /// The final check of the garbage set: count edges into it (its members are
    /// `UNREACHABLE`).
    CountGarbageEdges,
}

/// The visitor handed to [`Trace::trace`]. Users only pass it on to their fields.
pub struct Tracer {
    pub(crate) mode: TraceMode,
    /// `MarkReachable`: the node being traced; objects found reachable go right after it.
    pub(crate) current: *const Links,
    /// `Collect`: where targets go. Handles are taken during the visit, so a trace that
    /// drops what it just reported cannot leave a dangling entry.
    pub(crate) found: Vec<crate::handle::GcAny>,
    /// Set when a value could not show its edges (e.g. a `RefCell` mutably borrowed).
    pub(crate) opaque: bool,
    /// `MarkReachable`: objects moved back from the unreachable list.
    pub(crate) moved_back: usize,
    /// `CountGarbageEdges`: edges reported into the garbage set.
    pub(crate) garbage_edges: usize,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer").field("mode", &self.mode).finish()
    }
}

impl Tracer {
    pub(crate) fn new(mode: TraceMode) -> Tracer {
        Tracer {
            mode,
            current: ptr::null(),
            found: Vec::new(),
            opaque: false,
            moved_back: 0,
            garbage_edges: 0,
        }
    }

    /// Says that the value being traced holds edges it cannot show right now (for example
    /// a `RefCell` that is mutably borrowed): the collector then counts the object as
    /// reachable for this collection, which is always safe.
    pub fn report_hidden_edges(&mut self) {
        self.opaque = true;
    }

    /// Reports the edge to the object whose header is `header`.
    ///
    /// # Safety
    /// `header` is the header of a live object of the current thread's heap.
    #[inline]
    pub(crate) unsafe fn visit(&mut self, header: NonNull<Header>) {
        match self.mode {
            // SAFETY: the caller guarantees a live object.
            TraceMode::SubtractRefs => unsafe { crate::collect::visit_decref(header) },
            TraceMode::MarkReachable => {
                // SAFETY: the caller guarantees a live object; `current` was set by the
                // collector.
                if unsafe { crate::collect::visit_reachable(header, self.current) } {
                    self.moved_back += 1;
                }
            }
            TraceMode::CountGarbageEdges => {
                // SAFETY: the caller guarantees a live object.
                let in_garbage = unsafe { header.as_ref() }.has(flags::UNREACHABLE);
                self.garbage_edges += usize::from(in_garbage);
            }
            TraceMode::Collect => self.collect_referent(header),
        }
    }

    /// Introspection, off the collector's passes: kept out of line so that `visit` stays
    /// small where it is inlined into every `trace`.
    #[cold]
    #[inline(never)]
    fn collect_referent(&mut self, header: NonNull<Header>) {
        self.found.extend(crate::handle::GcAny::from_live(header));
    }
}

impl Header {
    #[inline]
    pub(crate) fn has(&self, flag: u32) -> bool {
        self.flags.get() & flag != 0
    }

    #[inline]
    pub(crate) fn set(&self, flag: u32) {
        self.flags.set(self.flags.get() | flag);
    }

    #[inline]
    pub(crate) fn clear(&self, flag: u32) {
        self.flags.set(self.flags.get() & !flag);
    }

    /// Address of the value.
    #[inline]
    pub(crate) fn value_ptr(this: NonNull<Header>) -> *mut u8 {
        // SAFETY: `this` is a live header, whose vtable is a valid static.
        let offset = unsafe { this.as_ref() }.vtable.value_offset;
        // SAFETY: the value lies `value_offset` bytes into the same allocation.
        unsafe { this.as_ptr().cast::<u8>().add(offset) }
    }

    /// The links of a tracked object.
    #[inline]
    pub(crate) fn links(this: NonNull<Header>) -> *const Links {
        // SAFETY: tracked objects carry their links right after the header.
        unsafe { this.as_ptr().cast::<u8>().add(HEADER_SIZE).cast() }
    }

    /// The header of the tracked object whose links are at `links`.
    #[inline]
    pub(crate) fn from_links(links: *const Links) -> NonNull<Header> {
        // SAFETY: links of an object always sit right after its header; non-null since
        // `links` is.
        unsafe { NonNull::new_unchecked(links.cast::<u8>().sub(HEADER_SIZE).cast_mut().cast()) }
    }
}
