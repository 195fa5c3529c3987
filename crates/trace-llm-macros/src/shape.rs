//! What kind of function `#[trace_llm]` is on: plain, `async`, rewritten by `#[async_trait]`,
//! or returning a future; and the type helpers that tell.

use syn::{
    Expr, ExprAsync, ExprCall, GenericArgument, PathArguments, ReturnType, Signature, Stmt, Type,
    TypeParamBound,
};

use crate::item::{Body, MaybeItemFn};

/// How the function runs its body.
pub(crate) enum Shape {
    /// Plain function: the span covers the call.
    Sync,
    /// `async fn`: the span starts at the first poll and covers the future.
    Async,
    /// A function rewritten by `#[async_trait]`: `Box::pin(async move { .. })` as its last
    /// expression. Instrumented like an `async fn`.
    AsyncTrait,
    /// A function returning a future (`impl Future`, a boxed future): the span starts at
    /// the call and covers the returned future.
    ReturnsFuture { boxed: bool },
}

pub(crate) fn classify(item: &MaybeItemFn) -> Shape {
    if item.sig.asyncness.is_some() {
        return Shape::Async;
    }
    let ReturnType::Type(_, ty) = &item.sig.output else {
        return Shape::Sync;
    };
    match future_kind(ty) {
        Some(FutureKind::Impl) => Shape::ReturnsFuture { boxed: false },
        Some(FutureKind::Boxed) => {
            let is_async_trait = match &item.body {
                Body::Parsed(block) => {
                    let mut stmts = block.stmts.clone();
                    async_trait_block(&mut stmts).is_some()
                }
                Body::Raw(_) => false,
            };
            if is_async_trait {
                Shape::AsyncTrait
            } else {
                Shape::ReturnsFuture { boxed: true }
            }
        }
        None => Shape::Sync,
    }
}

/// The last statement when it is `Box::pin(async move { .. })` (what `#[async_trait]`
/// generates), with the async block.
pub(crate) fn async_trait_block(stmts: &mut [Stmt]) -> Option<(&mut Stmt, ExprAsync)> {
    let last = stmts.last_mut()?;
    let Stmt::Expr(Expr::Call(ExprCall { func, args, .. }), None) = &*last else {
        return None;
    };
    let Expr::Path(path) = &**func else {
        return None;
    };
    let segments: Vec<String> = path
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    if !segments.ends_with(&["Box".to_owned(), "pin".to_owned()]) || args.len() != 1 {
        return None;
    }
    let Expr::Async(async_expr) = &args[0] else {
        return None;
    };
    async_expr.capture?;
    let async_expr = async_expr.clone();
    Some((last, async_expr))
}

pub(crate) enum FutureKind {
    Impl,
    Boxed,
}

pub(crate) fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
}

pub(crate) fn first_type_arg(segment: &syn::PathSegment) -> Option<&Type> {
    let PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    args.args.iter().find_map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

/// Name of the first trait bound of `impl Trait` / `dyn Trait`, with the bound.
pub(crate) fn first_trait_bound<'a>(
    bounds: impl IntoIterator<Item = &'a TypeParamBound>,
) -> Option<&'a syn::PathSegment> {
    bounds.into_iter().find_map(|b| match b {
        TypeParamBound::Trait(t) => t.path.segments.last(),
        _ => None,
    })
}

/// `Pin<Box<dyn Trait>>` / `Box<dyn Trait>`: the trait's last path segment.
pub(crate) fn boxed_dyn_trait(ty: &Type) -> Option<(&syn::PathSegment, bool)> {
    let seg = last_segment(ty)?;
    let (inner, pinned) = if seg.ident == "Pin" {
        let boxed = last_segment(first_type_arg(seg)?)?;
        if boxed.ident != "Box" {
            return None;
        }
        (first_type_arg(boxed)?, true)
    } else if seg.ident == "Box" {
        (first_type_arg(seg)?, false)
    } else {
        return None;
    };
    match inner {
        Type::TraitObject(obj) => first_trait_bound(&obj.bounds).map(|b| (b, pinned)),
        _ => None,
    }
}

pub(crate) fn future_kind(ty: &Type) -> Option<FutureKind> {
    if let Type::ImplTrait(imp) = ty {
        return first_trait_bound(&imp.bounds)
            .filter(|b| b.ident == "Future")
            .map(|_| FutureKind::Impl);
    }
    if let Some((bound, true)) = boxed_dyn_trait(ty) {
        if bound.ident == "Future" {
            return Some(FutureKind::Boxed);
        }
    }
    let seg = last_segment(ty)?;
    (seg.ident == "BoxFuture" || seg.ident == "LocalBoxFuture").then_some(FutureKind::Boxed)
}

/// `Output = X` of a future type, or the value type of `BoxFuture<'a, X>`.
pub(crate) fn future_output(ty: &Type) -> Option<Type> {
    let bound_output = |seg: &syn::PathSegment| -> Option<Type> {
        let PathArguments::AngleBracketed(args) = &seg.arguments else {
            return None;
        };
        args.args.iter().find_map(|a| match a {
            GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(assoc.ty.clone()),
            _ => None,
        })
    };
    if let Type::ImplTrait(imp) = ty {
        return first_trait_bound(&imp.bounds).and_then(bound_output);
    }
    if let Some((bound, true)) = boxed_dyn_trait(ty) {
        return bound_output(bound);
    }
    let seg = last_segment(ty)?;
    first_type_arg(seg).cloned()
}

/// The type of the value the function (or the future it returns) produces.
pub(crate) fn produced_type(sig: &Signature, shape: &Shape) -> Option<Type> {
    let ReturnType::Type(_, ty) = &sig.output else {
        return None;
    };
    match shape {
        Shape::Sync | Shape::Async => Some((**ty).clone()),
        Shape::ReturnsFuture { .. } | Shape::AsyncTrait => future_output(ty),
    }
}
