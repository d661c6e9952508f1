//! `#[Telemetry::span]`, `#[Telemetry::metrics]` and `#[Telemetry::traces]` on one function,
//! read together (whichever expands first reads the others and removes them), every error
//! collected into one `syn::Error`.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemFn, LitStr, Pat, Type};

use crate::declare::{FnDecl, MetricDecl, MetricKind, SpanDecl};
use crate::names::{self, Kind};

/// The attributes this Cell owns, by their last path segment.
pub const KINDS: [&str; 3] = ["span", "metrics", "traces"];

/// What the expansion needs, with the spans of what the user wrote.
#[derive(Debug)]
pub struct Parsed {
    pub decl: FnDecl,
    /// The span's fields: argument, and how to record it.
    pub fields: Vec<Arg>,
    /// The metrics' labels, in order.
    pub labels: Vec<Arg>,
    pub counter: Option<String>,
    pub histogram: Option<String>,
}

/// A function argument named by `fields = [...]` or `labels = [...]`.
#[derive(Debug, Clone)]
pub struct Arg {
    pub ident: Ident,
    pub ty: Type,
}

/// Collects errors so the user sees every mistake at once (the collector every Cell's macros
/// share; [`Errors::finish`] must be called).
pub use cell_core::macros::Errors;

/// Whether `attr` is one of this Cell's (`Telemetry::span`, `cell_runtime::Telemetry::span`).
pub fn telemetry_kind(attr: &syn::Attribute) -> Option<String> {
    let segs: Vec<_> = attr.path().segments.iter().collect();
    let n = segs.len();
    if n >= 2 && segs[n - 2].ident == "Telemetry" {
        let last = segs[n - 1].ident.to_string();
        if KINDS.contains(&last.as_str()) {
            return Some(last);
        }
    }
    None
}

/// Removes every Telemetry attribute from `item`; returns them with the invoking one first.
fn take_attributes(
    kind: &str,
    args: TokenStream,
    item: &mut ItemFn,
) -> Vec<(String, TokenStream, Span)> {
    let mut all = vec![(kind.to_string(), args, Span::call_site())];
    item.attrs.retain(|attr| match telemetry_kind(attr) {
        Some(k) => {
            let tokens = match &attr.meta {
                syn::Meta::List(list) => list.tokens.clone(),
                _ => TokenStream::new(),
            };
            all.push((k, tokens, attr.span()));
            false
        }
        None => true,
    });
    all
}

/// The item with every Telemetry attribute removed, nothing else changed.
pub fn strip(item: &mut ItemFn) {
    item.attrs.retain(|attr| telemetry_kind(attr).is_none());
}

