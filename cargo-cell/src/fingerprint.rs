//! Skipping the record step when nothing it reads has changed.
//!
//! Recording is a pure function of its inputs: the source files of every path package
//! (workspace members and path dependencies such as the macros themselves), their
//! `Cargo.toml`s, `Cargo.lock`, cargo's configuration and toolchain, the feature flags, the
//! environment variables the code reads, and which targets exist. After a successful record
//! this module writes a stamp of all of them (next to the record target directory, so
//! `cargo clean` forgets it); the next record compares the stamp with the disk and, when
//! nothing differs, rebuilds the recording from the fragments already on disk without
//! running cargo at all.
//!
//! The file list is the one rustc itself wrote (the `.d` dep-info of every path unit), so a
//! file pulled in with `include!`, `include_str!` or a `#[path]` module is covered exactly as
//! cargo covers it. Files are compared by size and modification time, and by content when
//! those differ: a file touched without a change (`touch`, a `git checkout` back and forth)
//! keeps the stamp. Folders where cargo discovers targets (`src`, `src/bin`, `tests`, `examples`,
//! `benches`) are compared by modification time, and `build.rs` by presence, so a new target
//! is seen.
//!
//! Anything the stamp cannot describe makes the record run: a path package with a build
//! script (its output may depend on anything), a unit without dep-info, a stamp of another
//! cargo-cell or cargo, a manifest that does not rebuild to the recorded one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use cargo_metadata::Message;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cli::CargoArgs;
use crate::toolchain::cargo;
use crate::workspace::Workspace;

const STAMP_FILE: &str = "inputs.json";
const FORMAT: u32 = 1;

/// Environment variables cargo sets for rustc itself: they follow from the manifests, which
/// the stamp covers, and are not in our own environment.
const CARGO_SET_ENV: &[&str] = &[
    "CARGO_PKG_",
    "CARGO_MANIFEST_",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_BIN_EXE_",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
    "CARGO_CFG_",
    "OUT_DIR",
];

/// What one successful record read, and what it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    format: u32,
    /// Hash of the context: tool and toolchain, flags, environment, workspace members.
    context: String,
    files: BTreeMap<PathBuf, FileState>,
    /// Modification times of the folders where targets are discovered (`None`: absent).
    dirs: BTreeMap<PathBuf, Option<u128>>,
    /// Environment variables the code reads (`env!`, `option_env!`), as they were.
    env: BTreeMap<String, Option<String>>,
    /// The units cargo reported, for rebuilding the recording from their fragments.
    pub units: BTreeSet<String>,
    /// Hash of the manifest the record produced.
    pub manifest: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileState {
    /// `None`: the file did not exist.
    len: Option<u64>,
    mtime: Option<u128>,
    sha256: Option<String>,
}

impl FileState {
    fn read(path: &Path) -> FileState {
        let Ok(meta) = std::fs::metadata(path) else {
            return FileState {
                len: None,
                mtime: None,
                sha256: None,
            };
        };
        FileState {
            len: Some(meta.len()),
            mtime: mtime(&meta),
            sha256: std::fs::read(path)
                .ok()
                .map(|b| hex::encode(Sha256::digest(&b))),
        }
    }

    /// Whether `path` still has this content. `refreshed` is set when only its time changed.
    fn matches(&self, path: &Path, refreshed: &mut Option<FileState>) -> bool {
        let Ok(meta) = std::fs::metadata(path) else {
            return self.len.is_none();
        };
        if self.len != Some(meta.len()) {
            return false;
        }
        if self.mtime.is_some() && self.mtime == mtime(&meta) {
            return true;
        }
        // Same size, other time: compare the bytes.
        let now = FileState::read(path);
        if now.sha256.is_some() && now.sha256 == self.sha256 {
            *refreshed = Some(now);
            return true;
        }
        false
    }
}

fn mtime(meta: &std::fs::Metadata) -> Option<u128> {
    meta.modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_nanos())
}

