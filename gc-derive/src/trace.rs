//! Expansion of `#[derive(Trace)]`.

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    Attribute, Data, DataEnum, DataStruct, DeriveInput, Field, Fields, Generics, Index, Member,
    Token, parse_quote,
};

/// Name of the helper attribute (`#[gc(...)]`).
const ATTR: &str = "gc";

/// Accumulates several `syn::Error`s so that all problems are reported at once.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(existing) => existing.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn check<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// A field that is traced (i.e. not `#[gc(skip)]`).
struct Traced<'a> {
    /// Position of the field in its struct / variant.
    index: usize,
    field: &'a Field,
}

/// Parses the `#[gc(...)]` attributes of one field; returns whether it is skipped.
fn is_skipped(field: &Field) -> syn::Result<bool> {
    let mut skip = false;
    let mut errors = Errors::default();
    for attr in field.attrs.iter().filter(|a| a.path().is_ident(ATTR)) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("skip") {
                if !(meta.input.is_empty() || meta.input.peek(Token![,])) {
                    return Err(meta.error("`#[gc(skip)]` takes no value"));
                }
                if skip {
                    return Err(meta.error("duplicate `skip` in `#[gc(...)]`"));
                }
                skip = true;
                Ok(())
            } else {
                let name = meta.path.to_token_stream().to_string().replace(' ', "");
                Err(meta.error(format!(
                    "unknown `#[gc(...)]` argument `{name}`; the only supported argument is `skip`"
                )))
            }
        });
        errors.check(result);
    }
    errors.finish().map(|()| skip)
}

/// Reports every `#[gc(...)]` attribute in `attrs` (used where none is allowed).
fn reject_gc_attrs(attrs: &[Attribute], place: &str, errors: &mut Errors) {
    for attr in attrs.iter().filter(|a| a.path().is_ident(ATTR)) {
        errors.push(syn::Error::new_spanned(
            attr,
            format!("`#[gc(...)]` is not supported on {place}; it is only allowed on fields"),
        ));
    }
}

/// Rejects `#[repr(packed)]`: taking `&self.field` of a packed struct is not allowed.
fn reject_packed(attrs: &[Attribute], errors: &mut Errors) {
    for attr in attrs.iter().filter(|a| a.path().is_ident("repr")) {
        let mut packed = false;
        // Malformed `repr`s are left to rustc to report.
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("packed") {
                packed = true;
            }
            if meta.input.peek(syn::token::Paren) {
                let _content;
                syn::parenthesized!(_content in meta.input);
            }
            Ok(())
        });
        if packed {
            errors.push(syn::Error::new_spanned(
                attr,
                "`#[derive(Trace)]` does not support `#[repr(packed)]` types",
            ));
        }
    }
}

/// Returns the traced fields of `fields`, reporting attribute errors into `errors`.
fn traced_fields<'a>(fields: &'a Fields, errors: &mut Errors) -> Vec<Traced<'a>> {
    fields
        .iter()
        .enumerate()
        .filter(|(_, field)| !errors.check(is_skipped(field)).unwrap_or(false))
        .map(|(index, field)| Traced { index, field })
        .collect()
}

