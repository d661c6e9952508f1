//! What every Cell's macros share, written once: the error collector, `compile_error!`, the
//! choice of phase (record, expand against the lock, or disabled), the workspace root seen
//! from inside rustc, and the lock read once per rustc process.
//!
//! Nothing here touches the network or panics on bad input: rust-analyzer runs the same
//! code in its own process.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;

use crate::lockfile::{LockError, LockFile};

/// Collects errors instead of stopping at the first (as serde_derive's `Ctxt`), so one pass
/// over the attributes reports every mistake. [`Errors::finish`] must be called: dropping
/// a collector that holds errors is a bug in the macro, caught in debug builds.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    /// An error at `span`.
    pub fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// An error at `span` whose text carries `help` (see [`error`]).
    pub fn error(&mut self, span: Span, message: &str, help: &str) {
        self.push(error(span, message, help));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Every error, combined into one.
    pub fn finish(mut self) -> Result<(), syn::Error> {
        self.0.take().map_or(Ok(()), Err)
    }
}

impl Drop for Errors {
    fn drop(&mut self) {
        if self.0.is_some() && !std::thread::panicking() {
            debug_assert!(false, "cell_core::macros::Errors dropped without finish()");
        }
    }
}

/// An error whose text carries its help on a second line, as rustc shows `help:` notes.
pub fn error(span: Span, message: &str, help: &str) -> syn::Error {
    if help.is_empty() {
        syn::Error::new(span, message)
    } else {
        syn::Error::new(span, format!("{message}\n\nhelp: {help}"))
    }
}

/// As [`error`], over the whole of `tokens` (first to last token, also on stable rustc).
pub fn error_spanned(tokens: impl quote::ToTokens, message: &str, help: &str) -> syn::Error {
    if help.is_empty() {
        syn::Error::new_spanned(tokens, message)
    } else {
        syn::Error::new_spanned(tokens, format!("{message}\n\nhelp: {help}"))
    }
}

/// `unknown key `x` in #[Attr]`, at the key, with `help` naming the keys the attribute takes.
pub fn unknown_key(key: &syn::Path, attribute: &str, help: &str) -> syn::Error {
    let text = quote::ToTokens::to_token_stream(key)
        .to_string()
        .replace(" :: ", "::");
    error_spanned(
        key,
        &format!("unknown key `{text}` in #[{attribute}]"),
        help,
    )
}

/// `compile_error!{ message }` at `span`.
pub fn compile_error(span: Span, message: &str) -> TokenStream {
    quote_spanned!(span=> ::core::compile_error!{ #message })
}

/// The error for `#[<attribute>]` used where cell-runtime's `feature` is off: at the whole
/// attribute, naming the line that turns the feature on.
pub fn feature_off(attribute: &str, feature: &str) -> TokenStream {
    compile_error(
        Span::call_site(),
        &format!(
            "#[{attribute}] needs the `{feature}` feature of cell-runtime\n\nhelp: turn it on where the crate depends on cell-runtime: `cell-runtime = {{ ..., features = [\"{feature}\"] }}`"
        ),
    )
}

pub use crate::DISABLED_ENV;

/// Whether `cell` is disabled: its attributes expand from the declaration alone.
pub fn disabled(cell: &str) -> bool {
    std::env::var(DISABLED_ENV)
        .is_ok_and(|v| v.split(',').any(|c| c.trim().eq_ignore_ascii_case(cell)))
}

/// Makes rustc track [`DISABLED_ENV`] for the crate this is emitted into, so changing it
/// recompiles the crate (a macro's own `std::env::var` is not tracked).
pub fn track_disabled() -> TokenStream {
    quote::quote! {
        const _: ::core::option::Option<&str> = ::core::option_env!("CELL_DISABLED");
    }
}

/// The workspace root: the nearest ancestor of `CARGO_MANIFEST_DIR` whose Cargo.toml has a
/// `[workspace]` table, else the crate's own folder (the root `cargo metadata` gives
/// cargo-cell, which writes the locks there).
pub fn workspace_root() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    for candidate in dir.ancestors() {
        let manifest = candidate.join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest)
            && text.lines().any(|l| l.trim() == "[workspace]")
        {
            return Some(candidate.to_path_buf());
        }
    }
    Some(dir)
}

