//! Parsing of `#[trace_llm(...)]` options into [`Args`]. Nothing here generates code.
//!
//! Every error is a `syn::Error` spanned on the offending tokens: the unknown option name,
//! the duplicated keyword, the value of the wrong type.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Token};

mod kw {
    syn::custom_keyword!(kind);
    syn::custom_keyword!(name);
    syn::custom_keyword!(provider);
    syn::custom_keyword!(model);
    syn::custom_keyword!(request);
    syn::custom_keyword!(tool);
    syn::custom_keyword!(tool_call_id);
    syn::custom_keyword!(agent);
    syn::custom_keyword!(workflow);
    syn::custom_keyword!(data_source);
    syn::custom_keyword!(attributes);
    syn::custom_keyword!(stream);
    syn::custom_keyword!(arguments);
    syn::custom_keyword!(query);
    syn::custom_keyword!(base_url);
}

/// The GenAI operation a decorated function performs (semconv `gen_ai.operation.name`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    Chat,
    TextCompletion,
    GenerateContent,
    Embeddings,
    Retrieval,
    ExecuteTool,
    CreateAgent,
    InvokeAgent,
    InvokeWorkflow,
    /// No GenAI operation: an INTERNAL span named after the function.
    Task,
}

/// Accepted spellings of `kind`, with the operation each maps to. Aliases come last so the
/// error message lists the semconv names first.
const KINDS: &[(&str, Operation)] = &[
    ("chat", Operation::Chat),
    ("text_completion", Operation::TextCompletion),
    ("generate_content", Operation::GenerateContent),
    ("embeddings", Operation::Embeddings),
    ("retrieval", Operation::Retrieval),
    ("execute_tool", Operation::ExecuteTool),
    ("create_agent", Operation::CreateAgent),
    ("invoke_agent", Operation::InvokeAgent),
    ("invoke_workflow", Operation::InvokeWorkflow),
    ("task", Operation::Task),
    ("tool", Operation::ExecuteTool),
    ("agent", Operation::InvokeAgent),
    ("workflow", Operation::InvokeWorkflow),
    ("retriever", Operation::Retrieval),
];

impl Operation {
    fn from_kind(kind: &str) -> Option<Self> {
        KINDS.iter().find(|(k, _)| *k == kind).map(|(_, op)| *op)
    }

    /// The `gen_ai.operation.name` value, `None` for plain tasks.
    pub(crate) fn semconv_name(self) -> Option<&'static str> {
        Some(match self {
            Operation::Chat => "chat",
            Operation::TextCompletion => "text_completion",
            Operation::GenerateContent => "generate_content",
            Operation::Embeddings => "embeddings",
            Operation::Retrieval => "retrieval",
            Operation::ExecuteTool => "execute_tool",
            Operation::CreateAgent => "create_agent",
            Operation::InvokeAgent => "invoke_agent",
            Operation::InvokeWorkflow => "invoke_workflow",
            Operation::Task => return None,
        })
    }

    /// Name of the matching variant of the runtime's `Operation` enum.
    pub(crate) fn variant(self) -> &'static str {
        match self {
            Operation::Chat => "Chat",
            Operation::TextCompletion => "TextCompletion",
            Operation::GenerateContent => "GenerateContent",
            Operation::Embeddings => "Embeddings",
            Operation::Retrieval => "Retrieval",
            Operation::ExecuteTool => "ExecuteTool",
            Operation::CreateAgent => "CreateAgent",
            Operation::InvokeAgent => "InvokeAgent",
            Operation::InvokeWorkflow => "InvokeWorkflow",
            Operation::Task => "Task",
        }
    }

    /// Operations whose span name is `"{operation} {model}"`.
    pub(crate) fn named_after_model(self) -> bool {
        matches!(
            self,
            Operation::Chat
                | Operation::TextCompletion
                | Operation::GenerateContent
                | Operation::Embeddings
        )
    }
}

/// `model = "literal"` is known at compile time (static span name); anything else is
/// evaluated per call.
pub(crate) enum ModelArg {
    Literal(LitStr),
    Expr(Box<Expr>),
}

/// Key of one `attributes(...)` entry: a string literal or an identifier.
pub(crate) struct AttrKey {
    pub(crate) value: String,
    pub(crate) span: Span,
}

