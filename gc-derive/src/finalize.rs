//! Expansion of `#[derive(Finalize)]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

/// Generates `impl ::gc_api::Finalize for X { fn has_finalizer() -> bool { false } }`.
pub(crate) fn expand(input: DeriveInput) -> TokenStream {
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics ::gc_api::Finalize for #name #ty_generics #where_clause {
            #[inline(always)]
            fn has_finalizer() -> bool {
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn plain_struct() {
        let input: DeriveInput = parse_quote! { struct Foo { a: u32 } };
        let expected = quote! {
            #[automatically_derived]
            impl ::gc_api::Finalize for Foo {
                #[inline(always)]
                fn has_finalizer() -> bool {
                    false
                }
            }
        };
        assert_eq!(expand(input).to_string(), expected.to_string());
    }

    #[test]
    fn generics_are_kept_without_extra_bounds() {
        let input: DeriveInput = parse_quote! {
            enum E<'a, T: Clone, const N: usize> where T: Default { A(&'a [T; N]), B }
        };
        let expected = quote! {
            #[automatically_derived]
            impl<'a, T: Clone, const N: usize> ::gc_api::Finalize for E<'a, T, N>
            where
                T: Default
            {
                #[inline(always)]
                fn has_finalizer() -> bool {
                    false
                }
            }
        };
        let got = expand(input);
        syn::parse2::<syn::ItemImpl>(got.clone()).expect("valid impl");
        assert_eq!(got.to_string(), expected.to_string());
    }
}