/// The path of a lock file of this workspace (it may not exist).
pub fn lock_path(file: &str) -> Option<PathBuf> {
    workspace_root().map(|root| root.join(".cell").join(file))
}

/// How a Cell's attribute expands in this compilation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// `cargo cell build`'s record step: record the declaration, expand from it alone.
    Record,
    /// `--without <cell>`: expand from the declaration alone, never read the lock.
    Disabled,
    /// Everywhere else: check against the lock at this path (which may not exist yet).
    Expand(Option<PathBuf>),
}

impl Phase {
    /// The phase for `cell`'s attributes, whose lock is `.cell/<lock_file>`; `recording`
    /// says whether this is the record step.
    pub fn of(cell: &str, lock_file: &str, recording: bool) -> Phase {
        if recording {
            Phase::Record
        } else if disabled(cell) {
            Phase::Disabled
        } else {
            Phase::Expand(lock_path(lock_file))
        }
    }
}

type Cached = (Option<SystemTime>, Arc<dyn Any + Send + Sync>);
static CACHE: Mutex<Option<HashMap<(TypeId, PathBuf), Cached>>> = Mutex::new(None);

/// The lock at `path`: `Ok(None)` when there is none. Read once per rustc process and file
/// version (path and modification time), so a long-lived rust-analyzer sees new locks. A
/// lock of a newer format is `Err(LockError::TooNew)`: the lock is fine, the tool is old.
pub fn read_lock<L: LockFile + Send + Sync + 'static>(
    path: &Path,
) -> Result<Option<Arc<L>>, LockError> {
    let mtime = match std::fs::metadata(path) {
        Ok(m) => m.modified().ok(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(LockError::Read {
                path: path.display().to_string(),
                source,
            });
        }
    };
    let key = (TypeId::of::<L>(), path.to_path_buf());
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    let cache = cache.get_or_insert_with(HashMap::new);
    if let Some((seen, lock)) = cache.get(&key)
        && *seen == mtime
        && mtime.is_some()
        && let Ok(lock) = lock.clone().downcast::<L>()
    {
        return Ok(Some(lock));
    }
    let Some(lock) = L::read(path)? else {
        return Ok(None);
    };
    let lock = Arc::new(lock);
    cache.insert(key, (mtime, lock.clone()));
    Ok(Some(lock))
}

