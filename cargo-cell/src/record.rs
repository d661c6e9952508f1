//! Phase 1: compile the workspace with recording on and reconcile what the macros wrote.
//!
//! `cargo check --workspace --all-targets` runs in its own target directory with
//! `CELL_RECORD_DIR`, so the normal build's fingerprints never change and a no-op run is a
//! no-op check. Every unit cargo reports is kept: a fresh unit (not recompiled) keeps the
//! fragments of the run that compiled it; a recompiled unit keeps only this run's; folders of
//! units cargo no longer builds are ignored. Their union is the manifest.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cargo_metadata::Message;

use crate::cli::CargoArgs;
use crate::error::Error;
use crate::fingerprint;
use crate::toolchain::cargo;
use crate::workspace::Workspace;
use cell_core::CoreError;
use cell_core::manifest::{Fragment, Manifest};
use cell_core::ui::Ui;

const RECORD_DIR_ENV: &str = "CELL_RECORD_DIR";
const RUN_ID_ENV: &str = "CELL_RUN_ID";
const RUN_MARKER: &str = "_run";
use cell_core::PENDING_MARKER;

pub struct Recording {
    pub manifest: Manifest,
    /// Workspace packages with at least one recorded item.
    pub packages: Vec<String>,
    /// The workspace compiled but for items that wait for their Cell (checked queries not
    /// described yet, see `cell_core::PENDING_MARKER`): the manifest holds every unit that compiled
    /// or failed only for those, and the last recording of units cargo had to skip. Once the
    /// Cells have described the queries, recording again gives the whole manifest.
    pub pending: bool,
}