/// Parses the invoking attribute (`kind`, `args`) and every other Telemetry attribute on
/// `item`, removing them from it. `module_path` names the function's module for the default
/// span name (`shop::checkout`). Errors are collected; the result is usable either way.
pub fn parse(
    kind: &str,
    args: TokenStream,
    item: &mut ItemFn,
    module_path: &str,
) -> (Parsed, Errors) {
    let mut errors = Errors::default();
    let attrs = take_attributes(kind, args, item);
    let fn_name = item.sig.ident.to_string();
    let function = if module_path.is_empty() {
        fn_name.clone()
    } else {
        format!("{module_path}::{fn_name}")
    };
    let arguments = arguments(item);

    let mut seen: Vec<&str> = vec![];
    let mut span_name: Option<String> = None;
    let mut wants_span = false;
    let mut field_lits: Vec<LitStr> = vec![];
    let mut label_lits: Vec<LitStr> = vec![];
    let mut counter: Option<LitStr> = None;
    let mut histogram: Option<LitStr> = None;
    let mut sampled: Option<f64> = None;

    for (kind, tokens, attr_span) in &attrs {
        let kind = kind.as_str();
        if seen.contains(&kind) {
            errors.at(
                *attr_span,
                format!("#[Telemetry::{kind}] appears twice on `{fn_name}`\n\nhelp: merge them into one attribute"),
            );
            continue;
        }
        seen.push(
            KINDS
                .iter()
                .find(|k| **k == kind)
                .copied()
                .unwrap_or("span"),
        );
        let parser = syn::meta::parser(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            match (kind, key.as_str()) {
                ("span", "name") => {
                    let lit: LitStr = meta.value()?.parse()?;
                    if lit.value().trim().is_empty() {
                        return Err(syn::Error::new(
                            lit.span(),
                            "the span name is empty\n\nhelp: leave `name` out to use the function's path",
                        ));
                    }
                    span_name = Some(lit.value());
                }
                ("span", "fields") => field_lits.extend(names_list(&meta)?),
                ("metrics", "counter") => counter = Some(meta.value()?.parse()?),
                ("metrics", "histogram") => histogram = Some(meta.value()?.parse()?),
                ("metrics", "labels") => label_lits.extend(names_list(&meta)?),
                ("traces", "sampled") => {
                    let lit: LitStr = meta.value()?.parse()?;
                    sampled = Some(
                        names::parse_sample_rate(&lit.value())
                            .map_err(|m| syn::Error::new(lit.span(), m))?,
                    );
                }
                _ => {
                    let expected = match kind {
                        "span" => "`name = \"...\"` and `fields = [...]`",
                        "metrics" => {
                            "`counter = \"..._total\"`, `histogram = \"..._seconds\"` and `labels = [...]`"
                        }
                        _ => "`sampled = \"0.1\"`",
                    };
                    return Err(meta.error(format!(
                        "unknown #[Telemetry::{kind}] option `{key}`\n\nhelp: #[Telemetry::{kind}] takes {expected}"
                    )));
                }
            }
            Ok(())
        });
        if let Err(e) = parser.parse2(tokens.clone()) {
            errors.push(e);
        }
        match kind {
            "span" | "traces" => wants_span = true,
            _ => {}
        }
    }
    if seen.contains(&"traces") && sampled.is_none() && errors.is_empty() {
        let (_, _, s) = attrs.iter().find(|(k, _, _)| k == "traces").expect("seen");
        errors.at(*s, "#[Telemetry::traces] needs a sample rate\n\nhelp: write `#[Telemetry::traces(sampled = \"0.1\")]`");
    }
    if seen.contains(&"metrics") && counter.is_none() && histogram.is_none() {
        let (_, _, s) = attrs.iter().find(|(k, _, _)| k == "metrics").expect("seen");
        errors.at(*s, "#[Telemetry::metrics] declares no metric\n\nhelp: write `#[Telemetry::metrics(counter = \"checkouts_total\", histogram = \"checkout_seconds\")]`");
    }

    let mut check_metric = |lit: &Option<LitStr>, kind: Kind| {
        if let Some(lit) = lit
            && let Err(m) = names::check_metric(&lit.value(), kind)
        {
            errors.at(lit.span(), m);
        }
    };
    check_metric(&counter, Kind::Counter);
    check_metric(&histogram, Kind::Histogram);

    let resolve = |lits: &[LitStr], what: &str, errors: &mut Errors| -> Vec<Arg> {
        let mut out: Vec<Arg> = vec![];
        for lit in lits {
            let name = lit.value();
            if what == "labels"
                && let Err(m) = names::check_label(&name)
            {
                errors.at(lit.span(), m);
                continue;
            }
            if out.iter().any(|a| a.ident == name) {
                errors.at(lit.span(), format!("`{name}` is listed twice in `{what}`"));
                continue;
            }
            match arguments.iter().find(|a| a.ident == name) {
                Some(a) => out.push(a.clone()),
                None => {
                    let names: Vec<String> =
                        arguments.iter().map(|a| a.ident.to_string()).collect();
                    let help = if names.is_empty() {
                        format!("`{fn_name}` has no named arguments to record")
                    } else {
                        format!(
                            "`{what} = [...]` names arguments of `{fn_name}`: {}",
                            names.join(", ")
                        )
                    };
                    errors.at(
                        lit.span(),
                        format!("`{name}` is not an argument of `{fn_name}`\n\nhelp: {help}"),
                    );
                }
            }
        }
        out
    };
    let fields = resolve(&field_lits, "fields", &mut errors);
    let labels = resolve(&label_lits, "labels", &mut errors);

    let label_names: Vec<String> = labels.iter().map(|a| a.ident.to_string()).collect();
    let mut metrics = vec![];
    if let Some(c) = &counter {
        metrics.push(MetricDecl {
            name: c.value(),
            kind: MetricKind::Counter,
            labels: label_names.clone(),
        });
    }
    if let Some(h) = &histogram {
        metrics.push(MetricDecl {
            name: h.value(),
            kind: MetricKind::Histogram,
            labels: label_names,
        });
    }
    let span = wants_span.then(|| SpanDecl {
        name: span_name.unwrap_or_else(|| function.clone()),
        fields: fields.iter().map(|a| a.ident.to_string()).collect(),
        sampled,
        is_async: item.sig.asyncness.is_some(),
    });
    let parsed = Parsed {
        decl: FnDecl {
            function,
            span,
            metrics,
        },
        fields,
        labels,
        counter: counter.map(|l| l.value()),
        histogram: histogram.map(|l| l.value()),
    };
    (parsed, errors)
}