/// `|| <Ty as ::gc_api::Trace>::may_contain_gc()` for one traced field.
///
/// A field whose type names the type being derived (`Vec<Value>` inside `Value`) gives
/// `|| true` instead: asking the compiler would make the constant depend on itself, and a
/// recursive type is tracked anyway in the cases that matter (conservative, never unsound).
fn may_contain_term(traced: &Traced<'_>, self_name: &syn::Ident) -> TokenStream {
    let ty = &traced.field.ty;
    if mentions(ty.to_token_stream(), self_name) {
        return quote_spanned! {ty.span()=> || true };
    }
    quote_spanned! {ty.span()=> || <#ty as ::gc_api::Trace>::may_contain_gc() }
}

/// Whether `tokens` contain `name` or `Self` as an identifier, at any depth.
fn mentions(tokens: TokenStream, name: &syn::Ident) -> bool {
    tokens.into_iter().any(|tt| match tt {
        proc_macro2::TokenTree::Ident(ident) => ident == *name || ident == "Self",
        proc_macro2::TokenTree::Group(group) => mentions(group.stream(), name),
        _ => false,
    })
}

/// `<Ty as ::gc_api::Trace>::trace(#place, tracer);`, spanned at the field's type so that a
/// missing `Trace` impl is reported there, once: the `MAY_CONTAIN_GC` term names the same
/// bound at the same place, and rustc reports identical errors once. `place` and `tracer`
/// keep their call-site spans (hygiene).
fn trace_call(traced: &Traced<'_>, place: &TokenStream, tracer: &TokenStream) -> TokenStream {
    let ty = &traced.field.ty;
    quote_spanned! {ty.span()=> <#ty as ::gc_api::Trace>::trace(#place, #tracer); }
}

fn member(traced: &Traced<'_>) -> Member {
    match &traced.field.ident {
        Some(ident) => Member::Named(ident.clone()),
        None => Member::Unnamed(Index {
            index: u32::try_from(traced.index).expect("too many fields"),
            span: traced.field.ty.span(),
        }),
    }
}

/// Body and `MAY_CONTAIN_GC` terms for a struct.
fn expand_struct(
    data: &DataStruct,
    self_name: &syn::Ident,
    tracer: &TokenStream,
    errors: &mut Errors,
) -> (TokenStream, Vec<TokenStream>) {
    let traced = traced_fields(&data.fields, errors);
    let terms = traced
        .iter()
        .map(|t| may_contain_term(t, self_name))
        .collect();
    let calls: Vec<TokenStream> = traced
        .iter()
        .map(|t| {
            let member = member(t);
            trace_call(t, &quote!(&self.#member), tracer)
        })
        .collect();
    let body = if calls.is_empty() {
        quote! { let _ = #tracer; }
    } else {
        quote! { #(#calls)* }
    };
    (body, terms)
}

/// Body and `MAY_CONTAIN_GC` terms for an enum.
fn expand_enum(
    data: &DataEnum,
    self_name: &syn::Ident,
    tracer: &TokenStream,
    errors: &mut Errors,
) -> (TokenStream, Vec<TokenStream>) {
    if data.variants.is_empty() {
        // Uninhabited: there is nothing to trace (and `match self {}` on a
        // reference would not be exhaustive).
        return (quote! { let _ = #tracer; match *self {} }, Vec::new());
    }
    let mut terms = Vec::new();
    let mut any_traced = false;
    let arms: Vec<TokenStream> = data
        .variants
        .iter()
        .map(|variant| {
            reject_gc_attrs(&variant.attrs, "enum variants", errors);
            let name = &variant.ident;
            let traced = traced_fields(&variant.fields, errors);
            terms.extend(traced.iter().map(|t| may_contain_term(t, self_name)));
            any_traced |= !traced.is_empty();
            let binding = |t: &Traced<'_>| format_ident!("__gc_field_{}", t.index);
            let calls = traced.iter().map(|t| {
                let binding = binding(t);
                trace_call(t, &quote!(#binding), tracer)
            });
            let pattern = match &variant.fields {
                Fields::Unit => quote! { Self::#name },
                Fields::Named(_) => {
                    let binds = traced.iter().map(|t| {
                        let member = member(t);
                        let binding = binding(t);
                        quote! { #member: #binding }
                    });
                    quote! { Self::#name { #(#binds,)* .. } }
                }
                Fields::Unnamed(fields) => {
                    let mut next = traced.iter().peekable();
                    let binds = (0..fields.unnamed.len()).map(|index| {
                        match next.next_if(|t| t.index == index) {
                            Some(t) => binding(t).into_token_stream(),
                            None => quote!(_),
                        }
                    });
                    quote! { Self::#name(#(#binds),*) }
                }
            };
            quote! { #pattern => { #(#calls)* } }
        })
        .collect();
    let unused = if any_traced {
        TokenStream::new()
    } else {
        quote! { let _ = #tracer; }
    };
    let body = quote! {
        #unused
        match self {
            #(#arms)*
        }
    };
    (body, terms)
}

/// The types of every traced field (over all variants).
fn traced_types(data: &Data) -> Vec<syn::Type> {
    let mut ignored = Errors::default();
    let fields: Vec<&Fields> = match data {
        Data::Struct(s) => vec![&s.fields],
        Data::Enum(e) => e.variants.iter().map(|v| &v.fields).collect(),
        Data::Union(_) => Vec::new(),
    };
    fields
        .into_iter()
        .flat_map(|f| traced_fields(f, &mut ignored))
        .map(|t| t.field.ty.clone())
        .collect()
}

/// Types that are `Trace` whatever their parameters: a parameter mentioned only inside them
/// needs no bound.
const TRACE_FOR_ANY_PARAMETER: [&str; 3] = ["PhantomData", "Gc", "Weak"];

/// Whether `tokens` mention `name` as an identifier outside the arguments of a
/// `PhantomData<...>`, `Gc<...>` or `Weak<...>` (which are `Trace` whatever their
/// parameter).
fn mentions_outside_phantom(tokens: TokenStream, name: &syn::Ident) -> bool {
    let mut tokens = tokens.into_iter().peekable();
    while let Some(tt) = tokens.next() {
        match tt {
            proc_macro2::TokenTree::Ident(ident)
                if TRACE_FOR_ANY_PARAMETER.iter().any(|t| ident == t) =>
            {
                if matches!(tokens.peek(), Some(proc_macro2::TokenTree::Punct(p)) if p.as_char() == '<')
                {
                    tokens.next();
                    // Skip to the matching `>` (a `->` inside is not a closing bracket).
                    let mut depth = 1;
                    let mut joint_minus = false;
                    for inner in tokens.by_ref() {
                        if let proc_macro2::TokenTree::Punct(p) = &inner {
                            match p.as_char() {
                                '<' => depth += 1,
                                '>' if !joint_minus => depth -= 1,
                                _ => {}
                            }
                            joint_minus =
                                p.as_char() == '-' && p.spacing() == proc_macro2::Spacing::Joint;
                        } else {
                            joint_minus = false;
                        }
                        if depth == 0 {
                            break;
                        }
                    }
                }
            }
            proc_macro2::TokenTree::Ident(ident) => {
                if ident == *name {
                    return true;
                }
            }
            proc_macro2::TokenTree::Group(group) => {
                if mentions_outside_phantom(group.stream(), name) {
                    return true;
                }
            }
            proc_macro2::TokenTree::Punct(_) | proc_macro2::TokenTree::Literal(_) => {}
        }
    }
    false
}

/// The bounds the impl gets: those of `#[gc(bound = "...")]` if given (replacing the
/// inferred ones), or `T: ::gc_api::Trace` for each type parameter `T` that appears in a
/// traced field outside `PhantomData<...>`, `Gc<...>` and `Weak<...>` (a parameter used
/// only in skipped fields or there needs no bound).
fn add_trace_bounds(
    generics: &mut Generics,
    traced: &[syn::Type],
    explicit: Option<Vec<syn::WherePredicate>>,
) {
    if let Some(predicates) = explicit {
        generics.make_where_clause().predicates.extend(predicates);
        return;
    }
    let params: Vec<_> = generics
        .type_params()
        .map(|param| param.ident.clone())
        .filter(|ident| {
            traced
                .iter()
                .any(|ty| mentions_outside_phantom(ty.to_token_stream(), ident))
        })
        .collect();
    let where_clause = generics.make_where_clause();
    for ident in params {
        where_clause
            .predicates
            .push(parse_quote! { #ident: ::gc_api::Trace });
    }
}

/// The predicates of `#[gc(bound = "...")]` on the type, if present; any other `#[gc(...)]`
/// argument there is an error.
fn explicit_bounds(attrs: &[Attribute], errors: &mut Errors) -> Option<Vec<syn::WherePredicate>> {
    let mut bounds = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident(ATTR)) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("bound") {
                let text: syn::LitStr = meta.value()?.parse()?;
                let clause: syn::WhereClause = syn::parse_str(&format!("where {}", text.value()))
                    .map_err(|e| {
                    syn::Error::new(text.span(), format!("bad `#[gc(bound = ...)]`: {e}"))
                })?;
                if bounds.is_some() {
                    return Err(meta.error("duplicate `bound` in `#[gc(...)]`"));
                }
                bounds = Some(clause.predicates.into_iter().collect());
                Ok(())
            } else {
                let name = meta.path.to_token_stream().to_string().replace(' ', "");
                Err(meta.error(format!(
                    "unknown `#[gc(...)]` argument `{name}` on the type; the only supported \
                     argument there is `bound = \"...\"` (`skip` goes on fields)"
                )))
            }
        });
        errors.check(result);
    }
    bounds
}

/// Generates the `impl ::gc_api::Trace` for `input`.
pub(crate) fn expand(mut input: DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let explicit = explicit_bounds(&input.attrs, &mut errors);
    reject_packed(&input.attrs, &mut errors);

    let tracer = quote!(tracer);
    let (body, terms) = match &input.data {
        Data::Struct(data) => expand_struct(data, &input.ident, &tracer, &mut errors),
        Data::Enum(data) => expand_enum(data, &input.ident, &tracer, &mut errors),
        Data::Union(data) => {
            errors.push(syn::Error::new_spanned(
                data.union_token,
                "`#[derive(Trace)]` does not support unions (the derive cannot know which \
                 field is active); implement `Trace` by hand instead",
            ));
            (TokenStream::new(), Vec::new())
        }
    };
    errors.finish()?;

    let traced = traced_types(&input.data);
    add_trace_bounds(&mut input.generics, &traced, explicit);
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        // SAFETY: the derive traces every field not marked `#[gc(skip)]` exactly once, in
        // declaration order, and never moves a handle. A skipped field's edges are unseen,
        // which only leaks.
        #[automatically_derived]
        unsafe impl #impl_generics ::gc_api::Trace for #name #ty_generics #where_clause {
            #[inline]
            fn trace(&self, #tracer: &mut ::gc_api::Tracer) {
                #body
            }

            #[inline(always)]
            fn may_contain_gc() -> bool {
                false #(#terms)*
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `where` clause of the impl the derive writes for `input`, as text.
    fn where_clause_of(input: DeriveInput) -> String {
        let item: syn::ItemImpl = syn::parse2(expand_ok(input)).unwrap();
        item.generics
            .where_clause
            .unwrap()
            .to_token_stream()
            .to_string()
    }

    fn expand_ok(input: DeriveInput) -> TokenStream {
        let out = expand(input).expect("expansion failed");
        syn::parse2::<syn::ItemImpl>(out.clone()).expect("output is a valid impl");
        out
    }

    /// Re-prints an impl through `syn` so that e.g. `>>` and `> >` compare equal.
    fn normalize(tokens: TokenStream) -> String {
        syn::parse2::<syn::ItemImpl>(tokens)
            .expect("valid impl")
            .to_token_stream()
            .to_string()
    }

    fn expand_err(input: DeriveInput) -> String {
        let err = expand(input).expect_err("expansion should fail");
        // The error must be usable as a `compile_error!` invocation.
        let tokens = err.to_compile_error().to_string();
        assert!(tokens.contains("compile_error"), "{tokens}");
        err.into_iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn named_struct_with_skip_and_generics_needs_no_bound_for_a_gc_parameter() {
        let input: DeriveInput = parse_quote! {
            struct Pair<T> { a: Gc<T>, #[gc(skip)] n: u32 }
        };
        let expected = quote! {
            #[automatically_derived]
            unsafe impl<T> ::gc_api::Trace for Pair<T> {
                #[inline]
                fn trace(&self, tracer: &mut ::gc_api::Tracer) {
                    <Gc<T> as ::gc_api::Trace>::trace(&self.a, tracer);
                }

                #[inline(always)]
                fn may_contain_gc() -> bool {
                    false || <Gc<T> as ::gc_api::Trace>::may_contain_gc()
                }
            }
        };
        assert_eq!(normalize(expand_ok(input)), normalize(expected));
    }

    #[test]
    fn tuple_struct_uses_indices_in_order() {
        let input: DeriveInput = parse_quote! {
            struct T(Gc<u8>, #[gc(skip)] String, Vec<Gc<u8>>);
        };
        let out = expand_ok(input).to_string();
        let first = out.find("trace (& self . 0 , tracer)").expect(&out);
        let third = out.find("trace (& self . 2 , tracer)").expect(&out);
        assert!(first < third);
        assert!(!out.contains("self . 1"), "{out}");
        assert!(!out.contains("String"), "{out}");
    }

    #[test]
    fn unit_and_all_skipped_structs_have_no_gc() {
        for input in [
            parse_quote! { struct U; },
            parse_quote! { struct S { #[gc(skip)] a: Vec<u8> } },
            parse_quote! { struct E {} },
        ] {
            let out = expand_ok(input).to_string();
            assert!(
                out.contains("fn may_contain_gc () -> bool { false }"),
                "{out}"
            );
            assert!(out.contains("let _ = tracer ;"), "{out}");
        }
    }

    #[test]
    fn enum_binds_by_reference_and_covers_all_variants() {
        let input: DeriveInput = parse_quote! {
            enum Tree<T> {
                Leaf(T),
                Node { left: Gc<Tree<T>>, #[gc(skip)] depth: usize, right: Gc<Tree<T>> },
                Empty,
            }
        };
        let expected = quote! {
            #[automatically_derived]
            unsafe impl<T> ::gc_api::Trace for Tree<T> where T: ::gc_api::Trace {
                #[inline]
                fn trace(&self, tracer: &mut ::gc_api::Tracer) {
                    match self {
                        Self::Leaf(__gc_field_0) => {
                            <T as ::gc_api::Trace>::trace(__gc_field_0, tracer);
                        }
                        Self::Node { left: __gc_field_0, right: __gc_field_2, .. } => {
                            <Gc<Tree<T>> as ::gc_api::Trace>::trace(__gc_field_0, tracer);
                            <Gc<Tree<T>> as ::gc_api::Trace>::trace(__gc_field_2, tracer);
                        }
                        Self::Empty => {}
                    }
                }

                #[inline(always)]
                fn may_contain_gc() -> bool {
                    false || <T as ::gc_api::Trace>::may_contain_gc() || true || true
                }
            }
        };
        assert_eq!(normalize(expand_ok(input)), normalize(expected));
    }

    #[test]
    fn self_referential_fields_count_as_may_contain_gc() {
        let input: DeriveInput = parse_quote! {
            enum Value { Int(i64), List(Vec<Value>), Boxed(Option<Box<Self>>) }
        };
        let out = expand_ok(input).to_string();
        assert!(
            out.contains(
                "false || < i64 as :: gc_api :: Trace > :: may_contain_gc () || true || true"
            ),
            "{out}"
        );
    }

    #[test]
    fn enum_tuple_variant_with_skipped_fields() {
        let input: DeriveInput = parse_quote! {
            enum E { A(#[gc(skip)] u8, Gc<u8>, #[gc(skip)] u8) }
        };
        let out = expand_ok(input).to_string();
        assert!(out.contains("Self :: A (_ , __gc_field_1 , _)"), "{out}");
    }

    #[test]
    fn field_named_tracer_does_not_shadow_parameter() {
        let input: DeriveInput = parse_quote! {
            enum E { A { tracer: Gc<u8> } }
        };
        let out = expand_ok(input).to_string();
        assert!(out.contains("tracer : __gc_field_0"), "{out}");
        assert!(out.contains("trace (__gc_field_0 , tracer)"), "{out}");
    }

    #[test]
    fn empty_enum() {
        let input: DeriveInput = parse_quote! { enum Void {} };
        let out = expand_ok(input).to_string();
        assert!(out.contains("match * self { }"), "{out}");
        assert!(
            out.contains("fn may_contain_gc () -> bool { false }"),
            "{out}"
        );
    }

    #[test]
    fn fieldless_enum_does_not_use_tracer() {
        let input: DeriveInput = parse_quote! { enum C { A, B(#[gc(skip)] u8) } };
        let out = expand_ok(input).to_string();
        assert!(out.contains("let _ = tracer ;"), "{out}");
        assert!(
            out.contains("fn may_contain_gc () -> bool { false }"),
            "{out}"
        );
    }

    #[test]
    fn lifetimes_const_generics_and_existing_where_clause() {
        let input: DeriveInput = parse_quote! {
            struct S<'a, T: Clone + 'a, U, const N: usize> where U: Default {
                a: &'a T,
                b: [U; N],
            }
        };
        let out = expand_ok(input);
        let item: syn::ItemImpl = syn::parse2(out).unwrap();
        let expected_generics: Generics = parse_quote! { <'a, T: Clone + 'a, U, const N: usize> };
        assert_eq!(
            item.generics.params.to_token_stream().to_string(),
            expected_generics.params.to_token_stream().to_string()
        );
        let where_clause = item.generics.where_clause.unwrap().to_token_stream();
        let expected: syn::WhereClause = parse_quote! {
            where U: Default, T: ::gc_api::Trace, U: ::gc_api::Trace
        };
        assert_eq!(
            where_clause.to_string(),
            expected.to_token_stream().to_string()
        );
        let self_ty = item.self_ty.to_token_stream().to_string();
        assert_eq!(self_ty, "S < 'a , T , U , N >");
    }

    #[test]
    fn unknown_argument_is_an_error() {
        let msg = expand_err(parse_quote! { struct S { #[gc(foo)] a: u8 } });
        assert!(msg.contains("unknown `#[gc(...)]` argument `foo`"), "{msg}");
        assert!(msg.contains("`skip`"), "{msg}");
    }

    #[test]
    fn ignore_is_not_a_synonym() {
        let msg = expand_err(parse_quote! { enum E { A(#[gc(ignore)] u8) } });
        assert!(msg.contains("`ignore`"), "{msg}");
    }

    #[test]
    fn malformed_attributes_are_errors() {
        for input in [
            parse_quote! { struct S { #[gc] a: u8 } },
            parse_quote! { struct S { #[gc = "skip"] a: u8 } },
            parse_quote! { struct S { #[gc(skip = true)] a: u8 } },
            parse_quote! { struct S { #[gc(skip, skip)] a: u8 } },
            parse_quote! { struct S { #[gc(a::b)] a: u8 } },
        ] {
            expand_err(input);
        }
    }

    #[test]
    fn all_errors_are_reported() {
        let msg = expand_err(parse_quote! {
            #[gc(skip)]
            enum E { #[gc(skip)] A(#[gc(foo)] u8), B { #[gc(bar)] b: u8 } }
        });
        for needle in ["on the type", "enum variants", "`foo`", "`bar`"] {
            assert!(msg.contains(needle), "missing {needle}: {msg}");
        }
    }

    #[test]
    fn only_parameters_in_traced_fields_get_a_bound() {
        let input: DeriveInput = parse_quote! {
            struct W<T, U, V, X> {
                traced: Vec<Gc<T>>,
                #[gc(skip)]
                skipped: U,
                marker: PhantomData<fn(V) -> V>,
                both: (PhantomData<X>, X),
                handle: Gc<Node<V>>,
            }
        };
        let where_clause = where_clause_of(input);
        // `Gc<T>` is `Trace` for any `T`: only `X` appears elsewhere.
        assert_eq!(where_clause, "where X : :: gc_api :: Trace");
    }

    #[test]
    fn an_explicit_bound_replaces_the_inferred_ones() {
        let input: DeriveInput = parse_quote! {
            #[gc(bound = "T: ::gc_api::Trace + Clone")]
            struct W<T, U> { a: Gc<T>, b: U }
        };
        let where_clause = where_clause_of(input);
        assert_eq!(where_clause, "where T : :: gc_api :: Trace + Clone");
        let msg = expand_err(parse_quote! { #[gc(bound = "T:: ::")] struct S<T>(T); });
        assert!(msg.contains("bad `#[gc(bound = ...)]`"), "{msg}");
    }

    #[test]
    fn unions_are_rejected() {
        let msg = expand_err(parse_quote! { union U { a: u32, b: f32 } });
        assert!(msg.contains("does not support unions"), "{msg}");
    }

    #[test]
    fn packed_is_rejected() {
        let msg = expand_err(parse_quote! {
            #[repr(C, packed(2))]
            struct P { a: Gc<u8> }
        });
        assert!(msg.contains("repr(packed)"), "{msg}");
        expand_ok(parse_quote! { #[repr(C, align(8))] struct A { a: Gc<u8> } });
    }
}