fn dir_mtime(path: &Path) -> Option<u128> {
    std::fs::metadata(path).ok().and_then(|m| mtime(&m))
}

pub fn stamp_path(record_target: &Path) -> PathBuf {
    record_target.join(STAMP_FILE)
}

/// The stamp of the last successful record, if every input is as it was then.
///
/// When only modification times changed (same bytes), the stamp is rewritten with the new
/// times, so the next check is fast again.
pub fn unchanged(ws: &Workspace, args: &CargoArgs, record_target: &Path) -> Option<Stamp> {
    let path = stamp_path(record_target);
    let mut stamp: Stamp = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    if stamp.format != FORMAT || stamp.context != context(ws, args) {
        return None;
    }
    if stamp.dirs.iter().any(|(d, t)| dir_mtime(d) != *t) {
        return None;
    }
    if stamp.env.iter().any(|(k, v)| std::env::var(k).ok() != *v) {
        return None;
    }
    let mut refreshed = Vec::new();
    for (file, state) in &stamp.files {
        let mut now = None;
        if !state.matches(file, &mut now) {
            return None;
        }
        if let Some(now) = now {
            refreshed.push((file.clone(), now));
        }
    }
    if !refreshed.is_empty() {
        stamp.files.extend(refreshed);
        let _ = write(&path, &stamp);
    }
    Some(stamp)
}

/// Forget the stamp: called before a record runs, so a failed or interrupted record never
/// leaves a stamp that describes fragments it may have half rewritten.
pub fn forget(record_target: &Path) {
    let _ = std::fs::remove_file(stamp_path(record_target));
}

fn write(path: &Path, stamp: &Stamp) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(stamp).expect("stamp serialises");
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// What cargo's messages say about the path units of a record run.
#[derive(Debug, Default)]
pub struct Observed {
    /// Dep-info files of path units.
    dep_info: BTreeSet<PathBuf>,
    manifests: BTreeSet<PathBuf>,
    package_dirs: BTreeSet<PathBuf>,
    /// Set when the stamp could not describe the run (a build script, a missing dep-info).
    unstampable: Option<String>,
}

fn is_path_package(repr: &str) -> bool {
    repr.starts_with("path+")
}

impl Observed {
    pub fn observe(&mut self, message: &Message) {
        match message {
            Message::CompilerArtifact(a) if is_path_package(&a.package_id.repr) => {
                if a.target
                    .kind
                    .iter()
                    .any(|k| k.to_string() == "custom-build")
                {
                    self.unstampable = Some(format!("{} has a build script", a.target.name));
                    return;
                }
                let manifest: PathBuf = a.manifest_path.clone().into();
                if let Some(dir) = manifest.parent() {
                    self.package_dirs.insert(dir.to_path_buf());
                }
                self.manifests.insert(manifest);
                for f in &a.filenames {
                    match dep_info_of(f.as_std_path()) {
                        Some(d) => {
                            self.dep_info.insert(d);
                        }
                        None => self.unstampable = Some(format!("no dep-info for {f}")),
                    }
                }
            }
            Message::BuildScriptExecuted(b) if is_path_package(&b.package_id.repr) => {
                self.unstampable = Some(format!("{} runs a build script", b.package_id.repr));
            }
            _ => {}
        }
    }

