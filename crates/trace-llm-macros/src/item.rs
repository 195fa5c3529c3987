//! The decorated function as parsed: its signature and its body, precisely when the body
//! parses, otherwise as raw tokens re-emitted unchanged. Read by `shape` and `expand`.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{Attribute, Block, Signature, Visibility};

/// The function as parsed: the body precisely when it parses, otherwise as raw tokens so
/// that it is re-emitted unchanged (the IDE keeps working on half-written code).
pub(crate) struct MaybeItemFn {
    pub(crate) outer_attrs: Vec<Attribute>,
    pub(crate) inner_attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    pub(crate) body: Body,
}

pub(crate) enum Body {
    Parsed(Box<Block>),
    Raw(TokenStream),
}

impl Body {
    /// The statements inside the braces.
    pub(crate) fn inner_tokens(&self) -> TokenStream {
        match self {
            Body::Parsed(block) => {
                let stmts = &block.stmts;
                quote!(#(#stmts)*)
            }
            Body::Raw(tokens) => tokens.clone(),
        }
    }
}

impl MaybeItemFn {
    /// The function unchanged, for when the options are wrong: the error is reported and
    /// the function still exists, so no cascade of "not found" errors follows.
    pub(crate) fn to_unchanged_tokens(&self) -> TokenStream {
        let MaybeItemFn {
            outer_attrs,
            inner_attrs,
            vis,
            sig,
            body,
        } = self;
        let body = body.inner_tokens();
        quote!(#(#outer_attrs)* #vis #sig { #(#inner_attrs)* #body })
    }
}

impl ToTokens for Body {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(self.inner_tokens());
    }
}
