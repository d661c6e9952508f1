//! Code generation. Cannot fail: [`crate::parse`] has checked everything.
//!
//! A sync function enters its span for the body (nothing is awaited in it). An async
//! function's body becomes a future instrumented with the span, so the span follows it across
//! awaits and is never entered while the task is suspended. Metrics: the counter is
//! incremented on every call, the histogram records the call's duration in seconds when the
//! call ends (returns, panics or, for a future, is dropped). Generated code names everything
//! by absolute path through `::cell_runtime::__private::telemetry`; its own locals are
//! hygienic (mixed-site), so they cannot clash with the user's names.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{ItemFn, ReturnType, Type};

use crate::parse::{Arg, Parsed};

/// The function as written, without its Telemetry attributes (telemetry off).
pub fn unchanged(item: &ItemFn) -> TokenStream {
    quote!(#item)
}

pub fn expand(item: &ItemFn, parsed: &Parsed) -> TokenStream {
    let rt = quote!(::cell_runtime::__private::telemetry);
    let span_var = syn::Ident::new("__cell_span", Span::mixed_site());
    let timer_var = syn::Ident::new("__cell_timer", Span::mixed_site());

    let mut prelude = TokenStream::new();
    // Personal data (`#[Security::pii]`) never goes to a trace backend or a /metrics page.
    for arg in &parsed.fields {
        prelude.extend(cell_core::macros::refuse_pii(
            &arg.ty,
            &item.sig.generics,
            &arg.ident,
            &format!(
                "`{}` holds personal data (#[Security::pii]): as a span field it would be sent to the trace backend\n\nhelp: leave it out of `fields = [...]`, or pass the part that is not personal as an argument of its own and name that",
                arg.ident
            ),
        ));
    }
    for arg in &parsed.labels {
        prelude.extend(cell_core::macros::refuse_pii(
            &arg.ty,
            &item.sig.generics,
            &arg.ident,
            &format!(
                "`{}` holds personal data (#[Security::pii]): as a metric label it would be published on /metrics\n\nhelp: leave it out of `labels = [...]`; a label is for a small set of values (a tier, a status), never a person's data",
                arg.ident
            ),
        ));
    }
    let label_vars: Vec<syn::Ident> = (0..parsed.labels.len())
        .map(|i| format_ident!("__cell_label_{}", i, span = Span::mixed_site()))
        .collect();
    for (var, arg) in label_vars.iter().zip(&parsed.labels) {
        let ident = &arg.ident;
        prelude.extend(quote! {
            let #var: ::std::string::String = ::std::string::ToString::to_string(&#ident);
        });
    }
    let label_pairs = |owned: bool| -> Vec<TokenStream> {
        label_vars
            .iter()
            .zip(&parsed.labels)
            .map(|(var, arg)| {
                let key = arg.ident.to_string();
                if owned {
                    quote!(#key => #var)
                } else {
                    quote!(#key => ::std::clone::Clone::clone(&#var))
                }
            })
            .collect()
    };
    if let Some(counter) = &parsed.counter {
        let pairs = label_pairs(parsed.histogram.is_none());
        prelude.extend(quote! {
            #rt::metrics::counter!(#counter #(, #pairs)*).increment(1);
        });
    }
    if let Some(histogram) = &parsed.histogram {
        let pairs = label_pairs(true);
        prelude.extend(quote! {
            let #timer_var = #rt::Timer::start(#rt::metrics::histogram!(#histogram #(, #pairs)*));
        });
    }

    let Some(span) = &parsed.decl.span else {
        // Metrics only.
        let attrs = &item.attrs;
        let vis = &item.vis;
        let sig = &item.sig;
        let block = &item.block;
        return quote! {
            #(#attrs)* #vis #sig {
                #prelude
                #block
            }
        };
    };

    let name = &span.name;
    let fields: Vec<TokenStream> = parsed.fields.iter().map(field).collect();
    let make_span = quote! {
        #rt::tracing::span!(#rt::tracing::Level::INFO, #name #(, #fields)*)
    };
    let make_span = match span.sampled {
        Some(rate) => quote! {
            if #rt::sample(#rate) { #make_span } else { #rt::tracing::Span::none() }
        },
        None => make_span,
    };

    let attrs = &item.attrs;
    let vis = &item.vis;
    let sig = &item.sig;
    let block = &item.block;
    if sig.asyncness.is_some() {
        let ret = match &sig.output {
            ReturnType::Default => Some(quote!(())),
            ReturnType::Type(_, ty) if !contains_impl_trait(ty) => Some(quote!(#ty)),
            ReturnType::Type(..) => None,
        };
        let ret_var = syn::Ident::new("__cell_return", Span::mixed_site());
        // Annotating the block's value fixes the future's output type, so `?` and `return`
        // in the body infer as they do in the function.
        let body = match ret {
            Some(ty) => quote! {
                async move {
                    #[allow(clippy::let_and_return, clippy::needless_return)]
                    let #ret_var: #ty = #block;
                    #ret_var
                }
            },
            None => quote!(async move #block),
        };
        quote! {
            #(#attrs)* #vis #sig {
                #prelude
                let #span_var = #make_span;
                #rt::tracing::Instrument::instrument(#body, #span_var).await
            }
        }
    } else {
        let guard = syn::Ident::new("__cell_entered", Span::mixed_site());
        quote! {
            #(#attrs)* #vis #sig {
                #prelude
                let #span_var = #make_span;
                let #guard = #span_var.enter();
                #block
            }
        }
    }
}

/// `tier = <value>`: primitives as themselves, strings as `&str`, anything else by `Debug`.
/// Small unsigned integers are widened to `i64`: OpenTelemetry has no unsigned attributes, and
/// `tracing-opentelemetry` would export a `u32` as its text.
fn field(arg: &Arg) -> TokenStream {
    let rt = quote!(::cell_runtime::__private::telemetry);
    let ident = &arg.ident;
    match classify(&arg.ty) {
        FieldKind::Primitive => quote!(#ident = #ident),
        FieldKind::SmallUnsigned => quote!(#ident = ::core::primitive::i64::from(#ident)),
        FieldKind::Str => quote!(#ident = ::core::convert::AsRef::<str>::as_ref(&#ident)),
        FieldKind::Debug => quote!(#ident = #rt::tracing::field::debug(&#ident)),
    }
}

enum FieldKind {
    Primitive,
    SmallUnsigned,
    Str,
    Debug,
}

fn classify(ty: &Type) -> FieldKind {
    match ty {
        Type::Reference(r) => match classify(&r.elem) {
            FieldKind::Str => FieldKind::Str,
            _ => FieldKind::Debug,
        },
        Type::Path(p) if p.qself.is_none() => {
            let Some(last) = p.path.segments.last() else {
                return FieldKind::Debug;
            };
            let name = last.ident.to_string();
            match name.as_str() {
                "u8" | "u16" | "u32" if p.path.segments.len() == 1 => FieldKind::SmallUnsigned,
                "i8" | "i16" | "i32" | "i64" | "isize" | "u64" | "usize" | "f32" | "f64"
                | "bool"
                    if p.path.segments.len() == 1 =>
                {
                    FieldKind::Primitive
                }
                "str" | "String" => FieldKind::Str,
                _ => FieldKind::Debug,
            }
        }
        Type::Paren(p) => classify(&p.elem),
        Type::Group(g) => classify(&g.elem),
        _ => FieldKind::Debug,
    }
}

fn contains_impl_trait(ty: &Type) -> bool {
    let s = quote!(#ty).to_string();
    s.contains("impl ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    fn expand_str(kind: &str, args: TokenStream, item: TokenStream) -> String {
        let mut item: ItemFn = syn::parse2(item).unwrap();
        let (p, e) = parse(kind, args, &mut item, "shop");
        e.finish().unwrap();
        let out = expand(&item, &p);
        syn::parse2::<ItemFn>(out.clone()).expect("a function");
        out.to_string()
    }

    #[test]
    fn async_functions_instrument_their_future() {
        let out = expand_str(
            "span",
            quote!(fields = [tier, n, order]),
            quote!(
                async fn checkout(tier: &str, n: u32, order: Order) -> Result<u32, E> {
                    Ok(n)
                }
            ),
        );
        assert!(
            out.contains("Instrument :: instrument (async move"),
            "{out}"
        );
        assert!(!out.contains(". enter ()"), "no guard across awaits: {out}");
        assert!(
            out.contains("tier = :: core :: convert :: AsRef :: < str > :: as_ref (& tier)"),
            "{out}"
        );
        assert!(
            out.contains("n = :: core :: primitive :: i64 :: from (n)"),
            "{out}"
        );
        assert!(out.contains("order = :: cell_runtime :: __private :: telemetry :: tracing :: field :: debug (& order)"), "{out}");
        assert!(out.contains(": Result < u32 , E > = {"), "{out}");
    }

    #[test]
    fn sync_functions_enter_the_span() {
        let out = expand_str(
            "span",
            quote!(name = "pay"),
            quote!(
                fn pay() -> u32 {
                    1
                }
            ),
        );
        assert!(out.contains(". enter ()"), "{out}");
        assert!(out.contains("\"pay\""), "{out}");
    }

    #[test]
    fn metrics_count_and_time_with_labels() {
        let out = expand_str(
            "metrics",
            quote!(
                counter = "checkouts_total",
                labels = [tier],
                histogram = "checkout_seconds"
            ),
            quote!(
                fn pay(tier: &str) {}
            ),
        );
        assert!(out.contains("counter ! (\"checkouts_total\" , \"tier\" => :: std :: clone :: Clone :: clone (& __cell_label_0)) . increment (1)"), "{out}");
        assert!(out.contains("Timer :: start (:: cell_runtime :: __private :: telemetry :: metrics :: histogram ! (\"checkout_seconds\" , \"tier\" => __cell_label_0))"), "{out}");
        assert!(!out.contains("span !"), "{out}");
    }

    #[test]
    fn sampled_spans() {
        let out = expand_str(
            "traces",
            quote!(sampled = "0.25"),
            quote!(
                fn f() {}
            ),
        );
        assert!(out.contains("sample (0.25f64)"), "{out}");
        assert!(out.contains("Span :: none ()"), "{out}");
    }

    #[test]
    fn unchanged_is_the_function_without_the_attributes() {
        let mut item: ItemFn = syn::parse2(quote!(
            #[Telemetry::traces(sampled = "1")]
            #[inline]
            fn f() -> u8 {
                1
            }
        ))
        .unwrap();
        crate::parse::strip(&mut item);
        assert_eq!(
            unchanged(&item).to_string(),
            quote!(
                #[inline]
                fn f() -> u8 {
                    1
                }
            )
            .to_string()
        );
    }
}