/// `[tier, "user_id"]`: identifiers or string literals.
fn names_list(meta: &syn::meta::ParseNestedMeta) -> syn::Result<Vec<LitStr>> {
    let value = meta.value()?;
    let content;
    syn::bracketed!(content in value);
    let mut out = vec![];
    while !content.is_empty() {
        if content.peek(LitStr) {
            out.push(content.parse::<LitStr>()?);
        } else {
            let ident: Ident = content.parse()?;
            out.push(LitStr::new(&ident.to_string(), ident.span()));
        }
        if content.is_empty() {
            break;
        }
        content.parse::<syn::Token![,]>()?;
    }
    Ok(out)
}

/// The function's arguments bound to a plain identifier.
fn arguments(item: &ItemFn) -> Vec<Arg> {
    item.sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(pt) => match &*pt.pat {
                Pat::Ident(pi) => Some(Arg {
                    ident: pi.ident.clone(),
                    ty: (*pt.ty).clone(),
                }),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn run(
        kind: &str,
        args: TokenStream,
        item: TokenStream,
    ) -> (Parsed, Result<(), syn::Error>, ItemFn) {
        let mut item: ItemFn = syn::parse2(item).unwrap();
        let (p, e) = parse(kind, args, &mut item, "shop");
        (p, e.finish(), item)
    }

    #[test]
    fn all_three_attributes_read_together() {
        let (p, e, item) = run(
            "span",
            quote!(name = "checkout_flow", fields = [tier]),
            quote! {
                #[Telemetry::metrics(counter = "checkouts_total", labels = ["tier"], histogram = "checkout_seconds")]
                #[inline]
                #[Telemetry::traces(sampled = "0.5")]
                async fn checkout(tier: &str, n: u32) -> u32 { n }
            },
        );
        e.unwrap();
        assert_eq!(item.attrs.len(), 1, "only #[inline] is left");
        let span = p.decl.span.unwrap();
        assert_eq!(span.name, "checkout_flow");
        assert_eq!(span.fields, ["tier"]);
        assert_eq!(span.sampled, Some(0.5));
        assert!(span.is_async);
        assert_eq!(p.decl.function, "shop::checkout");
        assert_eq!(p.decl.metrics.len(), 2);
        assert_eq!(p.decl.metrics[0].labels, ["tier"]);
    }

    #[test]
    fn default_span_name_is_the_function_path() {
        let (p, e, _) = run(
            "span",
            quote!(),
            quote!(
                fn pay() {}
            ),
        );
        e.unwrap();
        assert_eq!(p.decl.span.unwrap().name, "shop::pay");
        assert!(p.decl.metrics.is_empty());
    }

    #[test]
    fn metrics_alone_make_no_span() {
        let (p, e, _) = run(
            "metrics",
            quote!(counter = "pays_total"),
            quote!(
                fn pay() {}
            ),
        );
        e.unwrap();
        assert!(p.decl.span.is_none());
    }

    #[test]
    fn every_error_at_once() {
        let (_, e, _) = run(
            "span",
            quote!(fields = [nope], colour = "red"),
            quote! {
                #[Telemetry::metrics(counter = "checkouts", labels = ["le"], histogram = "x_count")]
                #[Telemetry::traces(sampled = "2")]
                fn f(tier: &str) {}
            },
        );
        let msgs: Vec<String> = e.unwrap_err().into_iter().map(|e| e.to_string()).collect();
        let all = msgs.join("\n---\n");
        assert!(
            all.contains("unknown #[Telemetry::span] option `colour`"),
            "{all}"
        );
        assert!(all.contains("does not end in `_total`"), "{all}");
        assert!(all.contains("ends in `_count`"), "{all}");
        assert!(all.contains("label `le` is taken"), "{all}");
        assert!(all.contains("outside 0..=1"), "{all}");
        assert!(
            !all.contains("`nope` is not an argument") || all.contains("tier"),
            "{all}"
        );
    }

    #[test]
    fn fields_must_name_arguments() {
        let (_, e, _) = run(
            "span",
            quote!(fields = [user]),
            quote!(
                fn f(tier: &str) {}
            ),
        );
        let err = e.unwrap_err().to_string();
        assert!(err.contains("`user` is not an argument of `f`"), "{err}");
        assert!(err.contains("names arguments of `f`: tier"), "{err}");
    }

    #[test]
    fn twice_is_an_error() {
        let (_, e, _) = run(
            "span",
            quote!(),
            quote!(
                #[Telemetry::span]
                fn f() {}
            ),
        );
        assert!(e.unwrap_err().to_string().contains("appears twice"));
    }

    #[test]
    fn traces_needs_a_rate_and_metrics_a_metric() {
        let (_, e, _) = run(
            "traces",
            quote!(),
            quote!(
                fn f() {}
            ),
        );
        assert!(e.unwrap_err().to_string().contains("needs a sample rate"));
        let (_, e, _) = run(
            "metrics",
            quote!(),
            quote!(
                fn f() {}
            ),
        );
        assert!(e.unwrap_err().to_string().contains("declares no metric"));
    }
}
