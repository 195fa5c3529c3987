//! The `#[trace_llm]` attribute macro. Use it through the `trace-llm` crate, which documents
//! it and provides the runtime the generated code calls.

mod args;
mod expand;
mod item;
mod shape;

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{AttrStyle, Attribute, ItemFn, Signature, Visibility};

use item::{Body, MaybeItemFn};

/// Wraps a function in an OpenTelemetry span with the GenAI semantic-convention
/// attributes. See the `trace-llm` crate for the options and examples.
#[proc_macro_attribute]
pub fn trace_llm(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = TokenStream2::from(item);
    let function = match parse_function(item.clone()) {
        Ok(f) => f,
        // Not a function: report it and leave the item as it was.
        Err(e) => {
            let error = e.to_compile_error();
            return quote!(#error #item).into();
        }
    };
    let args = match syn::parse::<args::Args>(attr) {
        Ok(args) => args,
        Err(e) => return with_error(&function, e),
    };
    match expand::expand(args, function.clone_shallow()) {
        Ok(tokens) => tokens.into(),
        Err(e) => with_error(&function, e),
    }
}

/// The error, next to the function left unchanged.
fn with_error(function: &MaybeItemFn, error: syn::Error) -> TokenStream {
    let error = error.to_compile_error();
    let unchanged = function.to_unchanged_tokens();
    quote!(#error #unchanged).into()
}

/// A function whose body may not parse: attributes, visibility, signature, then raw tokens.
struct RawFn {
    attrs: Vec<Attribute>,
    vis: Visibility,
    sig: Signature,
    body: TokenStream2,
}

impl Parse for RawFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let sig: Signature = input.parse()?;
        if input.peek(syn::Token![;]) {
            return Err(syn::Error::new(
                expand::fn_span(&sig),
                "`#[trace_llm]` needs a function with a body",
            ));
        }
        let group: proc_macro2::Group = input
            .parse()
            .map_err(|_| syn::Error::new(input.span(), "expected the function body"))?;
        if group.delimiter() != proc_macro2::Delimiter::Brace {
            return Err(syn::Error::new(
                group.span(),
                "expected the function body in braces",
            ));
        }
        Ok(RawFn {
            attrs,
            vis,
            sig,
            body: group.stream(),
        })
    }
}

fn parse_function(item: TokenStream2) -> syn::Result<MaybeItemFn> {
    if let Ok(f) = syn::parse2::<ItemFn>(item.clone()) {
        let (inner_attrs, outer_attrs): (Vec<_>, Vec<_>) = f
            .attrs
            .into_iter()
            .partition(|a| matches!(a.style, AttrStyle::Inner(_)));
        return check_signature(MaybeItemFn {
            outer_attrs,
            inner_attrs,
            vis: f.vis,
            sig: f.sig,
            body: Body::Parsed(f.block),
        });
    }
    match syn::parse2::<RawFn>(item.clone()) {
        Ok(raw) => check_signature(MaybeItemFn {
            outer_attrs: raw.attrs,
            inner_attrs: Vec::new(),
            vis: raw.vis,
            sig: raw.sig,
            body: Body::Raw(raw.body),
        }),
        Err(e) if e.to_string().contains("needs a function with a body") => Err(e),
        Err(_) => Err(syn::Error::new(
            item_keyword_span(&item),
            "`#[trace_llm]` can only be applied to functions and methods",
        )),
    }
}

fn check_signature(f: MaybeItemFn) -> syn::Result<MaybeItemFn> {
    if let Some(constness) = &f.sig.constness {
        return Err(syn::Error::new(
            constness.span(),
            "`#[trace_llm]` cannot trace a `const fn`: spans are recorded at run time",
        ));
    }
    if let Some(variadic) = &f.sig.variadic {
        return Err(syn::Error::new(
            variadic.span(),
            "`#[trace_llm]` does not support variadic functions",
        ));
    }
    Ok(f)
}

/// The item's first token after its attributes and visibility (`struct`, `impl`, ...).
fn item_keyword_span(item: &TokenStream2) -> Span {
    struct Keyword(Span);
    impl Parse for Keyword {
        fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
            input.call(Attribute::parse_outer)?;
            let _: Visibility = input.parse()?;
            let span = input.span();
            input.parse::<TokenStream2>()?;
            Ok(Keyword(span))
        }
    }
    syn::parse2::<Keyword>(item.clone()).map_or_else(|_| Span::call_site(), |k| k.0)
}

impl MaybeItemFn {
    fn clone_shallow(&self) -> MaybeItemFn {
        MaybeItemFn {
            outer_attrs: self.outer_attrs.clone(),
            inner_attrs: self.inner_attrs.clone(),
            vis: self.vis.clone(),
            sig: self.sig.clone(),
            body: match &self.body {
                Body::Parsed(b) => Body::Parsed(b.clone()),
                Body::Raw(t) => Body::Raw(t.clone()),
            },
        }
    }
}
