//! `#[derive(Trace)]` and `#[derive(Finalize)]` for the `gc_api` crate.
//!
//! The generated code always names the traits by their absolute paths
//! (`::gc_api::Trace`, `::gc_api::Tracer`, `::gc_api::Finalize`), so the crate
//! using the derives must depend on `gc_api` under that name.
//!
//! # `#[derive(Trace)]`
//!
//! Works on structs (named, tuple and unit) and enums (every variant kind).
//! Unions are rejected with a compile error, because the derive cannot know
//! which field is active.
//!
//! The generated impl
//!
//! * is an `unsafe impl` (the derive keeps `Trace`'s contract, so its users
//!   write no `unsafe`);
//! * traces every field, in declaration order, by calling
//!   `<FieldType as ::gc_api::Trace>::trace(&field, tracer)` (for enums, only the
//!   fields of the active variant, which are bound by reference in a `match`); a
//!   field type that is not `Trace` is reported once, at that field;
//! * makes `may_contain_gc()` the `||` of `may_contain_gc()` of every traced
//!   field type (over all variants, for enums). A type with no traced field
//!   gets `false`, so its objects are not tracked by the cycle collector; a
//!   field whose type names the type itself counts as `true`;
//! * adds a `T: ::gc_api::Trace` bound for each type parameter `T` that appears
//!   in a traced field outside `Gc<...>`, `Weak<...>` and `PhantomData<...>`
//!   (which are `Trace` whatever their parameter), unless `#[gc(bound = "...")]`
//!   on the type gives the bounds instead (lifetimes and const parameters are
//!   kept unchanged).
//!
//! ```ignore
//! use gc_api::{Finalize, Gc, Trace};
//!
//! #[derive(Trace, Finalize)]
//! struct Node<T> {
//!     value: T,
//!     children: Vec<Gc<Node<T>>>,
//!     #[gc(skip)]
//!     visits: u64,
//! }
//!
//! #[derive(Trace, Finalize)]
//! enum Expr {
//!     Num(i64),
//!     Add(Gc<Expr>, Gc<Expr>),
//!     Let { name: String, value: Gc<Expr>, body: Gc<Expr> },
//! }
//! ```
//!
//! For `Node<T>` this expands to (roughly):
//!
//! ```ignore
//! #[automatically_derived]
//! unsafe impl<T> ::gc_api::Trace for Node<T>
//! where
//!     T: ::gc_api::Trace,
//! {
//!     fn trace(&self, tracer: &mut ::gc_api::Tracer) {
//!         <T as ::gc_api::Trace>::trace(&self.value, tracer);
//!         <Vec<Gc<Node<T>>> as ::gc_api::Trace>::trace(&self.children, tracer);
//!     }
//!
//!     fn may_contain_gc() -> bool {
//!         false || <T as ::gc_api::Trace>::may_contain_gc() || true
//!     }
//! }
//! ```
//!
//! ## `#[gc(skip)]`
//!
//! A field marked `#[gc(skip)]` is neither traced nor taken into account for
//! `may_contain_gc()`, and its type does not need to implement `Trace`. Use it
//! for fields that hold no `Gc` (counters, strings, handles to foreign
//! resources, ...).
//!
//! Skipping a field that *does* hold a `Gc` is not unsound: the collector
//! simply never sees that edge, so the field keeps its target alive like a
//! strong reference. The consequence is that a cycle passing through such a
//! field is never collected (it leaks), exactly as an `Rc` cycle would.
//!
//! `skip` is the only argument `#[gc(...)]` accepts on a field.
//!
//! ## `#[gc(bound = "...")]`
//!
//! On the type, replaces the inferred `T: Trace` bounds with the given where-predicates
//! (an empty string: no bounds), for parameters whose needs the derive cannot see:
//!
//! ```ignore
//! #[derive(Trace, Finalize)]
//! #[gc(bound = "T: ::gc_api::Trace + Clone")]
//! struct Cache<T> { items: Vec<T> }
//! ```
//!
//! Any other `#[gc(...)]` on the type, and any on an enum variant, is a compile error.
//!
//! # `#[derive(Finalize)]`
//!
//! Declares that the type has no finalizer:
//!
//! ```ignore
//! #[derive(Finalize)]
//! struct Pair<T> { a: Gc<T>, b: Gc<T> }
//!
//! // expands to
//! #[automatically_derived]
//! impl<T> ::gc_api::Finalize for Pair<T> {
//!     fn has_finalizer() -> bool {
//!         false
//!     }
//! }
//! ```
//!
//! Types that need a finalizer implement `Finalize` by hand instead (leaving
//! `has_finalizer()` at its default `true`).

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

mod finalize;
mod trace;

/// Derives `::gc_api::Trace`: traces every field not marked `#[gc(skip)]`.
///
/// See the [crate documentation](crate) for details.
#[proc_macro_derive(Trace, attributes(gc))]
pub fn derive_trace(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    trace::expand(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `::gc_api::Finalize` with `has_finalizer()` false (no finalizer).
///
/// See the [crate documentation](crate) for details.
#[proc_macro_derive(Finalize)]
pub fn derive_finalize(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    finalize::expand(input).into()
}