    /// The stamp of a successful record whose messages were observed, or why there is none.
    pub fn stamp(
        self,
        ws: &Workspace,
        args: &CargoArgs,
        units: BTreeSet<String>,
        manifest: &[u8],
    ) -> Result<Stamp, String> {
        if let Some(why) = self.unstampable {
            return Err(why);
        }
        let mut files = BTreeSet::new();
        let mut env = BTreeMap::new();
        for d in &self.dep_info {
            let text = std::fs::read_to_string(d)
                .map_err(|e| format!("cannot read {}: {e}", d.display()))?;
            let parsed = parse_dep_info(&text);
            files.extend(parsed.files.into_iter().map(|f| ws.root.join(f)));
            for name in parsed.env {
                if !CARGO_SET_ENV.iter().any(|p| name.starts_with(p))
                    && !name.starts_with("CELL_RECORD")
                    && name != "CELL_RUN_ID"
                {
                    let value = std::env::var(&name).ok();
                    env.insert(name, value);
                }
            }
        }
        files.extend(self.manifests);
        files.insert(ws.root.join("Cargo.toml"));
        files.insert(ws.root.join("Cargo.lock"));
        for dir in ws.root.ancestors() {
            for f in [
                ".cargo/config.toml",
                ".cargo/config",
                "rust-toolchain.toml",
                "rust-toolchain",
            ] {
                files.insert(dir.join(f));
            }
        }
        if let Some(home) = cargo_home() {
            files.insert(home.join("config.toml"));
            files.insert(home.join("config"));
        }
        let mut dirs = BTreeMap::new();
        for p in &self.package_dirs {
            // Targets cargo discovers: a new `build.rs`, or a new file in these folders.
            // Not the package folder itself: `.cell/` and `target/` change it all the time.
            files.insert(p.join("build.rs"));
            for sub in ["src", "src/bin", "examples", "tests", "benches"] {
                let d = p.join(sub);
                dirs.insert(d.clone(), dir_mtime(&d));
            }
        }
        Ok(Stamp {
            format: FORMAT,
            context: context(ws, args),
            files: files
                .into_iter()
                .map(|f| {
                    let s = FileState::read(&f);
                    (f, s)
                })
                .collect(),
            dirs,
            env,
            units,
            manifest: manifest_hash(manifest),
        })
    }
}

pub fn save(record_target: &Path, stamp: &Stamp) -> std::io::Result<()> {
    write(&stamp_path(record_target), stamp)
}

pub fn manifest_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

/// `deps/libfoo-1234.rmeta` → `deps/foo-1234.d` (rustc names dep-info after the crate).
fn dep_info_of(artifact: &Path) -> Option<PathBuf> {
    let dir = artifact.parent()?;
    let stem = artifact.file_stem()?.to_str()?;
    [stem.strip_prefix("lib"), Some(stem)]
        .into_iter()
        .flatten()
        .map(|s| dir.join(format!("{s}.d")))
        .find(|p| p.is_file())
}

/// Everything outside the files that decides what a record produces.
fn context(ws: &Workspace, args: &CargoArgs) -> String {
    let mut h = Sha256::new();
    let mut add = |k: &str, v: &str| {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    };
    add("format", &FORMAT.to_string());
    // This cargo-cell, this cargo and its rustc.
    let exe = std::env::current_exe().ok();
    let cargo_path = which(&cargo());
    let rustc = cargo_path
        .as_ref()
        .and_then(|c| Some(c.parent()?.join("rustc")));
    for (k, p) in [("exe", exe), ("cargo", cargo_path), ("rustc", rustc)] {
        if let Some(p) = p {
            let meta = std::fs::metadata(&p).ok();
            add(
                k,
                &format!(
                    "{} {:?} {:?}",
                    p.display(),
                    meta.as_ref().map(|m| m.len()),
                    meta.as_ref().and_then(mtime)
                ),
            );
        }
    }
    add("features", &args.features.join(","));
    add("all-features", &args.all_features.to_string());
    add("no-default-features", &args.no_default_features.to_string());
    // cargo reads its configuration from CARGO_* and rustc flags from RUST*.
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            (k.starts_with("CARGO") || k.starts_with("RUST")) && k != "CARGO_MAKEFLAGS"
        })
        .collect();
    vars.sort();
    for (k, v) in vars {
        add(&k, &v);
    }
    let mut members: Vec<&String> = ws.member_ids.iter().collect();
    members.sort();
    for m in members {
        add("member", m);
    }
    add("root", &ws.root.display().to_string());
    hex::encode(h.finalize())
}