pub fn record(ws: &Workspace, args: &CargoArgs, ui: &Ui) -> Result<Recording, Error> {
    let record_target = ws.work_dir().join("record");
    let fragments = record_target.join("fragments");
    let task = ui.task("record", "checking the workspace for Cell attributes");
    if let Some(recording) = unchanged(ws, args, &record_target, &fragments, ui)? {
        task.finish(format!(
            "recorded {} (no input changed)",
            recording.manifest.summary()
        ));
        return Ok(recording);
    }
    fingerprint::forget(&record_target);
    let run_id = uuid::Uuid::new_v4().to_string();

    let mut cmd = Command::new(cargo());
    cmd.arg("check")
        .arg("--workspace")
        .arg("--all-targets")
        // A crate whose only errors are queries not described yet must not stop the others
        // from recording.
        .arg("--keep-going")
        .arg("--manifest-path")
        .arg(&ws.manifest_path)
        .arg("--target-dir")
        .arg(&record_target)
        .arg(if ui.is_interactive() {
            "--message-format=json-diagnostic-rendered-ansi"
        } else {
            "--message-format=json"
        });
    feature_args(&mut cmd, args);
    cmd.env(RECORD_DIR_ENV, &fragments)
        .env(RUN_ID_ENV, &run_id)
        // A compiler cache would skip the macros, and with them the recording.
        .env("RUSTC_WRAPPER", "")
        .env("RUSTC_WORKSPACE_WRAPPER", "")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    ui.verbose(&format!("running {cmd:?}"));
    let mut child = cmd.spawn().map_err(|source| Error::CargoSpawn {
        cargo: cargo().display().to_string(),
        source,
    })?;

    let mut stderr = child.stderr.take().expect("piped");
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    let mut units: HashMap<String, bool> = HashMap::new();
    let mut diagnostics = Vec::new();
    // Errors other than "not described yet".
    let mut other_errors = 0usize;
    let mut pending_items = std::collections::HashSet::new();
    let mut observed = fingerprint::Observed::default();
    let stdout = BufReader::new(child.stdout.take().expect("piped"));
    for message in Message::parse_stream(stdout).flatten() {
        observed.observe(&message);
        match message {
            Message::CompilerArtifact(a) if ws.member_ids.contains(&a.package_id.repr) => {
                task.set_message(format!("checked {}", a.target.name));
                for f in &a.filenames {
                    if let Some(stem) = f.file_stem() {
                        units.insert(stem.to_string(), a.fresh);
                    }
                }
            }
            Message::CompilerMessage(m) => {
                if m.message.level == cargo_metadata::diagnostic::DiagnosticLevel::Error {
                    if m.message.message.contains(PENDING_MARKER) {
                        // The lib and its test target report the same item: count places.
                        let at = m
                            .message
                            .spans
                            .first()
                            .map(|s| (s.file_name.clone(), s.line_start, s.column_start));
                        pending_items.insert(at);
                    } else if !m.message.message.starts_with("aborting due to") {
                        other_errors += 1;
                    }
                }
                if let Some(r) = m.message.rendered {
                    diagnostics.push(r);
                }
            }
            _ => {}
        }
    }
    let status = child.wait().map_err(|source| Error::CargoSpawn {
        cargo: cargo().display().to_string(),
        source,
    })?;
    let stderr_text = stderr_reader.join().unwrap_or_default();
    let pending = !status.success() && other_errors == 0 && !pending_items.is_empty();
    if pending {
        let crates = ws.members.iter().map(|m| m.replace('-', "_")).collect();
        let recording = reconcile(&fragments, &units, &run_id, &Partial::Yes { crates })?;
        task.finish(format!(
            "recorded {} ({} quer{} to describe before the rest compiles)",
            recording.manifest.summary(),
            pending_items.len(),
            if pending_items.len() == 1 { "y" } else { "ies" }
        ));
        // No stamp: the next record must compile again, now against the described queries.
        return Ok(Recording {
            pending: true,
            ..recording
        });
    }
    if !status.success() {
        task.fail("the workspace does not compile");
        ui.suspend(|| {
            for d in &diagnostics {
                eprint!("{d}");
            }
            // cargo's own errors (manifest, resolution) come on stderr.
            for line in stderr_text.lines().filter(|l| {
                !l.trim_start().starts_with("Compiling") && !l.trim_start().starts_with("Checking")
            }) {
                eprintln!("{line}");
            }
        });
        return Err(Error::RecordFailed);
    }

    let recording = reconcile(&fragments, &units, &run_id, &Partial::No)?;
    let unit_keys: BTreeSet<String> = units.keys().cloned().collect();
    match observed.stamp(ws, args, unit_keys, &recording.manifest.to_bytes()) {
        Ok(stamp) => {
            if let Err(e) = fingerprint::save(&record_target, &stamp) {
                ui.verbose(&format!("record: cannot save the input stamp: {e}"));
            }
        }
        Err(why) => ui.verbose(&format!("record: runs every time: {why}")),
    }
    task.finish(format!("recorded {}", recording.manifest.summary()));
    Ok(recording)
}

/// The recording of the last run, rebuilt from its fragments, when no input changed since.
fn unchanged(
    ws: &Workspace,
    args: &CargoArgs,
    record_target: &Path,
    fragments: &Path,
    ui: &Ui,
) -> Result<Option<Recording>, Error> {
    let Some(stamp) = fingerprint::unchanged(ws, args, record_target) else {
        return Ok(None);
    };
    // Every unit is fresh: each keeps the fragments of the run that compiled it.
    let units: HashMap<String, bool> = stamp.units.iter().map(|u| (u.clone(), true)).collect();
    let Ok(recording) = reconcile(fragments, &units, "", &Partial::No) else {
        return Ok(None);
    };
    if fingerprint::manifest_hash(&recording.manifest.to_bytes()) != stamp.manifest {
        ui.verbose("record: the fragments on disk changed since the last record; recording again");
        return Ok(None);
    }
    Ok(Some(recording))
}

/// The feature selection flags, as cargo takes them.
pub(crate) fn feature_args(cmd: &mut Command, args: &CargoArgs) {
    for f in &args.features {
        cmd.arg("--features").arg(f);
    }
    if args.all_features {
        cmd.arg("--all-features");
    }
    if args.no_default_features {
        cmd.arg("--no-default-features");
    }
}