pub(crate) struct AttrEntry {
    pub(crate) key: AttrKey,
    pub(crate) value: Expr,
}

/// The typed form of the attribute's options. The generator only ever sees this.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) kind: Option<(Operation, LitStr)>,
    pub(crate) name: Option<LitStr>,
    pub(crate) provider: Option<LitStr>,
    pub(crate) model: Option<ModelArg>,
    pub(crate) request: Option<Expr>,
    pub(crate) tool: Option<LitStr>,
    pub(crate) tool_call_id: Option<Expr>,
    pub(crate) agent: Option<LitStr>,
    pub(crate) workflow: Option<LitStr>,
    pub(crate) data_source: Option<LitStr>,
    pub(crate) arguments: Option<Expr>,
    pub(crate) query: Option<Expr>,
    /// The provider's base URL (`server.address` / `server.port`).
    pub(crate) base_url: Option<Expr>,
    pub(crate) attributes: Vec<AttrEntry>,
    /// Span of the `attributes` keyword, for duplicate detection.
    attributes_kw: Option<Span>,
    pub(crate) stream: Option<Span>,
}

impl Args {
    pub(crate) fn operation(&self) -> Operation {
        self.kind.as_ref().map_or(Operation::Task, |(op, _)| *op)
    }
}

fn duplicate(span: Span, option: &str) -> syn::Error {
    syn::Error::new(span, format!("duplicate `{option}` option"))
}

/// Stores `value` in `slot`, or fails on the second occurrence, pointing at it.
fn set_once<T>(slot: &mut Option<T>, value: T, span: Span, option: &str) -> syn::Result<()> {
    if slot.is_some() {
        return Err(duplicate(span, option));
    }
    *slot = Some(value);
    Ok(())
}

/// Parses `= "literal"`, with an error on the value that explains why only literals are
/// accepted for `option`.
fn parse_lit_str(input: ParseStream<'_>, option: &str, why: &str) -> syn::Result<LitStr> {
    input.parse::<Token![=]>()?;
    let expr = ungroup(input.parse()?);
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => {
            if s.value().is_empty() {
                return Err(syn::Error::new(
                    s.span(),
                    format!("`{option}` must not be empty"),
                ));
            }
            Ok(s)
        }
        other => Err(syn::Error::new(
            other.span(),
            format!("`{option}` takes a string literal{why}"),
        )),
    }
}

fn parse_expr(input: ParseStream<'_>) -> syn::Result<Expr> {
    input.parse::<Token![=]>()?;
    input.parse().map(ungroup)
}

/// The expression inside invisible delimiters: what a `macro_rules!` fragment such as
/// `$kind:literal` becomes when it is forwarded into the attribute.
fn ungroup(mut expr: Expr) -> Expr {
    while let Expr::Group(group) = expr {
        expr = *group.expr;
    }
    expr
}

fn parse_kind(input: ParseStream<'_>) -> syn::Result<(Operation, LitStr)> {
    let lit = parse_lit_str(input, "kind", "")?;
    match Operation::from_kind(&lit.value()) {
        Some(op) => Ok((op, lit)),
        None => {
            let expected: Vec<String> = KINDS.iter().map(|(k, _)| format!("\"{k}\"")).collect();
            Err(syn::Error::new(
                lit.span(),
                format!(
                    "unknown kind \"{}\"; expected one of {}",
                    lit.value(),
                    expected.join(", ")
                ),
            ))
        }
    }
}

