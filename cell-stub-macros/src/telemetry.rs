//! `#[Telemetry::span]`, `#[Telemetry::metrics]`, `#[Telemetry::traces]`: the first of them
//! on a function reads the others; record in phase 1; expand (or, when telemetry is off,
//! emit the function unchanged).

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ItemFn;

use cell_telemetry::CELL_NAME;
use cell_telemetry::expand::{expand as expand_fn, unchanged};
use cell_telemetry::parse::{parse, strip};

use crate::record;

pub fn expand(kind: &str, args: TokenStream, input: TokenStream) -> TokenStream {
    let mut item: ItemFn = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(_) => {
            let err = syn::Error::new(
                Span::call_site(),
                format!("#[Telemetry::{kind}] goes on a function\n\nhelp: put it on a `fn` or `async fn`"),
            )
            .to_compile_error();
            return quote!(#err #input);
        }
    };
    let (parsed, errors) = parse(kind, args, &mut item, &module_path());
    if let Err(e) = errors.finish() {
        // The function itself is fine: keep it, so this is the only error.
        let err = e.to_compile_error();
        return quote!(#item #err);
    }
    if disabled() {
        strip(&mut item);
        return unchanged(&item);
    }
    if record::is_recording() {
        let value = serde_json::to_value(&parsed.decl).expect("declarations serialise");
        if let Err(e) = record::record(CELL_NAME, "fn", &parsed.decl.record_name(), &value) {
            let err = syn::Error::new(
                Span::call_site(),
                format!("cargo-cell could not record this function: {e}"),
            )
            .to_compile_error();
            return quote!(#item #err);
        }
    }
    expand_fn(&item, &parsed)
}

/// Telemetry is off when this crate is built with its `telemetry-off` feature (which
/// `cell-runtime/telemetry-off` turns on) or the workspace's `Cargo.toml` says
/// `[workspace.metadata.cell] disabled = ["telemetry"]`, or `cargo cell build --without
/// telemetry` sets `CELL_DISABLED`. (A function item cannot carry the tracking const the
/// Postgres expansion uses, since methods are expanded here too: after switching
/// `--without telemetry` on or off, `cargo clean -p <crate>` recompiles what used it.)
///
/// Checked before the record step (a disabled Telemetry Cell records nothing), so this is
/// not `cell_core::macros::Phase::of`, which puts recording first; no expansion reads the
/// Telemetry lock.
pub fn disabled() -> bool {
    if cfg!(feature = "telemetry-off") || cell_core::macros::disabled(CELL_NAME) {
        return true;
    }
    let Some(root) = cell_core::macros::workspace_root() else {
        return false;
    };
    let Ok(text) = std::fs::read_to_string(root.join("Cargo.toml")) else {
        return false;
    };
    disabled_in(&text)
}

fn disabled_in(cargo_toml: &str) -> bool {
    let Ok(doc) = cargo_toml.parse::<toml::Table>() else {
        return false;
    };
    doc.get("workspace")
        .and_then(|w| w.get("metadata"))
        .and_then(|m| m.get("cell"))
        .and_then(|c| c.get("disabled"))
        .and_then(|d| d.as_array())
        .is_some_and(|list| list.iter().any(|v| v.as_str() == Some(CELL_NAME)))
}

/// `shop::orders` for `src/orders.rs` of crate `shop`: the crate and the modules its file
/// path names (inline `mod` blocks are not seen).
fn module_path() -> String {
    let krate = std::env::var("CARGO_CRATE_NAME").unwrap_or_default();
    let file = proc_macro::Span::call_site().local_file();
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").map(std::path::PathBuf::from);
    let rel = match (file, dir) {
        (Some(f), Some(d)) => f.strip_prefix(&d).map(|p| p.to_path_buf()).unwrap_or(f),
        (Some(f), None) => f,
        _ => return krate,
    };
    module_path_from(&krate, &rel)
}

fn module_path_from(krate: &str, rel: &std::path::Path) -> String {
    let parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let mut parts: &[String] = &parts;
    if parts.first().map(String::as_str) != Some("src") {
        return krate.to_string();
    }
    parts = &parts[1..];
    if parts.first().map(String::as_str) == Some("bin") && !parts.is_empty() {
        // src/bin/x.rs is the root of binary `x`.
        parts = &parts[parts.len().min(2)..];
    }
    let mut out = vec![krate.to_string()];
    for p in parts {
        if !matches!(p.as_str(), "lib" | "main" | "mod") {
            out.push(p.clone());
        }
    }
    out.join("::")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn module_paths() {
        assert_eq!(module_path_from("shop", Path::new("src/lib.rs")), "shop");
        assert_eq!(
            module_path_from("shop", Path::new("src/orders.rs")),
            "shop::orders"
        );
        assert_eq!(
            module_path_from("shop", Path::new("src/a/mod.rs")),
            "shop::a"
        );
        assert_eq!(
            module_path_from("tool", Path::new("src/bin/tool.rs")),
            "tool"
        );
        assert_eq!(module_path_from("it", Path::new("tests/it.rs")), "it");
    }

    #[test]
    fn disabled_by_workspace_metadata() {
        assert!(disabled_in(
            "[workspace]\n[workspace.metadata.cell]\ndisabled = [\"telemetry\"]\n"
        ));
        assert!(!disabled_in(
            "[workspace]\n[workspace.metadata.cell]\ndisabled = [\"redis\"]\n"
        ));
        assert!(!disabled_in("[workspace]\n"));
    }
}
