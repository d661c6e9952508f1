//! The RabbitMQ Cell's attributes, recording through `cell_external::macros::declare`:
//!
//! ```ignore
//! use cell_rabbitmq_macros as RabbitMq;
//!
//! #[RabbitMq::exchange(name = "events", kind = "topic")]
//! #[RabbitMq::queue(name = "orders", bind = "events", routing_key = "order.*")]
//! pub struct Orders;
//! ```
//!
//! Each leaves its item unchanged. Every mistake in the arguments is reported at once, as
//! spanned `compile_error!`s after the unchanged item.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;
use syn::LitStr;
use syn::parse::Parser;

use cell_rabbitmq::{
    Binding, CELL_NAME, EXCHANGE, EXCHANGE_KINDS, Exchange, QUEUE, Queue, valid_name,
};

/// A queue: `name` (required), `durable` (default `true`), `bind = "<exchange>"` with
/// `routing_key` (default `""`).
#[proc_macro_attribute]
pub fn queue(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = TokenStream2::from(item);
    match parse_queue(args.into()) {
        Ok((q, span)) => with(
            item,
            cell_external::macros::declare(
                env!("CARGO_PKG_NAME"),
                CELL_NAME,
                QUEUE,
                &q.name,
                &q,
                span,
            ),
        ),
        Err(e) => with(item, e.to_compile_error()),
    }
}

/// An exchange: `name` (required), `kind` (`direct`, the default, `fanout`, `topic`,
/// `headers`), `durable` (default `true`).
#[proc_macro_attribute]
pub fn exchange(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = TokenStream2::from(item);
    match parse_exchange(args.into()) {
        Ok((x, span)) => with(
            item,
            cell_external::macros::declare(
                env!("CARGO_PKG_NAME"),
                CELL_NAME,
                EXCHANGE,
                &x.name,
                &x,
                span,
            ),
        ),
        Err(e) => with(item, e.to_compile_error()),
    }
}

fn with(item: TokenStream2, extra: TokenStream2) -> TokenStream {
    quote!(#item #extra).into()
}

/// Collects every error, then combines them.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }
    fn finish(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

fn name_of(lit: &LitStr, errors: &mut Errors, what: &str) -> String {
    let name = lit.value();
    if !valid_name(&name) {
        errors.push(syn::Error::new(
            lit.span(),
            format!("`{name}` is not a {what} name this Cell accepts: use [A-Za-z0-9_.:-], not starting with `amq.`"),
        ));
    }
    name
}

fn parse_queue(args: TokenStream2) -> Result<(Queue, Span), syn::Error> {
    let mut errors = Errors::default();
    let (mut name, mut durable, mut bind, mut key) = (None, true, None, None);
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            let lit: LitStr = meta.value()?.parse()?;
            name = Some((name_of(&lit, &mut errors, "queue"), lit.span()));
        } else if meta.path.is_ident("durable") {
            durable = meta.value()?.parse::<syn::LitBool>()?.value;
        } else if meta.path.is_ident("bind") {
            let lit: LitStr = meta.value()?.parse()?;
            bind = Some(name_of(&lit, &mut errors, "exchange"));
        } else if meta.path.is_ident("routing_key") {
            key = Some(meta.value()?.parse::<LitStr>()?.value());
        } else {
            errors.push(meta.error("unknown argument of #[RabbitMq::queue]: expected `name`, `durable`, `bind` or `routing_key`"));
            if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<syn::Expr>()?;
            }
        }
        Ok(())
    });
    if let Err(e) = parser.parse2(args) {
        errors.push(e);
    }
    if key.is_some() && bind.is_none() {
        errors.push(syn::Error::new(
            Span::call_site(),
            "`routing_key` needs `bind = \"<exchange>\"`",
        ));
    }
    let Some((name, span)) = name else {
        errors.push(syn::Error::new(
            Span::call_site(),
            "#[RabbitMq::queue] needs `name = \"...\"`",
        ));
        errors.finish()?;
        unreachable!("an error was pushed");
    };
    errors.finish()?;
    let bind = bind.map(|exchange| Binding {
        exchange,
        routing_key: key.unwrap_or_default(),
    });
    Ok((
        Queue {
            name,
            durable,
            bind,
        },
        span,
    ))
}

fn parse_exchange(args: TokenStream2) -> Result<(Exchange, Span), syn::Error> {
    let mut errors = Errors::default();
    let (mut name, mut kind, mut durable) = (None, "direct".to_string(), true);
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            let lit: LitStr = meta.value()?.parse()?;
            name = Some((name_of(&lit, &mut errors, "exchange"), lit.span()));
        } else if meta.path.is_ident("kind") {
            let lit: LitStr = meta.value()?.parse()?;
            if !EXCHANGE_KINDS.contains(&lit.value().as_str()) {
                errors.push(syn::Error::new(
                    lit.span(),
                    format!(
                        "`{}` is not an exchange kind: expected one of {EXCHANGE_KINDS:?}",
                        lit.value()
                    ),
                ));
            }
            kind = lit.value();
        } else if meta.path.is_ident("durable") {
            durable = meta.value()?.parse::<syn::LitBool>()?.value;
        } else {
            errors.push(meta.error(
                "unknown argument of #[RabbitMq::exchange]: expected `name`, `kind` or `durable`",
            ));
            if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<syn::Expr>()?;
            }
        }
        Ok(())
    });
    if let Err(e) = parser.parse2(args) {
        errors.push(e);
    }
    let Some((name, span)) = name else {
        errors.push(syn::Error::new(
            Span::call_site(),
            "#[RabbitMq::exchange] needs `name = \"...\"`",
        ));
        errors.finish()?;
        unreachable!("an error was pushed");
    };
    errors.finish()?;
    Ok((
        Exchange {
            name,
            kind,
            durable,
        },
        span,
    ))
}