fn parse_attributes(input: ParseStream<'_>) -> syn::Result<Vec<AttrEntry>> {
    let content;
    syn::parenthesized!(content in input);
    let mut entries: Vec<AttrEntry> = Vec::new();
    while !content.is_empty() {
        let key = if content.peek(LitStr) {
            let lit: LitStr = content.parse()?;
            if lit.value().is_empty() {
                return Err(syn::Error::new(
                    lit.span(),
                    "attribute keys must not be empty",
                ));
            }
            AttrKey {
                value: lit.value(),
                span: lit.span(),
            }
        } else if content.peek(Ident::peek_any) {
            let ident = Ident::parse_any(&content)?;
            AttrKey {
                value: ident.unraw().to_string(),
                span: ident.span(),
            }
        } else {
            return Err(content.error(
                "expected an attribute key: a string literal (\"app.step\") or an identifier",
            ));
        };
        if entries.iter().any(|e| e.key.value == key.value) {
            return Err(syn::Error::new(
                key.span,
                format!("duplicate attribute key \"{}\"", key.value),
            ));
        }
        if !content.peek(Token![=]) {
            return Err(syn::Error::new(
                key.span,
                format!("attribute \"{}\" needs a value: `key = expr`", key.value),
            ));
        }
        content.parse::<Token![=]>()?;
        let value: Expr = content.parse()?;
        entries.push(AttrEntry { key, value });
        if content.is_empty() {
            break;
        }
        content.parse::<Token![,]>()?;
    }
    Ok(entries)
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::kind) {
                let k = input.parse::<kw::kind>()?;
                let v = parse_kind(input)?;
                set_once(&mut args.kind, v, k.span, "kind")?;
            } else if lookahead.peek(kw::name) {
                let k = input.parse::<kw::name>()?;
                let why = ": span names must be low-cardinality, so they are fixed at compile \
                           time; put per-call values in `attributes(...)`";
                let v = parse_lit_str(input, "name", why)?;
                set_once(&mut args.name, v, k.span, "name")?;
            } else if lookahead.peek(kw::provider) {
                let k = input.parse::<kw::provider>()?;
                let v = parse_lit_str(input, "provider", " such as \"openai\" or \"anthropic\"")?;
                set_once(&mut args.provider, v, k.span, "provider")?;
            } else if lookahead.peek(kw::model) {
                let k = input.parse::<kw::model>()?;
                let v = match parse_expr(input)? {
                    Expr::Lit(ExprLit {
                        lit: Lit::Str(s), ..
                    }) => ModelArg::Literal(s),
                    Expr::Lit(other) => {
                        return Err(syn::Error::new(
                            other.span(),
                            "`model` takes a string literal or an expression evaluating to a string",
                        ));
                    }
                    expr => ModelArg::Expr(Box::new(expr)),
                };
                set_once(&mut args.model, v, k.span, "model")?;
            } else if lookahead.peek(kw::request) {
                let k = input.parse::<kw::request>()?;
                let v = parse_expr(input)?;
                set_once(&mut args.request, v, k.span, "request")?;
            } else if lookahead.peek(kw::base_url) {
                let k = input.parse::<kw::base_url>()?;
                let v = parse_expr(input)?;
                set_once(&mut args.base_url, v, k.span, "base_url")?;
            } else if lookahead.peek(kw::tool_call_id) {
                let k = input.parse::<kw::tool_call_id>()?;
                let v = parse_expr(input)?;
                set_once(&mut args.tool_call_id, v, k.span, "tool_call_id")?;
            } else if lookahead.peek(kw::tool) {
                let k = input.parse::<kw::tool>()?;
                let v = parse_lit_str(input, "tool", "")?;
                set_once(&mut args.tool, v, k.span, "tool")?;
            } else if lookahead.peek(kw::agent) {
                let k = input.parse::<kw::agent>()?;
                let v = parse_lit_str(input, "agent", "")?;
                set_once(&mut args.agent, v, k.span, "agent")?;
            } else if lookahead.peek(kw::workflow) {
                let k = input.parse::<kw::workflow>()?;
                let v = parse_lit_str(input, "workflow", "")?;
                set_once(&mut args.workflow, v, k.span, "workflow")?;
            } else if lookahead.peek(kw::data_source) {
                let k = input.parse::<kw::data_source>()?;
                let v = parse_lit_str(input, "data_source", "")?;
                set_once(&mut args.data_source, v, k.span, "data_source")?;
            } else if lookahead.peek(kw::arguments) {
                let k = input.parse::<kw::arguments>()?;
                let v = parse_expr(input)?;
                set_once(&mut args.arguments, v, k.span, "arguments")?;
            } else if lookahead.peek(kw::query) {
                let k = input.parse::<kw::query>()?;
                let v = parse_expr(input)?;
                set_once(&mut args.query, v, k.span, "query")?;
            } else if lookahead.peek(kw::attributes) {
                let k = input.parse::<kw::attributes>()?;
                if args.attributes_kw.is_some() {
                    return Err(duplicate(k.span, "attributes"));
                }
                args.attributes_kw = Some(k.span);
                args.attributes = parse_attributes(input)?;
            } else if lookahead.peek(kw::stream) {
                let k = input.parse::<kw::stream>()?;
                if input.peek(Token![=]) {
                    return Err(syn::Error::new(
                        input.span(),
                        "`stream` is a flag and takes no value: write `stream`",
                    ));
                }
                set_once(&mut args.stream, k.span, k.span, "stream")?;
            } else if input.peek(Ident::peek_any) {
                let ident = Ident::parse_any(input)?;
                return Err(unknown_option(&ident));
            } else {
                return Err(lookahead.error());
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        args.check_applicable()?;
        Ok(args)
    }
}