/// The message of a compile error for a lock that cannot be used.
pub fn lock_error_message(e: &LockError) -> String {
    match e {
        LockError::TooNew { .. } => format!(
            "{e}\n\nhelp: update cargo-cell and cell-runtime to the version that wrote this lock; do not rewrite the lock with this one"
        ),
        _ => format!(
            "{e}\n\nhelp: regenerate it with `cargo cell build`, or restore it from version control"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_combined_in_order() {
        let mut errors = Errors::default();
        assert!(errors.is_empty());
        errors.at(Span::call_site(), "first");
        errors.at(Span::call_site(), "second");
        let all = errors.finish().unwrap_err();
        let messages: Vec<String> = all.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages, ["first", "second"]);
        assert!(Errors::default().finish().is_ok());
    }

    #[test]
    #[should_panic(expected = "without finish")]
    #[cfg(debug_assertions)]
    fn dropping_unfinished_errors_is_a_bug() {
        let mut errors = Errors::default();
        errors.at(Span::call_site(), "lost");
    }

    #[test]
    fn a_too_new_lock_is_told_apart_by_its_type() {
        let too_new = LockError::TooNew {
            path: "x".into(),
            found: 9,
            supported: 1,
        };
        assert!(lock_error_message(&too_new).contains("update cargo-cell"));
        let bad = LockError::Inconsistent {
            path: "x".into(),
            why: "mentions lock format version in passing".into(),
        };
        assert!(lock_error_message(&bad).contains("cargo cell build"));
    }

    #[test]
    fn the_phase_follows_recording_and_disabled() {
        assert_eq!(
            Phase::of("postgres", "postgres.lock.json", true),
            Phase::Record
        );
    }
}

/// A compile-time refusal when `ty` (the type of the argument `name`) holds personal data
/// marked `#[Security::pii]`: a `const` that panics with `message`, spanned at `name`, so the
/// error points at the place that would record the data (a span field, a metric label, an
/// audit's clear-text arguments).
///
/// `<T>::__CELL_PII` is the inherent constant `#[Security::pii]` generates, else the blanket
/// trait's empty default. References are looked through (`&User` is checked as `User`);
/// a type naming the function's generics, `Self` or `impl Trait` cannot appear in a `const`
/// and is not checked (nothing is emitted).
pub fn refuse_pii(
    ty: &syn::Type,
    generics: &syn::Generics,
    name: &syn::Ident,
    message: &str,
) -> TokenStream {
    let mut ty = ty;
    while let syn::Type::Reference(r) = ty {
        ty = &r.elem;
    }
    if !checkable(ty, generics) {
        return TokenStream::new();
    }
    let span = name.span();
    quote_spanned! {span=>
        const _: () = {
            #[allow(unused_imports)]
            use ::cell_runtime::__private::security::PiiFields as _;
            if !<#ty>::__CELL_PII.is_empty() {
                ::core::panic!(#message);
            }
        };
    }
}

/// The statement that records a read of `rows` (an iterator of `&Self`, from a table's read
/// method, through `executor`) when `Self` is protected health information (`#[Security::hipaa]`), before the
/// rows are returned. `<Self>::__CELL_PHI` is then the struct's inherent const, else the
/// blanket trait's `None`, and the branch is compiled out: other tables pay nothing.
pub fn audited_read(table: &str, rows: TokenStream, executor: &syn::Ident) -> TokenStream {
    let p = quote::quote!(::cell_runtime::__private);
    quote::quote! {
        if let ::core::option::Option::Some(__cell_phi) = {
            use #p::security::PhiReads as _;
            <Self>::__CELL_PHI
        } {
            #p::security::phi_read::<Self>(__cell_phi, #table, #rows, #executor).await?;
        }
    }
}

/// Whether `ty` can be named in a `const` inside the function: no generic parameter of the
/// function, no `Self`, no `impl Trait`, no inferred `_`.
fn checkable(ty: &syn::Type, generics: &syn::Generics) -> bool {
    use quote::ToTokens as _;
    let params: Vec<String> = generics
        .type_params()
        .map(|p| p.ident.to_string())
        .chain(generics.const_params().map(|p| p.ident.to_string()))
        .collect();
    let mut ok = !matches!(ty, syn::Type::ImplTrait(_) | syn::Type::Infer(_));
    fn walk(tokens: TokenStream, params: &[String], ok: &mut bool) {
        for t in tokens {
            match t {
                proc_macro2::TokenTree::Ident(i) => {
                    let s = i.to_string();
                    if s == "Self" || s == "impl" || s == "_" || params.contains(&s) {
                        *ok = false;
                    }
                }
                proc_macro2::TokenTree::Group(g) => walk(g.stream(), params, ok),
                proc_macro2::TokenTree::Punct(p) if p.as_char() == '_' => *ok = false,
                _ => {}
            }
        }
    }
    walk(ty.to_token_stream(), &params, &mut ok);
    ok
}

#[cfg(test)]
mod pii_tests {
    use super::*;

    fn check(ty: &str, generics: &str) -> String {
        let ty: syn::Type = syn::parse_str(ty).unwrap();
        let item: syn::ItemFn = syn::parse_str(&format!("fn f{generics}() {{}}")).unwrap();
        let name = syn::Ident::new("user", Span::call_site());
        refuse_pii(&ty, &item.sig.generics, &name, "no").to_string()
    }

    #[test]
    fn concrete_types_are_checked_through_references() {
        let out = check("&&User", "");
        assert!(out.contains("< User > :: __CELL_PII"), "{out}");
        assert!(check("Vec<T>", "<T>").is_empty());
        assert!(check("Self", "").is_empty());
        assert!(check("impl Display", "").is_empty());
        assert!(check("Vec<_>", "").is_empty());
        assert!(!check("Vec<User>", "<T>").is_empty());
    }
}