/// `cargo` as the shell would find it (`$CARGO` is normally absolute already).
fn which(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return Some(program.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

#[derive(Debug, Default, PartialEq)]
struct DepInfo {
    files: BTreeSet<PathBuf>,
    env: BTreeSet<String>,
}

/// The files and environment variables of a rustc `.d` file (Makefile syntax: `target: dep
/// dep`, spaces in paths escaped with a backslash; `# env-dep:NAME=value` comments).
fn parse_dep_info(text: &str) -> DepInfo {
    let mut out = DepInfo::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# env-dep:") {
            let name = rest.split_once('=').map_or(rest, |(n, _)| n);
            out.env.insert(name.to_string());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let Some((_, deps)) = split_target(line) else {
            continue;
        };
        let mut current = String::new();
        let mut chars = deps.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&' ') => {
                    current.push(' ');
                    chars.next();
                }
                ' ' => {
                    if !current.is_empty() {
                        out.files
                            .insert(PathBuf::from(std::mem::take(&mut current)));
                    }
                }
                c => current.push(c),
            }
        }
        if !current.is_empty() {
            out.files.insert(PathBuf::from(current));
        }
    }
    out
}

/// `target: deps` → (target, deps), the colon being the first one followed by a space or the
/// end of the line that is not escaped.
fn split_target(line: &str) -> Option<(&str, &str)> {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b':'
            && (i + 1 == bytes.len() || bytes[i + 1] == b' ')
            && (i == 0 || bytes[i - 1] != b'\\')
        {
            return Some((&line[..i], line[i + 1..].trim_start()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dep_info_files_and_env() {
        let text = "/t/deps/users-1.d: src/main.rs src/a\\ b.rs /abs/x.rs\n\n\
                    /t/deps/libusers-1.rmeta: src/main.rs src/a\\ b.rs /abs/x.rs\n\n\
                    src/main.rs:\nsrc/a\\ b.rs:\n/abs/x.rs:\n\n\
                    # env-dep:CARGO_PKG_NAME=users\n# env-dep:MY_FLAG\n# env-dep:A=b=c\n";
        let d = parse_dep_info(text);
        let files: Vec<&str> = d.files.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(files, ["/abs/x.rs", "src/a b.rs", "src/main.rs"]);
        let env: Vec<&str> = d.env.iter().map(String::as_str).collect();
        assert_eq!(env, ["A", "CARGO_PKG_NAME", "MY_FLAG"]);
    }

    #[test]
    fn dep_info_file_is_named_after_the_crate() {
        let tmp = tempfile::tempdir().unwrap();
        let deps = tmp.path();
        std::fs::write(deps.join("users-1.d"), "").unwrap();
        std::fs::write(deps.join("macros-2.d"), "").unwrap();
        assert_eq!(
            dep_info_of(&deps.join("libusers-1.rmeta")),
            Some(deps.join("users-1.d"))
        );
        assert_eq!(
            dep_info_of(&deps.join("libmacros-2.so")),
            Some(deps.join("macros-2.d"))
        );
        assert_eq!(dep_info_of(&deps.join("libnone-3.rmeta")), None);
    }

    #[test]
    fn file_state_sees_edits_and_ignores_touches() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("a.rs");
        std::fs::write(&f, "fn a() {}").unwrap();
        let state = FileState::read(&f);
        let mut refreshed = None;
        assert!(state.matches(&f, &mut refreshed));
        assert!(refreshed.is_none());

        // Same bytes, newer time: still the same input.
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert!(state.matches(&f, &mut refreshed));
        assert!(refreshed.is_some(), "the new time is kept");

        // Same size, other bytes.
        std::fs::write(&f, "fn b() {}").unwrap();
        assert!(!state.matches(&f, &mut None));
        // Gone, and absent before.
        std::fs::remove_file(&f).unwrap();
        assert!(!state.matches(&f, &mut None));
        assert!(FileState::read(&f).matches(&f, &mut None));
        std::fs::write(&f, "x").unwrap();
        assert!(!FileState::read(&tmp.path().join("none")).matches(&f, &mut None));
    }
}
