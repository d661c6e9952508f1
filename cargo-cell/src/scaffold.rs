//! `cargo cell new NAME [--template minimal|api]`: a new project from `templates/`.
//!
//! The templates are compiled into the binary. Files ending in `.tmpl` have `{{name}}` and
//! `{{cell_runtime}}` replaced and lose the suffix (`gitignore.tmpl` becomes `.gitignore`).
//!
//! cell-runtime is not on crates.io: the generated Cargo.toml points at a checkout by path.
//! By default that is the checkout this cargo-cell was built from (its compile-time
//! `CARGO_MANIFEST_DIR`); `--runtime-path` or `CELL_RUNTIME_PATH` override it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::{NewArgs, Template};
use crate::error::Error;
use cell_core::ui::Ui;

macro_rules! files {
    ($dir:literal: $($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../templates/", $dir, "/", $path)))),*]
    };
}

impl Template {
    /// (path in the template, contents).
    pub fn files(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Template::Minimal => {
                files!("minimal": "Cargo.toml.tmpl", "README.md.tmpl", "gitignore.tmpl", "src/main.rs")
            }
            Template::Api => files!("api": "Cargo.toml.tmpl", "README.md.tmpl", "gitignore.tmpl",
                "src/main.rs", "src/cells.rs", "src/model.rs", "src/notes.rs", "src/routes.rs"),
        }
    }
}

/// The cell-runtime this cargo-cell was built with.
pub fn default_runtime_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(|p| p.join("cell-runtime"))
        .unwrap_or_else(|| PathBuf::from("cell-runtime"))
}

/// Whether `name` is a valid cargo package name.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !matches!(
            name,
            "test" | "core" | "std" | "alloc" | "proc_macro" | "self" | "crate"
        )
}

/// One file of the new project: (relative path, contents).
pub fn render(template: Template, name: &str, runtime: &Path) -> Vec<(PathBuf, String)> {
    // TOML basic strings: escape backslashes and quotes (Windows paths).
    let runtime = runtime
        .display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    template
        .files()
        .iter()
        .map(|(path, text)| match path.strip_suffix(".tmpl") {
            Some(stem) => {
                let stem = if stem == "gitignore" {
                    ".gitignore"
                } else {
                    stem
                };
                (
                    PathBuf::from(stem),
                    text.replace("{{name}}", name)
                        .replace("{{cell_runtime}}", &runtime),
                )
            }
            None => (PathBuf::from(path), text.to_string()),
        })
        .collect()
}

pub fn new(args: NewArgs, ui: &Ui) -> Result<ExitCode, Error> {
    let dir = &args.path;
    let name = match &args.name {
        Some(n) => n.clone(),
        None => dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    if !valid_name(&name) {
        return Err(Error::InvalidName { name });
    }
    if dir.exists() {
        return Err(Error::ProjectExists { path: dir.clone() });
    }
    let runtime = args
        .runtime_path
        .clone()
        .unwrap_or_else(default_runtime_path);
    let runtime = std::path::absolute(&runtime).unwrap_or(runtime);
    if !runtime.join("Cargo.toml").is_file() {
        return Err(Error::RuntimeNotFound { path: runtime });
    }
    let runtime = runtime.canonicalize().unwrap_or(runtime);
    for (rel, text) in render(args.template, &name, &runtime) {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| cell_core::CoreError::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(&path, text)
            .map_err(|source| cell_core::CoreError::Write { path, source })?;
    }
    ui.info(&format!(
        "created `{name}` ({} template) in {}\nnext: cd {} && cargo cell build && cargo cell test",
        match args.template {
            Template::Minimal => "minimal",
            Template::Api => "api",
        },
        dir.display(),
        dir.display()
    ));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["demo", "my-app", "a_b2"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "1app", "-x", "a b", "test", "é"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn every_template_renders_a_manifest_with_the_name_and_runtime() {
        for t in [Template::Minimal, Template::Api] {
            let files = render(t, "demo", Path::new("/x/cell-runtime"));
            let paths: Vec<_> = files.iter().map(|(p, _)| p.display().to_string()).collect();
            assert!(paths.contains(&"Cargo.toml".to_string()), "{paths:?}");
            assert!(paths.contains(&".gitignore".to_string()), "{paths:?}");
            assert!(paths.contains(&"src/main.rs".to_string()), "{paths:?}");
            let manifest = &files
                .iter()
                .find(|(p, _)| p == Path::new("Cargo.toml"))
                .unwrap()
                .1;
            let parsed: toml::Value = toml::from_str(manifest).expect("valid TOML");
            assert_eq!(parsed["package"]["name"].as_str(), Some("demo"));
            assert_eq!(
                parsed["dependencies"]["cell-runtime"]["path"].as_str(),
                Some("/x/cell-runtime")
            );
            assert!(parsed.get("workspace").is_some(), "a workspace of its own");
            for (p, text) in &files {
                assert!(!text.contains("{{"), "{} keeps a placeholder", p.display());
            }
        }
    }

    #[test]
    fn windows_paths_are_escaped_in_toml() {
        let files = render(
            Template::Minimal,
            "demo",
            Path::new("C:\\src\\cell-runtime"),
        );
        let manifest = &files
            .iter()
            .find(|(p, _)| p == Path::new("Cargo.toml"))
            .unwrap()
            .1;
        let parsed: toml::Value = toml::from_str(manifest).unwrap();
        assert_eq!(
            parsed["dependencies"]["cell-runtime"]["path"].as_str(),
            Some("C:\\src\\cell-runtime")
        );
    }

    #[test]
    fn the_default_runtime_is_this_checkout() {
        assert!(default_runtime_path().join("Cargo.toml").is_file());
    }
}