fn fragment_error(path: &Path, source: Box<dyn std::error::Error + Send + Sync>) -> Error {
    CoreError::Fragment {
        path: path.display().to_string(),
        source,
    }
    .into()
}

/// Whether the compilation stopped short (see [`Recording::pending`]).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Partial {
    No,
    /// Units cargo did not report failed (only for queries to describe) or were skipped
    /// because a dependency failed: their folders are kept as the last run left them, when
    /// they recorded in this run or are a unit of one of these crates (the workspace
    /// members' libraries and binaries; the record folder may be shared with other
    /// workspaces through a shared target directory).
    Yes {
        crates: HashSet<String>,
    },
}

/// The union of the fragments of the units cargo reported in this run.
fn reconcile(
    fragments: &Path,
    units: &HashMap<String, bool>,
    run_id: &str,
    partial: &Partial,
) -> Result<Recording, Error> {
    let mut manifest = crate::registry::empty_manifest();
    let mut packages = Vec::new();
    let Ok(dirs) = std::fs::read_dir(fragments) else {
        return Ok(Recording {
            manifest,
            packages,
            pending: false,
        });
    };
    let mut dirs: Vec<PathBuf> = dirs
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let key = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let fresh = units.get(&key).or_else(|| units.get(&format!("lib{key}")));
        let crate_name = key
            .rsplit_once('-')
            .map(|(c, _)| c.to_string())
            .unwrap_or(key.clone());
        // One folder per macro crate that recorded in this unit (see `cell_core::record`).
        let mut sources: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| fragment_error(&dir, Box::new(e)))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        sources.sort();
        for source in sources {
            let marker = std::fs::read_to_string(source.join(RUN_MARKER)).unwrap_or_default();
            let keep = match fresh {
                None => match partial {
                    // Failed for queries to describe (it recorded in this run), or skipped
                    // for a dependency that did: its folder is its best recording.
                    Partial::Yes { crates } => marker == run_id || crates.contains(&crate_name),
                    // Not built in this configuration (a removed target, other features):
                    // stale.
                    Partial::No => false,
                },
                Some(true) => true,
                // Recompiled: only if the macros ran in this run; else the unit lost its
                // last attribute of this source.
                Some(false) => marker == run_id,
            };
            if !keep {
                if fresh == Some(&false) {
                    // Rebuilt with no attribute left: forget it, or it would come back as
                    // soon as the unit is fresh again.
                    let _ = std::fs::remove_dir_all(&source);
                }
                continue;
            }
            let mut files: Vec<PathBuf> = std::fs::read_dir(&source)
                .map_err(|e| fragment_error(&source, Box::new(e)))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.extension().is_some_and(|x| x == "json")
                        && !p
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect();
            files.sort();
            for path in files {
                let bytes = std::fs::read(&path).map_err(|e| fragment_error(&path, Box::new(e)))?;
                let fragment =
                    Fragment::parse(&path, &bytes).map_err(|e| fragment_error(&path, e))?;
                manifest.add(fragment, &crate_name)?;
                if !packages.contains(&crate_name) {
                    packages.push(crate_name.clone());
                }
            }
        }
        if fresh == Some(&false) && std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_none()) {
            let _ = std::fs::remove_dir(&dir);
        }
    }
    Ok(Recording {
        manifest,
        packages,
        pending: false,
    })
}

