//! Code generation for `#[trace_llm]`: given the typed options and the function, emit the
//! instrumented function. Every emitted path is absolute (`::trace_llm::__private::...`,
//! `::core::...`).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Expr, ReturnType, Signature, Stmt, Token, Type};

use crate::args::{Args, ModelArg, Operation};
use crate::item::{Body, MaybeItemFn};
use crate::shape::{
    Shape, async_trait_block, boxed_dyn_trait, classify, first_trait_bound, first_type_arg,
    last_segment, produced_type,
};

/// How a stream-like value is wrapped so that the span follows its consumption.
#[derive(Clone, Copy)]
enum Wrap {
    /// `impl Stream`: returned as `TracedStream<S>`.
    ImplStream,
    /// `impl Iterator`: returned as `TracedIter<I>`.
    ImplIter,
    /// A nameable boxed stream or iterator: re-boxed as the same type.
    Boxed,
}

struct StreamPlan {
    /// The stream is the `Ok` of a returned `Result`.
    in_result: bool,
    wrap: Wrap,
}

pub(crate) fn expand(args: Args, item: MaybeItemFn) -> syn::Result<TokenStream> {
    let shape = classify(&item);
    let value_ty = produced_type(&item.sig, &shape);
    let stream = stream_plan(&args, &item.sig, value_ty.as_ref())?;
    let meta = gen_meta(&args, &item.sig, stream.is_some());
    let init = gen_init(&args);
    let MaybeItemFn {
        outer_attrs,
        inner_attrs,
        vis,
        sig,
        body,
    } = &item;

    let fake_return = fake_return_edge(&sig.output);
    let lint_allows = quote! {
        #[allow(
            unknown_lints,
            unreachable_code,
            clippy::redundant_closure_call,
            clippy::needless_return,
            clippy::let_unit_value,
            clippy::let_and_return,
            clippy::unit_arg,
            clippy::used_underscore_binding
        )]
    };
    let start = quote! {
        ::trace_llm::__private::start(&__TL_META, #init)
    };

    let new_body = match shape {
        Shape::Sync => {
            let stmts = body.inner_tokens();
            gen_traced_body(
                &meta,
                &start,
                &lint_allows,
                quote!(__tl_span.call(move || { #fake_return #stmts })),
                stream.as_ref(),
            )
        }
        Shape::Async => {
            let stmts = body.inner_tokens();
            gen_traced_body(
                &meta,
                &start,
                &lint_allows,
                in_span(quote!(async move { #fake_return #stmts })),
                stream.as_ref(),
            )
        }
        Shape::ReturnsFuture { boxed } => {
            let stmts = body.inner_tokens();
            let finish = gen_finish_closure(stream.as_ref());
            let wrapped = quote! {
                ::trace_llm::__private::instrument(__tl_span, __tl_future, #finish)
            };
            let wrapped = if boxed {
                quote!(::std::boxed::Box::pin(#wrapped))
            } else {
                wrapped
            };
            quote! {
                #meta
                #[allow(unused_mut)]
                let mut __tl_span = #start;
                #lint_allows
                let __tl_future = __tl_span.call(move || { #fake_return #stmts });
                #wrapped
            }
        }
        Shape::AsyncTrait => {
            let Body::Parsed(block) = body else {
                unreachable!("async-trait shape requires a parsed body")
            };
            let mut stmts = block.stmts.clone();
            let Some((last, async_expr)) = async_trait_block(&mut stmts) else {
                unreachable!("classified as async-trait")
            };
            let async_attrs = &async_expr.attrs;
            let inner_block = &async_expr.block;
            let traced = gen_traced_body(
                &meta,
                &start,
                &lint_allows,
                in_span(quote!(async move #inner_block)),
                stream.as_ref(),
            );
            let pinned: Expr = syn::parse_quote! {
                ::std::boxed::Box::pin(#(#async_attrs)* async move { #traced })
            };
            *last = Stmt::Expr(pinned, None);
            quote!(#(#stmts)*)
        }
    };

    Ok(quote! {
        #(#outer_attrs)*
        #vis #sig {
            #(#inner_attrs)*
            #new_body
        }
    })
}

/// The statements of a traced function body: start the span, `run` the body with it current
/// (an expression giving `__tl_ret`), then record the value and end the span (or hand it to
/// the returned stream).
fn gen_traced_body(
    meta: &TokenStream,
    start: &TokenStream,
    lint_allows: &TokenStream,
    run: TokenStream,
    stream: Option<&StreamPlan>,
) -> TokenStream {
    let finish = gen_finish_value(
        stream,
        &format_ident!("__tl_span"),
        &format_ident!("__tl_ret"),
    );
    quote! {
        #meta
        #[allow(unused_mut)]
        let mut __tl_span = #start;
        #lint_allows
        let __tl_ret = #run;
        #lint_allows
        #finish
    }
}

/// Runs an `async move` body with the span current on every poll; the span is finished
/// after the `.await`, not by the wrapper, so that with tracing off the outer future holds
/// no finisher and polls the body straight through. (Its span starts at the first poll: the
/// statements around it run then.)
fn in_span(inner: TokenStream) -> TokenStream {
    quote!(::trace_llm::__private::InSpan::new(&mut __tl_span, #inner).await)
}

// ---- streams -----------------------------------------------------------------------------

fn stream_wrap(ty: &Type) -> Option<Wrap> {
    if let Type::ImplTrait(imp) = ty {
        let bound = first_trait_bound(&imp.bounds)?;
        return match bound.ident.to_string().as_str() {
            "Stream" => Some(Wrap::ImplStream),
            "Iterator" => Some(Wrap::ImplIter),
            _ => None,
        };
    }
    if let Some((bound, _)) = boxed_dyn_trait(ty) {
        if bound.ident == "Stream" || bound.ident == "Iterator" {
            return Some(Wrap::Boxed);
        }
    }
    let seg = last_segment(ty)?;
    (seg.ident == "BoxStream" || seg.ident == "LocalBoxStream").then_some(Wrap::Boxed)
}

fn result_ok(ty: &Type) -> Option<&Type> {
    let seg = last_segment(ty)?;
    if seg.ident != "Result" {
        return None;
    }
    first_type_arg(seg)
}

fn stream_plan(
    args: &Args,
    sig: &Signature,
    value_ty: Option<&Type>,
) -> syn::Result<Option<StreamPlan>> {
    let Some(ty) = value_ty else {
        if let Some(span) = args.stream {
            return Err(syn::Error::new(
                span,
                "`stream` needs a function that returns a stream or iterator \
                 (or a `Result` of one)",
            ));
        }
        return Ok(None);
    };
    let (in_result, candidate) = match result_ok(ty) {
        Some(ok) => (true, ok),
        None => (false, ty),
    };
    match (stream_wrap(candidate), args.stream) {
        (Some(wrap), _) => Ok(Some(StreamPlan { in_result, wrap })),
        (None, Some(_)) => Ok(Some(StreamPlan {
            in_result,
            wrap: Wrap::Boxed,
        })),
        (None, None) => {
            let _ = sig;
            Ok(None)
        }
    }
}

/// Wraps `value` so that `span` follows the stream: items are recorded as chunks.
fn gen_wrap(wrap: Wrap, span: &proc_macro2::Ident, value: TokenStream) -> TokenStream {
    let on_item = quote! {
        |__tl_item, __tl_s: &mut ::trace_llm::__private::LiveSpan| {
            ::trace_llm::__tl_record!(&mut *__tl_s, __tl_item, __tl_chunk)
        }
    };
    match wrap {
        Wrap::ImplStream => quote!(::trace_llm::__private::trace_stream(#value, #span, #on_item)),
        Wrap::ImplIter => quote!(::trace_llm::__private::trace_iter(#value, #span, #on_item)),
        Wrap::Boxed => quote!(::trace_llm::__private::Rewrap::__tl_rewrap(#value, #span, #on_item)),
    }
}

/// Statements that record the returned value `ret` and end `span` (or hand the span to the
/// returned stream), evaluating to the value to return.
fn gen_finish_value(
    stream: Option<&StreamPlan>,
    span: &proc_macro2::Ident,
    ret: &proc_macro2::Ident,
) -> TokenStream {
    match stream {
        None => quote! {
            ::trace_llm::__tl_finish!(#span, &#ret);
            #ret
        },
        Some(StreamPlan {
            in_result: false,
            wrap,
        }) => gen_wrap(*wrap, span, quote!(#ret)),
        Some(StreamPlan {
            in_result: true,
            wrap,
        }) => {
            let wrapped = gen_wrap(*wrap, span, quote!(__tl_ok));
            quote! {
                match #ret {
                    ::core::result::Result::Ok(__tl_ok) => ::core::result::Result::Ok(#wrapped),
                    ::core::result::Result::Err(__tl_err) => {
                        ::trace_llm::__tl_finish_err!(#span, &__tl_err);
                        ::core::result::Result::Err(__tl_err)
                    }
                }
            }
        }
    }
}

/// The closure that finishes an instrumented future.
fn gen_finish_closure(stream: Option<&StreamPlan>) -> TokenStream {
    let span = format_ident!("__tl_span");
    let ret = format_ident!("__tl_ret");
    let body = gen_finish_value(stream, &span, &ret);
    quote! {
        #[allow(unused_mut)]
        |mut #span: ::trace_llm::__private::LiveSpan, #ret| { #body }
    }
}

// ---- metadata and per-call values --------------------------------------------------------

fn opt_str(value: Option<String>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

fn gen_meta(args: &Args, sig: &Signature, stream: bool) -> TokenStream {
    let op = args.operation();
    let fn_name = sig.ident.unraw().to_string();
    let lit = |l: &Option<syn::LitStr>| l.as_ref().map(syn::LitStr::value);
    let tool =
        (op == Operation::ExecuteTool).then(|| lit(&args.tool).unwrap_or_else(|| fn_name.clone()));
    let agent = matches!(op, Operation::InvokeAgent | Operation::CreateAgent)
        .then(|| lit(&args.agent).unwrap_or_else(|| fn_name.clone()));
    let workflow = (op == Operation::InvokeWorkflow)
        .then(|| lit(&args.workflow).unwrap_or_else(|| fn_name.clone()));
    let data_source = lit(&args.data_source);
    let model_lit = match &args.model {
        Some(ModelArg::Literal(l)) => Some(l.value()),
        _ => None,
    };
    let dynamic_model = matches!(args.model, Some(ModelArg::Expr(_))) || args.request.is_some();

    let op_name = op.semconv_name().unwrap_or_default();
    let (name, name_from_model) = if let Some(name) = &args.name {
        (name.value(), false)
    } else {
        match op {
            _ if op.named_after_model() => match &model_lit {
                Some(model) => (format!("{op_name} {model}"), false),
                None => (op_name.to_owned(), dynamic_model),
            },
            Operation::ExecuteTool => (
                format!("{op_name} {}", tool.clone().unwrap_or_default()),
                false,
            ),
            Operation::InvokeAgent | Operation::CreateAgent => (
                format!("{op_name} {}", agent.clone().unwrap_or_default()),
                false,
            ),
            Operation::InvokeWorkflow => (
                format!("{op_name} {}", workflow.clone().unwrap_or_default()),
                false,
            ),
            Operation::Retrieval => match &data_source {
                Some(ds) => (format!("{op_name} {ds}"), false),
                None => (op_name.to_owned(), false),
            },
            _ => (fn_name.clone(), false),
        }
    };
    let variant = format_ident!("{}", op.variant());
    let provider = opt_str(lit(&args.provider));
    let model = opt_str(model_lit);
    let tool = opt_str(tool);
    let agent = opt_str(agent);
    let workflow = opt_str(workflow);
    let data_source = opt_str(data_source);
    quote! {
        static __TL_META: ::trace_llm::__private::Meta = ::trace_llm::__private::Meta {
            operation: ::trace_llm::__private::Operation::#variant,
            name: #name,
            name_from_model: #name_from_model,
            function: ::core::concat!(::core::module_path!(), "::", #fn_name),
            provider: #provider,
            model: #model,
            tool: #tool,
            agent: #agent,
            workflow: #workflow,
            data_source: #data_source,
            stream: #stream,
        };
    }
}

/// The closure that sets per-call values at span start. Expressions are evaluated by
/// reference, never moving an argument.
fn gen_init(args: &Args) -> TokenStream {
    // Each call is spanned on the user's expression, so a type error points at it.
    let mut stmts = Vec::new();
    if let Some(ModelArg::Expr(expr)) = &args.model {
        stmts.push(quote_spanned!(expr.span()=> __tl_init.model(&(#expr));));
    }
    if let Some(expr) = &args.request {
        stmts.push(quote_spanned!(expr.span()=> __tl_init.request(&(#expr));));
    }
    if let Some(expr) = &args.base_url {
        stmts.push(quote_spanned!(expr.span()=> __tl_init.base_url(&(#expr));));
    }
    if let Some(expr) = &args.tool_call_id {
        stmts.push(quote_spanned!(expr.span()=> __tl_init.tool_call_id(&(#expr));));
    }
    if let Some(expr) = &args.arguments {
        stmts.push(quote_spanned!(expr.span()=> __tl_init.tool_arguments(&(#expr));));
    }
    if let Some(expr) = &args.query {
        stmts.push(quote_spanned!(expr.span()=> __tl_init.retrieval_query(&(#expr));));
    }
    for entry in &args.attributes {
        let key = syn::LitStr::new(&entry.key.value, entry.key.span);
        let value = &entry.value;
        stmts.push(quote_spanned!(value.span()=> __tl_init.attribute(#key, &(#value));));
    }
    if stmts.is_empty() {
        return quote!(|_: &mut ::trace_llm::__private::SpanInit<'_>| {});
    }
    quote! {
        |__tl_init: &mut ::trace_llm::__private::SpanInit<'_>| { #(#stmts)* }
    }
}

// ---- return-type inference ---------------------------------------------------------------

/// An unreachable `return` of the declared type as the first statement of the body, so a
/// closure or async block wrapping the body infers the declared return type (for `?` and
/// untyped literals), as `tracing-attributes` and `async-trait` do.
fn fake_return_edge(output: &ReturnType) -> TokenStream {
    let ty: Type = match output {
        ReturnType::Type(_, ty) => erase_impl_trait(ty),
        ReturnType::Default => syn::parse_quote!(()),
    };
    quote! {
        #[allow(
            unknown_lints,
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::let_with_type_underscore,
            clippy::needless_return,
            clippy::unreachable
        )]
        if false {
            let __tl_fake_return: #ty = loop {};
            return __tl_fake_return;
        }
    }
}

/// Replaces every `impl Trait` with `_` so the type can be written in a `let`.
fn erase_impl_trait(ty: &Type) -> Type {
    struct Eraser;
    impl VisitMut for Eraser {
        fn visit_type_mut(&mut self, t: &mut Type) {
            if let Type::ImplTrait(imp) = t {
                *t = Type::Infer(syn::TypeInfer {
                    underscore_token: Token![_](imp.span()),
                });
            } else {
                syn::visit_mut::visit_type_mut(self, t);
            }
        }
    }
    let mut ty = ty.clone();
    Eraser.visit_type_mut(&mut ty);
    ty
}

/// The span to point at for errors about the function as a whole.
pub(crate) fn fn_span(sig: &Signature) -> Span {
    sig.ident.span()
}
