//! Which external Cells a workspace uses, found before the command line is parsed (their
//! names are values of `--without` and `up CELL`):
//!
//! - each `[workspace.metadata.cell.cells.<name>]` of the workspace's `Cargo.toml`: its
//!   `command` (a string, or a list of program and arguments; a relative path is the
//!   workspace root's), else `cell-<name>` on `PATH`;
//! - each Cell no built-in owns that the last record step saw
//!   (`<target>/cell/record/<unit>/<macro crate>/<cell>.<kind>.<name>.json`), when
//!   `cell-<name>` is on `PATH`.
//!
//! Nothing is started here: a plugin runs when a command first needs it.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// One external Cell and how to run its plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub name: String,
    pub command: Vec<String>,
}

/// The `Cargo.toml` a command works on: `--manifest-path` in `args`, else the nearest one
/// above `cwd`; then the workspace's (the first one above it with `[workspace]`).
pub fn workspace_manifest(args: &[OsString], cwd: &Path) -> Option<PathBuf> {
    let mut given = None;
    for (i, a) in args.iter().enumerate() {
        let a = a.to_string_lossy();
        if a == "--manifest-path" {
            given = args.get(i + 1).map(PathBuf::from);
        } else if let Some(v) = a.strip_prefix("--manifest-path=") {
            given = Some(PathBuf::from(v));
        }
    }
    let start = match given {
        Some(p) => cwd.join(p).parent()?.to_path_buf(),
        None => cwd.to_path_buf(),
    };
    let mut nearest = None;
    for dir in start.ancestors() {
        let candidate = dir.join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&candidate) else {
            continue;
        };
        if nearest.is_none() {
            nearest = Some(candidate.clone());
        }
        if text
            .parse::<toml::Table>()
            .is_ok_and(|t| t.contains_key("workspace"))
        {
            return Some(candidate);
        }
    }
    nearest
}