const OPTIONS: &[&str] = &[
    "kind",
    "name",
    "provider",
    "model",
    "request",
    "tool",
    "tool_call_id",
    "agent",
    "workflow",
    "data_source",
    "arguments",
    "query",
    "base_url",
    "attributes",
    "stream",
];

/// "unknown option `modle`; did you mean `model`?", pointing at the option.
fn unknown_option(ident: &Ident) -> syn::Error {
    let given = ident.unraw().to_string();
    let closest = OPTIONS
        .iter()
        .map(|o| (edit_distance(&given, o), *o))
        .min()
        .filter(|(d, _)| *d <= 2);
    let list = OPTIONS
        .iter()
        .map(|o| format!("`{o}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let message = match closest {
        Some((_, o)) => format!("unknown option `{given}`; did you mean `{o}`? (options: {list})"),
        None => format!("unknown option `{given}`; expected one of {list}"),
    };
    syn::Error::new(ident.span(), message)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

impl Args {
    /// Options that only mean something for some kinds are rejected elsewhere, pointing at
    /// the option, so a typo in `kind` does not silently drop them.
    fn check_applicable(&self) -> syn::Result<()> {
        let op = self.operation();
        let kind_text = self.kind.as_ref().map_or_else(
            || "no kind".to_owned(),
            |(_, l)| format!("kind \"{}\"", l.value()),
        );
        let reject = |span: Span, option: &str, wanted: &str| {
            Err(syn::Error::new(
                span,
                format!("`{option}` applies only to {wanted}, not to {kind_text}"),
            ))
        };
        if let Some(tool) = &self.tool {
            if op != Operation::ExecuteTool {
                return reject(tool.span(), "tool", "kind = \"execute_tool\"");
            }
        }
        if let Some(id) = &self.tool_call_id {
            if op != Operation::ExecuteTool {
                return reject(id.span(), "tool_call_id", "kind = \"execute_tool\"");
            }
        }
        if let Some(agent) = &self.agent {
            if !matches!(op, Operation::InvokeAgent | Operation::CreateAgent) {
                return reject(
                    agent.span(),
                    "agent",
                    "kind = \"invoke_agent\" or \"create_agent\"",
                );
            }
        }
        if let Some(arguments) = &self.arguments {
            if op != Operation::ExecuteTool {
                return reject(arguments.span(), "arguments", "kind = \"execute_tool\"");
            }
        }
        if let Some(query) = &self.query {
            if op != Operation::Retrieval {
                return reject(query.span(), "query", "kind = \"retrieval\"");
            }
        }
        if let Some(workflow) = &self.workflow {
            if op != Operation::InvokeWorkflow {
                return reject(workflow.span(), "workflow", "kind = \"invoke_workflow\"");
            }
        }
        if let Some(ds) = &self.data_source {
            if !matches!(op, Operation::Retrieval | Operation::InvokeAgent) {
                return reject(
                    ds.span(),
                    "data_source",
                    "kind = \"retrieval\" or \"invoke_agent\"",
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::KINDS;

    /// The kinds the macro accepts, pinned: the same list as `tests/tests/naming.rs`
    /// (`kinds_agree`), which checks the runtime maps each of them the same way. A kind
    /// added here must be added there (and to the runtime's `Operation::from_kind`).
    #[test]
    fn the_kind_table_is_the_pinned_one() {
        let mut kinds: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
        kinds.sort_unstable();
        assert_eq!(
            kinds,
            [
                "agent",
                "chat",
                "create_agent",
                "embeddings",
                "execute_tool",
                "generate_content",
                "invoke_agent",
                "invoke_workflow",
                "retrieval",
                "retriever",
                "task",
                "text_completion",
                "tool",
                "workflow",
            ]
        );
    }
}
