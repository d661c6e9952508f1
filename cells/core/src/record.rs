//! Phase 1: recording every Cell attribute of the compilation unit being built.
//!
//! cargo-cell compiles the workspace with `CELL_RECORD_DIR` and `CELL_RUN_ID` set. Fragments
//! are keyed by compilation unit (crate name plus cargo's `extra-filename` hash, from rustc's
//! own arguments), so cargo-cell can keep a fresh unit's fragments and replace a rebuilt
//! unit's; and within a unit by the macro crate that wrote them (`source`), since every
//! proc-macro crate is its own library in rustc with its own recorder: a Cell whose macros
//! live in another crate records beside the built-in ones without clearing them. The first
//! expansion of a unit by a source in this process clears that source's folder and writes a
//! `_run` marker naming the run; each fragment is written atomically (temp file, rename).
//! Without the variables or the hash (rust-analyzer, plain cargo) nothing is recorded.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;

pub const RECORD_DIR_ENV: &str = "CELL_RECORD_DIR";
pub const RUN_ID_ENV: &str = "CELL_RUN_ID";
pub const RUN_MARKER: &str = "_run";

struct Recorder {
    /// `<record dir>/<unit>/<source>`.
    unit_dir: PathBuf,
    /// File names written by this process, so two items of one name both survive.
    written: HashSet<String>,
}

static RECORDER: Mutex<Option<Recorder>> = Mutex::new(None);

/// Whether this compilation records (the stub expansion is used when it does).
pub fn is_recording() -> bool {
    std::env::var_os(RECORD_DIR_ENV).is_some() && unit_key().is_some()
}

/// `users-1a2b3c4d` from `--crate-name users ... -C extra-filename=-1a2b3c4d`.
fn unit_key() -> Option<String> {
    unit_key_from(std::env::args())
}

fn unit_key_from(args: impl Iterator<Item = String>) -> Option<String> {
    let args: Vec<String> = args.collect();
    let mut crate_name = None;
    let mut extra = None;
    for (i, a) in args.iter().enumerate() {
        if a == "--crate-name" {
            crate_name = args.get(i + 1).cloned();
        } else if let Some(v) = a.strip_prefix("--crate-name=") {
            crate_name = Some(v.to_string());
        } else if a == "-C" {
            if let Some(v) = args
                .get(i + 1)
                .and_then(|n| n.strip_prefix("extra-filename="))
            {
                extra = Some(v.to_string());
            }
        } else if let Some(v) = a.strip_prefix("-Cextra-filename=") {
            extra = Some(v.to_string());
        }
    }
    Some(format!("{}{}", crate_name?, extra?))
}

/// Records one item of `cell` from the macro crate `source` (its package name). Errors are
/// returned as text for a `compile_error!`: a recording that silently lost an item would
/// make the manifest wrong.
pub fn record(
    source: &str,
    cell: &str,
    kind: &str,
    name: &str,
    value: &serde_json::Value,
) -> Result<(), String> {
    let Some(root) = std::env::var_os(RECORD_DIR_ENV) else {
        return Ok(());
    };
    let Some(unit) = unit_key() else {
        return Ok(());
    };
    let mut guard = RECORDER.lock().unwrap_or_else(|p| p.into_inner());
    let recorder = match guard.as_mut() {
        Some(r) => r,
        None => {
            let unit_dir = PathBuf::from(root).join(&unit).join(source);
            start_unit(&unit_dir)
                .map_err(|e| format!("cannot prepare {}: {e}", unit_dir.display()))?;
            guard.insert(Recorder {
                unit_dir,
                written: HashSet::new(),
            })
        }
    };
    let mut file = format!("{cell}.{kind}.{name}.json");
    let mut n = 2;
    while recorder.written.contains(&file) {
        file = format!("{cell}.{kind}.{name}.{n}.json");
        n += 1;
    }
    let path = recorder.unit_dir.join(&file);
    let tmp = recorder.unit_dir.join(format!(".{file}.tmp"));
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| e.to_string())?;
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    recorder.written.insert(file);
    Ok(())
}

fn start_unit(dir: &PathBuf) -> std::io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(dir)?;
    let run = std::env::var(RUN_ID_ENV).unwrap_or_default();
    std::fs::write(dir.join(RUN_MARKER), run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> impl Iterator<Item = String> {
        list.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn unit_key_from_rustc_arguments() {
        let key = unit_key_from(args(&[
            "rustc",
            "--crate-name",
            "users",
            "--edition=2024",
            "-C",
            "extra-filename=-9f8e",
            "src/lib.rs",
        ]));
        assert_eq!(key.as_deref(), Some("users-9f8e"));
        let key = unit_key_from(args(&["rustc", "--crate-name=app", "-Cextra-filename=-1"]));
        assert_eq!(key.as_deref(), Some("app-1"));
    }

    #[test]
    fn no_hash_no_unit() {
        assert_eq!(unit_key_from(args(&["rust-analyzer-proc-macro-srv"])), None);
        assert_eq!(unit_key_from(args(&["rustc", "--crate-name", "x"])), None);
    }
}