/// `name` as an executable on `path` (a `PATH` value).
pub fn on_path(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The external Cells of the workspace whose `Cargo.toml` is `manifest`; `builtin` names
/// the Cells that need no plugin.
pub fn find(manifest: &Path, builtin: &[&str], path: Option<&OsStr>) -> Vec<Found> {
    let root = manifest.parent().unwrap_or(Path::new("."));
    let table = std::fs::read_to_string(manifest)
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .unwrap_or_default();
    let cells = table
        .get("workspace")
        .and_then(|w| w.get("metadata"))
        .and_then(|m| m.get("cell"))
        .and_then(|c| c.get("cells"))
        .and_then(|c| c.as_table())
        .cloned()
        .unwrap_or_default();
    let plugin = |name: &str| -> Vec<String> {
        let program = format!("cell-{name}");
        vec![on_path(&program, path).map_or(program, |p| p.display().to_string())]
    };
    let mut found: Vec<Found> = Vec::new();
    for (name, entry) in &cells {
        if builtin.contains(&name.as_str()) || !valid_name(name) {
            continue;
        }
        let mut command: Vec<String> = match entry.get("command") {
            Some(toml::Value::String(s)) => vec![s.clone()],
            Some(toml::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => plugin(name),
        };
        if command.is_empty() {
            command = plugin(name);
        }
        if command[0].contains('/') && Path::new(&command[0]).is_relative() {
            command[0] = root.join(&command[0]).display().to_string();
        }
        found.push(Found {
            name: name.clone(),
            command,
        });
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|t| root.join(t))
        .unwrap_or_else(|| root.join("target"));
    let crates = crate_names(root, &table);
    for name in recorded_cells(&target.join("cell").join("record"), &crates) {
        if builtin.contains(&name.as_str())
            || !valid_name(&name)
            || found.iter().any(|f| f.name == name)
        {
            continue;
        }
        if let Some(p) = on_path(&format!("cell-{name}"), path) {
            found.push(Found {
                name,
                command: vec![p.display().to_string()],
            });
        }
    }
    found
}

/// Whether `name` can name a Cell: it is part of labels, file and variable names, so
/// `[a-z0-9_-]`, starting with a letter.
pub fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// The crate names (`-` as `_`) of the workspace's packages: the root's and its members'
/// (a member `dir/*` is every folder of `dir`). A target directory may be shared by
/// several workspaces: only their units' fragments are this workspace's.
fn crate_names(root: &Path, table: &toml::Table) -> Vec<String> {
    let name_of = |t: &toml::Table| {
        t.get("package")
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
            .map(|n| n.replace('-', "_"))
    };
    let mut names: Vec<String> = name_of(table).into_iter().collect();
    let members = table
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .cloned()
        .unwrap_or_default();
    for member in members.iter().filter_map(|m| m.as_str()) {
        let dirs: Vec<PathBuf> = match member.strip_suffix("/*") {
            Some(parent) => std::fs::read_dir(root.join(parent))
                .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
                .unwrap_or_default(),
            None => vec![root.join(member)],
        };
        for dir in dirs {
            if let Some(name) = std::fs::read_to_string(dir.join("Cargo.toml"))
                .ok()
                .and_then(|t| t.parse::<toml::Table>().ok())
                .and_then(|t| name_of(&t))
            {
                names.push(name);
            }
        }
    }
    names
}

/// The Cells named by the fragments under `record` (`<unit>/<source>/<cell>.<kind>...`) of
/// the units of `crates` (a unit is `<crate name>-<hash>`).
fn recorded_cells(record: &Path, crates: &[String]) -> Vec<String> {
    let mut names = Vec::new();
    let dirs = |p: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(p)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    let ours = |unit: &Path| {
        unit.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.rsplit_once('-'))
            .is_some_and(|(name, _)| crates.iter().any(|c| c == name))
    };
    for unit in dirs(record).into_iter().filter(|u| ours(u)) {
        for source in dirs(&unit) {
            for file in dirs(&source) {
                let Some(n) = file.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if n.starts_with('.') || !n.ends_with(".json") {
                    continue;
                }
                if let Some(cell) = n.split('.').next()
                    && !cell.is_empty()
                    && !names.iter().any(|c| c == cell)
                {
                    names.push(cell.to_string());
                }
            }
        }
    }
    names.sort();
    names
}

/// The external Cells of the command line's workspace, ready for the registry.
pub fn cells(builtin: &[&str]) -> Vec<&'static crate::client::ExternalCell> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let Ok(cwd) = std::env::current_dir() else {
        return Vec::new();
    };
    let Some(manifest) = workspace_manifest(&args, &cwd) else {
        return Vec::new();
    };
    find(&manifest, builtin, std::env::var_os("PATH").as_deref())
        .into_iter()
        .map(|f| crate::client::ExternalCell::leaked(&f.name, f.command))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cells_named_in_metadata_and_recorded_ones_on_path() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(root.join("app")).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        for b in ["cell-mq", "cell-mail"] {
            std::fs::write(bin.join(b), "").unwrap();
        }
        std::fs::write(
            root.join("Cargo.toml"),
            r#"[workspace]
members = ["app"]
[workspace.metadata.cell.cells.mq]
[workspace.metadata.cell.cells.local]
command = ["tools/cell-local", "--quiet"]
[workspace.metadata.cell.cells.postgres]
command = "nope"
[workspace.metadata.cell.cells."Bad Name"]
"#,
        )
        .unwrap();
        std::fs::write(root.join("app/Cargo.toml"), "[package]\nname = \"app\"\n").unwrap();
        // Another workspace's unit in a shared target directory is not ours.
        let other = root.join("target/cell/record/other_app-9f9f/m");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("mq2.queue.q.json"), "{}").unwrap();
        std::fs::write(bin.join("cell-mq2"), "").unwrap();
        let frag = root.join("target/cell/record/app-1a2b/app-macros");
        std::fs::create_dir_all(&frag).unwrap();
        for f in [
            "mail.inbox.a.json",
            "postgres.table.t.json",
            "ghost.x.y.json",
            "_run",
        ] {
            std::fs::write(frag.join(f), "{}").unwrap();
        }

        let manifest = workspace_manifest(&[], &root.join("app")).unwrap();
        assert_eq!(manifest, root.join("Cargo.toml"));
        let args =
            ["cargo-cell", "cell", "--manifest-path", "ws/app/Cargo.toml"].map(OsString::from);
        assert_eq!(
            workspace_manifest(&args, dir.path()).unwrap(),
            root.join("Cargo.toml")
        );

        let path = std::env::join_paths([&bin]).unwrap();
        let found = find(&manifest, &["postgres"], Some(&path));
        assert_eq!(
            found,
            [
                Found {
                    name: "local".into(),
                    command: vec![
                        root.join("tools/cell-local").display().to_string(),
                        "--quiet".into()
                    ]
                },
                Found {
                    name: "mq".into(),
                    command: vec![bin.join("cell-mq").display().to_string()]
                },
                Found {
                    name: "mail".into(),
                    command: vec![bin.join("cell-mail").display().to_string()]
                },
            ]
        );
        assert!(valid_name("rabbit-mq_2") && !valid_name("Bad Name") && !valid_name("9x"));
        // Not on PATH: named, so its error says how to install it.
        assert_eq!(find(&manifest, &["postgres"], None)[1].command, ["cell-mq"]);
    }
}