/// Crates compiled before the lock existed do not track it yet: compile them once more.
/// `crates` are crate names (`auth_api`), mapped back to the members' package names.
pub fn recompile(ws: &Workspace, crates: &[String], ui: &Ui) {
    for krate in crates {
        let package = ws
            .members
            .iter()
            .find(|m| m.replace('-', "_") == *krate)
            .unwrap_or(krate);
        let mut cmd = std::process::Command::new(crate::toolchain::cargo());
        cmd.args(["clean", "-q", "-p", package, "--manifest-path"])
            .arg(&ws.manifest_path);
        ui.verbose(&format!("running {cmd:?}"));
        let _ = cmd.stdin(std::process::Stdio::null()).status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cell_postgres::declare::TableDecl;

    fn decl(name: &str) -> TableDecl {
        TableDecl {
            rust_name: "T".into(),
            name: name.into(),
            columns: vec![],
            renamed_from: None,
            indexes: vec![],
            checks: vec![],
            search: None,
        }
    }

    fn write_unit(root: &Path, key: &str, run: &str, tables: &[&str]) {
        write_source(root, key, "cell-stub-macros", run, tables);
    }

    /// The folder of one macro crate (`source`) in unit `key`, with a `_run` marker.
    fn write_source(root: &Path, key: &str, source: &str, run: &str, tables: &[&str]) {
        let dir = root.join(key).join(source);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(RUN_MARKER), run).unwrap();
        for t in tables {
            std::fs::write(
                dir.join(format!("postgres.table.{t}.json")),
                serde_json::to_vec(&decl(t)).unwrap(),
            )
            .unwrap();
        }
    }

    /// Two macro crates (the built-in Cells' and another Cell's) record into one unit: each
    /// keeps its own folder, so neither clears the other's items.
    #[test]
    fn each_macro_crate_of_a_unit_keeps_its_own_fragments() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write_unit(root, "a-1", "now", &["ours"]);
        write_source(root, "a-1", "cell-other-macros", "now", &["theirs"]);
        let theirs = root.join("a-1").join("cell-other-macros");
        let units: HashMap<String, bool> = [("a-1".to_string(), false)].into();
        let rec = reconcile(root, &units, "now", &Partial::No).unwrap();
        let names: Vec<&str> = cell_postgres::section(&rec.manifest)
            .tables
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(names, ["ours", "theirs"]);
        // Rebuilt again, and only the built-in macros ran: the other crate's items are gone.
        let rec = reconcile(root, &units, "later", &Partial::No).unwrap();
        assert!(cell_postgres::section(&rec.manifest).tables.is_empty());
        assert!(!theirs.exists());
    }

    /// Stopped short for queries to describe: a unit that failed (it recorded now) and a
    /// member's unit cargo skipped keep their folders; another workspace's folder in a shared
    /// target directory does not count.
    #[test]
    fn a_partial_recording_keeps_failed_and_skipped_units_of_this_workspace_only() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write_unit(root, "app-1", "now", &["failed"]); // failed for a query: no artifact
        write_unit(root, "app-2", "old", &["skipped"]); // the bin, skipped
        write_unit(root, "other-3", "old", &["elsewhere"]); // another workspace's
        let units: HashMap<String, bool> = HashMap::new();
        let partial = Partial::Yes {
            crates: ["app".to_string()].into(),
        };
        let rec = reconcile(root, &units, "now", &partial).unwrap();
        let names: Vec<&str> = cell_postgres::section(&rec.manifest)
            .tables
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(names, ["failed", "skipped"]);
    }

    #[test]
    fn fresh_units_keep_old_fragments_and_rebuilt_units_only_new_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write_unit(root, "a-1", "old", &["kept"]); // fresh: untouched crate
        write_unit(root, "b-2", "now", &["new"]); // rebuilt in this run
        write_unit(root, "c-3", "old", &["gone"]); // rebuilt, no attribute left
        write_unit(root, "d-4", "old", &["stale"]); // no longer built
        let units: HashMap<String, bool> = [
            ("liba-1".to_string(), true),
            ("libb-2".to_string(), false),
            ("c-3".to_string(), false),
        ]
        .into();
        let rec = reconcile(root, &units, "now", &Partial::No).unwrap();
        let names: Vec<&str> = cell_postgres::section(&rec.manifest)
            .tables
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(names, ["kept", "new"]);
        assert_eq!(rec.packages, ["a", "b"]);
        assert!(
            !root.join("c-3").exists(),
            "a rebuilt unit with nothing recorded is forgotten"
        );
        assert!(
            root.join("d-4").exists(),
            "a unit not built in this configuration may come back"
        );
    }
}
