//! The Audit Cell's live side: no container of its own. Its trail is the `cell_audit` schema
//! of the Postgres Cell's database ([`crate::schema`]): applying installs it (and the months
//! ahead) as the schema's owner, on the dev Cell or on `--env NAME`'s database, and writes the
//! lock on dev. Its commands read the trail: `cargo cell audit verify`, `checkpoint`, `prune`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use async_trait::async_trait;
use clap::{Args, FromArgMatches as _, Subcommand};
use tokio_postgres::GenericClient;

use cell_core::docker::RunningCell;
use cell_core::live::{
    Applied, ApplyOptions, BoxError, ContainerSpec, Context, Endpoint, LiveCell, Target, Timings,
};
use cell_core::lockfile::LockFile as _;
use cell_core::ui::Ui;
use cell_core::{CellError, CellPlan, Manifest, Workspace};

use crate::CELL_NAME;
use crate::cell_impl::{AuditCell, audits, cell_plan, lock_path, read_lock};
use crate::chain::{self, Anchor, Hash, Record};
use crate::error::{AuditCellError, NoContainer};
use crate::key::{KEY_ENV, Key, KeyState};
use crate::schema::{self, Month};

/// How many months of partitions an apply creates ahead of the current one.
pub const MONTHS_AHEAD: i32 = 12;

/// Records read per round trip by `verify`.
const BATCH: i64 = 5_000;

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the audit chain, recomputing every hash, and name the first broken link.
    Verify(VerifyArgs),
    /// Write the chain's head to a signed file kept outside the database.
    Checkpoint(CheckpointArgs),
    /// Drop the months older than the longest retention, keeping a checkpoint.
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The deployment environment whose database holds the trail (default: the dev Cell).
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Also check that the chain still has the head this file (from `audit checkpoint`)
    /// anchored: catches a chain rewritten consistently by a superuser.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Where to write the checkpoint (keep it outside the database: another system, a
    /// commit, a write-once bucket).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Do not ask before dropping.
    #[arg(long)]
    pub yes: bool,
}

/// `cargo cell audit`, as clap sees it.
pub fn command() -> clap::Command {
    AuditArgs::augment_args(clap::Command::new(CELL_NAME))
        .about("Verify, checkpoint and prune the audit trail")
        .long_about(None)
}

/// What messages call the target's database.
fn label(target: &Target) -> String {
    match target {
        Target::Dev => "the dev Postgres Cell".into(),
        Target::Env(env) => format!("the `{env}` database"),
    }
}

fn db_error(target: &Target, what: &str) -> impl FnOnce(tokio_postgres::Error) -> AuditCellError {
    let (target, what) = (label(target), what.to_string());
    move |source| AuditCellError::Database {
        target,
        what,
        source,
    }
}

/// The year and month it is in the database's clock, in UTC.
async fn current_month(
    client: &impl GenericClient,
    target: &Target,
) -> Result<Month, AuditCellError> {
    let row = client
        .query_one(
            "SELECT extract(year FROM now() AT TIME ZONE 'UTC')::int, extract(month FROM now() AT TIME ZONE 'UTC')::int",
            &[],
        )
        .await
        .map_err(db_error(target, "reading the clock"))?;
    Ok(Month::new(row.get(0), row.get::<_, i32>(1) as u32))
}

async fn partitions(
    client: &impl GenericClient,
    target: &Target,
) -> Result<Vec<String>, AuditCellError> {
    let rows = client
        .query(schema::LIST_PARTITIONS, &[])
        .await
        .map_err(db_error(target, "listing the partitions"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Installs the trail and the months from last month to [`MONTHS_AHEAD`], in one transaction
/// under an advisory lock (two applies at once wait for each other). Returns the partitions
/// created.
pub async fn install(
    client: &mut tokio_postgres::Client,
    target: &Target,
) -> Result<usize, AuditCellError> {
    let tx = client
        .transaction()
        .await
        .map_err(db_error(target, "starting the install"))?;
    tx.batch_execute("SELECT pg_advisory_xact_lock(hashtext('cargo-cell audit install'))")
        .await
        .map_err(db_error(target, "taking the install lock"))?;
    tx.batch_execute(&schema::install())
        .await
        .map_err(db_error(target, "installing the cell_audit schema"))?;
    let existing = partitions(&tx, target).await?;
    let now = current_month(&tx, target).await?;
    let sql = schema::partitions(&existing, now.prev(), now.plus(MONTHS_AHEAD));
    let created = sql.matches("CREATE TABLE").count();
    tx.batch_execute(&sql)
        .await
        .map_err(db_error(target, "creating the months ahead"))?;
    tx.commit()
        .await
        .map_err(db_error(target, "committing the install"))?;
    Ok(created)
}

/// The dev key, made on first use and kept in `.cell/state/audit.json`.
pub fn dev_key(ws: &Workspace) -> Result<Key, AuditCellError> {
    let path = cell_core::state::path(ws, CELL_NAME);
    let key_error = |why: String| AuditCellError::Key {
        path: path.clone(),
        source: std::io::Error::other(why),
    };
    let hex = match cell_core::state::read::<KeyState>(ws, CELL_NAME) {
        Some(state) => state.key,
        None => {
            let key = Key::generate_hex();
            cell_core::state::write(ws, CELL_NAME, &KeyState { key: key.clone() })
                .map_err(|(path, source)| AuditCellError::Key { path, source })?;
            key
        }
    };
    Key::from_hex(&hex).map_err(key_error)
}

/// The key for `target`: `CELL_AUDIT_KEY` when set, else (dev only) the dev key.
fn key_for(ws: &Workspace, target: &Target) -> Result<Key, AuditCellError> {
    match std::env::var(KEY_ENV).ok().filter(|k| !k.is_empty()) {
        Some(hex) => Key::from_hex(&hex).map_err(|why| AuditCellError::NoDatabase {
            what: "sign",
            why,
            help: format!(
                "set {KEY_ENV} to the key the application records with (hex, 32 bytes or more)"
            ),
        }),
        None if *target == Target::Dev => dev_key(ws),
        None => Err(AuditCellError::NoDatabase {
            what: "sign",
            why: format!("{KEY_ENV} is not set"),
            help: format!(
                "set {KEY_ENV} to the key the application records with in this environment"
            ),
        }),
    }
}

#[async_trait]
impl LiveCell for AuditCell {
    fn after(&self) -> &'static [&'static str] {
        &["postgres"]
    }

    /// Nothing of its own runs in Docker: the Postgres Cell holds the trail.
    fn runs_locally(&self, _ws: &Workspace) -> bool {
        false
    }

    fn keeps_state(&self) -> bool {
        false
    }

    async fn container(
        &self,
        _cx: &Context<'_>,
        _existing: Option<&RunningCell>,
    ) -> Result<ContainerSpec, CellError> {
        Err(CellError::new(NoContainer))
    }

    fn waiting_for(&self) -> &'static str {
        "waiting for the Postgres Cell"
    }

    fn endpoint(
        &self,
        _ws: &Workspace,
        _running: &RunningCell,
        _spec: Option<&ContainerSpec>,
    ) -> Option<Endpoint> {
        None
    }

    async fn probe(&self, _endpoint: &Endpoint) -> Result<(), BoxError> {
        Ok(())
    }

    /// The audits against the lock (nothing live); `None` without audits and without a lock.
    async fn plan(
        &self,
        cx: &Context<'_>,
        manifest: &Manifest,
    ) -> Result<Option<Box<dyn CellPlan>>, CellError> {
        Ok(cell_plan(cx.ws, audits(manifest))?.map(|p| Box::new(p) as Box<dyn CellPlan>))
    }

    /// The trail installed in the target's database (as its owner), and on dev the key made
    /// and the lock written. Removing every audit from the code never drops a record.
    async fn apply(
        &self,
        cx: &Context<'_>,
        manifest: &Manifest,
        how: &ApplyOptions<'_>,
    ) -> Result<Applied, CellError> {
        let declared = audits(manifest);
        let Some(plan) = cell_plan(cx.ws, declared)? else {
            return Ok(Applied::default());
        };
        if how.build && cx.target != Target::Dev {
            return Ok(Applied::default());
        }
        if !how.build && !plan.is_empty() {
            print!(
                "{}",
                plan.render(&cell_core::plan::Render {
                    style: &cell_core::plan::Plain,
                    with_sql: false,
                })
            );
        }
        if !declared.is_empty() {
            let mut client = cell_postgres::driver::owner_client(cx).await?;
            let created = install(&mut client, &cx.target).await?;
            if created > 0 {
                cx.ui.info(&format!(
                    "audit: the trail in {} has {created} new month{}",
                    label(&cx.target),
                    if created == 1 { "" } else { "s" }
                ));
            }
        }
        if cx.target != Target::Dev {
            return Ok(Applied {
                used: true,
                lock_created: false,
            });
        }
        dev_key(cx.ws)?;
        let path = lock_path(cx.ws);
        let existed = path.exists();
        cell_core::lockfile::write_if_changed(&path, &plan.desired.to_bytes()).map_err(
            |source| AuditCellError::Write {
                path: path.clone(),
                source,
            },
        )?;
        if !plan.is_empty() {
            cx.ui
                .info(&format!("audit: locked {}", plan.plan.summary()));
        }
        Ok(Applied {
            used: true,
            lock_created: !existed,
        })
    }

    fn commands(&self) -> Vec<clap::Command> {
        vec![command()]
    }

    async fn run_command(
        &self,
        name: &str,
        matches: &clap::ArgMatches,
        load: &(dyn Fn() -> Result<Workspace, CellError> + Send + Sync),
        ui: &Ui,
    ) -> Result<ExitCode, CellError> {
        if name != CELL_NAME {
            return Ok(ExitCode::FAILURE);
        }
        let args = AuditArgs::from_arg_matches(matches).unwrap_or_else(|e| e.exit());
        let ws = load()?;
        let timings = Timings::default();
        let target_of = |t: &TargetArgs| t.env.as_deref().map_or(Target::Dev, Target::new);
        match args.command {
            AuditCommand::Verify(v) => {
                let cx = Context::new(&ws, ui, target_of(&v.target), &timings);
                let client = cell_postgres::driver::owner_client(&cx).await?;
                let checkpoint = match &v.checkpoint {
                    Some(path) => Some((
                        path.clone(),
                        read_checkpoint(path, &key_for(&ws, &cx.target)?)?,
                    )),
                    None => None,
                };
                let report = verify(&client, &cx.target, checkpoint.as_ref()).await?;
                println!("{}", report.line());
                if report.in_default > 0 {
                    ui.warn(&format!(
                        "audit: {} records are in the DEFAULT partition (written beyond the months created ahead): run `cargo cell apply` more often than every {MONTHS_AHEAD} months",
                        report.in_default
                    ));
                }
                Ok(ExitCode::SUCCESS)
            }
            AuditCommand::Checkpoint(c) => {
                let cx = Context::new(&ws, ui, target_of(&c.target), &timings);
                let key = key_for(&ws, &cx.target)?;
                let client = cell_postgres::driver::owner_client(&cx).await?;
                let head = head(&client, &cx.target).await?;
                write_checkpoint(&c.out, &head, &key)?;
                println!(
                    "audit: wrote a checkpoint of record {} ({}) to {}",
                    head.seq,
                    short(&head.hash),
                    c.out.display()
                );
                Ok(ExitCode::SUCCESS)
            }
            AuditCommand::Prune(p) => {
                let cx = Context::new(&ws, ui, target_of(&p.target), &timings);
                let lock = read_lock(&lock_path(&ws))?.unwrap_or_default();
                let mut client = cell_postgres::driver::owner_client(&cx).await?;
                let line = prune(&mut client, &cx.target, &lock, p.yes).await?;
                println!("{line}");
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}

/// `3fa2c1d0…`: enough of a hash to recognise it.
fn short(hash: &Hash) -> String {
    format!("{}…", &hex::encode(hash)[..12])
}

/// The `head` row: the last record's seq and hash as `append` left them.
async fn head(client: &tokio_postgres::Client, target: &Target) -> Result<Anchor, AuditCellError> {
    let row = client
        .query_one("SELECT seq, hash FROM cell_audit.head", &[])
        .await
        .map_err(db_error(target, "reading the chain's head"))?;
    Ok(Anchor {
        seq: row.get(0),
        hash: to_hash(row.get(1)),
    })
}

/// A stored hash; a value of another length (a rewritten row) becomes one that never matches.
fn to_hash(bytes: Vec<u8>) -> Hash {
    bytes.try_into().unwrap_or([0xff; 32])
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Where the walk started: the genesis, or the checkpoint of the last prune.
    pub from: Anchor,
    pub head: Anchor,
    pub records: u64,
    /// The checkpoint file's record, when one was checked.
    pub checkpoint: Option<i64>,
    /// Records in the DEFAULT partition.
    pub in_default: i64,
}

impl Verified {
    pub fn line(&self) -> String {
        let mut s = if self.records == 0 {
            "audit: the chain holds: no records".to_string()
        } else {
            format!(
                "audit: the chain holds: {} record{} ({} to {}), head {}",
                self.records,
                if self.records == 1 { "" } else { "s" },
                self.from.seq + 1,
                self.head.seq,
                short(&self.head.hash)
            )
        };
        if self.from.seq > 0 {
            s.push_str(&format!(
                "; checked from the checkpoint of record {} (older months pruned)",
                self.from.seq
            ));
        }
        if let Some(seq) = self.checkpoint {
            s.push_str(&format!("; the checkpoint file's record {seq} matches"));
        }
        s
    }
}

/// Walks the chain from the last prune's checkpoint (or the genesis), recomputing each hash
/// here rather than trusting the database's functions; then checks the head row and, when
/// given, a checkpoint file's record.
pub async fn verify(
    client: &tokio_postgres::Client,
    target: &Target,
    checkpoint: Option<&(PathBuf, Anchor)>,
) -> Result<Verified, AuditCellError> {
    let from = client
        .query_opt(
            "SELECT seq, hash FROM cell_audit.checkpoints WHERE reason = 'prune' ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await
        .map_err(db_error(target, "reading the checkpoints"))?
        .map(|r| Anchor {
            seq: r.get(0),
            hash: to_hash(r.get(1)),
        })
        .unwrap_or(Anchor::GENESIS);
    let mut at = from;
    let mut records = 0u64;
    let mut anchored = None;
    loop {
        let rows = client
            .query(schema::READ_RECORDS, &[&at.seq, &BATCH])
            .await
            .map_err(db_error(target, "reading the records"))?;
        if rows.is_empty() {
            break;
        }
        let batch: Vec<Record> = rows
            .iter()
            .map(|r| Record {
                seq: r.get(0),
                event: r.get(1),
                actor: r.get(2),
                args: r.get(3),
                outcome: r.get(4),
                at: r.get(5),
                trace_id: r.get(6),
                prev_hash: to_hash(r.get(7)),
                hash: to_hash(r.get(8)),
            })
            .collect();
        at = chain::verify(at, &batch).map_err(|broken| AuditCellError::Broken { broken })?;
        if let Some((_, cp)) = checkpoint
            && let Some(r) = batch.iter().find(|r| r.seq == cp.seq)
        {
            anchored = Some(r.hash == cp.hash);
        }
        records += batch.len() as u64;
    }
    let head = head(client, target).await?;
    if head != at {
        let found = if at.seq == head.seq {
            format!("its hash is not record {}'s", at.seq)
        } else if at.seq < head.seq {
            format!("the last record is {}", at.seq)
        } else {
            format!("records go on to {}", at.seq)
        };
        return Err(AuditCellError::Head {
            head_seq: head.seq,
            found,
        });
    }
    if let Some((path, cp)) = checkpoint {
        let why = if cp.seq == from.seq && from.seq > 0 {
            (cp.hash != from.hash)
                .then(|| format!("record {}'s hash differs from the prune checkpoint", cp.seq))
        } else if cp.seq < from.seq {
            None // pruned since: the prune checked the chain through it
        } else {
            match anchored {
                Some(true) => None,
                Some(false) => Some(format!(
                    "record {} has another hash than the file anchored ({})",
                    cp.seq,
                    short(&cp.hash)
                )),
                None => Some(format!(
                    "record {} is no longer in the chain, which ends at {}",
                    cp.seq, at.seq
                )),
            }
        };
        if let Some(why) = why {
            return Err(AuditCellError::Checkpoint {
                path: path.clone(),
                why,
            });
        }
    }
    let in_default = client
        .query_one("SELECT count(*) FROM cell_audit.records_default", &[])
        .await
        .map_err(db_error(target, "counting the default partition"))?
        .get(0);
    Ok(Verified {
        from,
        head,
        records,
        checkpoint: checkpoint.map(|(_, cp)| cp.seq),
        in_default,
    })
}

/// The checkpoint file: the head, signed with the audit key.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct CheckpointFile {
    cell: String,
    seq: i64,
    hash: String,
    signature: String,
}

fn write_checkpoint(path: &Path, head: &Anchor, key: &Key) -> Result<(), AuditCellError> {
    let file = CheckpointFile {
        cell: CELL_NAME.into(),
        seq: head.seq,
        hash: hex::encode(head.hash),
        signature: key.sign_checkpoint(head.seq, &head.hash),
    };
    let mut bytes = serde_json::to_vec_pretty(&file).expect("a checkpoint serialises");
    bytes.push(b'\n');
    std::fs::write(path, bytes).map_err(|e| AuditCellError::CheckpointFile {
        path: path.to_path_buf(),
        why: e.to_string(),
    })
}

fn read_checkpoint(path: &Path, key: &Key) -> Result<Anchor, AuditCellError> {
    let fail = |why: String| AuditCellError::CheckpointFile {
        path: path.to_path_buf(),
        why,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let file: CheckpointFile =
        serde_json::from_slice(&bytes).map_err(|e| fail(format!("not a checkpoint: {e}")))?;
    let hash: Hash = hex::decode(&file.hash)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| fail("its hash is not 32 bytes of hex".into()))?;
    if !key.verify_checkpoint(file.seq, &hash, &file.signature) {
        return Err(fail(
            "its signature does not hold: it was changed, or signed with another key".into(),
        ));
    }
    Ok(Anchor {
        seq: file.seq,
        hash,
    })
}

/// Drops the months that ended more than the longest locked retention ago, oldest first,
/// after checking the chain and recording a checkpoint of the last record dropped, in one
/// transaction. Records are never dropped out of seq order: a month is dropped only when
/// every later record has a higher seq.
pub async fn prune(
    client: &mut tokio_postgres::Client,
    target: &Target,
    lock: &crate::lock::Lock,
    yes: bool,
) -> Result<String, AuditCellError> {
    let Some(days) = lock.longest_retention_days() else {
        return Err(AuditCellError::Prune {
            why: "the audit lock names no retention".into(),
            help: "declare `retention = \"...\"` on the audits and run `cargo cell build`".into(),
        });
    };
    verify(client, target, None).await?;
    let row = client
        .query_one(
            "SELECT extract(year FROM c AT TIME ZONE 'UTC')::int, extract(month FROM c AT TIME ZONE 'UTC')::int \
             FROM (SELECT now() - make_interval(days => $1) AS c) t",
            &[&(days as i32)],
        )
        .await
        .map_err(db_error(target, "reading the clock"))?;
    // A month is expired when all of it is older than the cutoff: before the cutoff's month.
    let cutoff = Month::new(row.get(0), row.get::<_, i32>(1) as u32);
    let expired: Vec<Month> = partitions(client, target)
        .await?
        .iter()
        .filter_map(|p| Month::of_partition(p))
        .filter(|m| *m < cutoff)
        .collect();
    if expired.is_empty() {
        return Ok(format!(
            "audit: nothing to prune: no month ended more than {days} days ago"
        ));
    }
    let names: Vec<String> = expired.iter().map(|m| m.partition()).collect();
    let question = format!(
        "Drop {} month{} of audit records ({}) from {}? This cannot be undone.",
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        label(target)
    );
    match cell_core::prompt::confirm(&question, yes) {
        Ok(cell_core::prompt::Answer::Yes) => {}
        Ok(cell_core::prompt::Answer::No) => return Ok("audit: nothing pruned".into()),
        Ok(cell_core::prompt::Answer::NoTerminal) | Err(_) => {
            return Err(AuditCellError::Prune {
                why: "dropping records needs a confirmation, and nobody can answer here".into(),
                help: "run `cargo cell audit prune --yes` once the months listed are safe to drop"
                    .into(),
            });
        }
    }
    let tx = client
        .transaction()
        .await
        .map_err(db_error(target, "starting the prune"))?;
    tx.batch_execute("LOCK TABLE cell_audit.head IN EXCLUSIVE MODE")
        .await
        .map_err(db_error(target, "locking the chain"))?;
    let list = names
        .iter()
        .map(|n| format!("'cell_audit.{n}'::regclass"))
        .collect::<Vec<_>>()
        .join(", ");
    let last = tx
        .query_one(
            &format!("SELECT max(seq) FROM cell_audit.records WHERE tableoid IN ({list})"),
            &[],
        )
        .await
        .map_err(db_error(target, "finding the last expired record"))?
        .get::<_, Option<i64>>(0);
    let kept_min = tx
        .query_one(
            &format!("SELECT min(seq) FROM cell_audit.records WHERE tableoid NOT IN ({list})"),
            &[],
        )
        .await
        .map_err(db_error(target, "finding the first kept record"))?
        .get::<_, Option<i64>>(0);
    if let (Some(last), Some(kept)) = (last, kept_min)
        && kept < last
    {
        return Err(AuditCellError::Prune {
            why: format!(
                "record {kept} would be kept but record {last} before it dropped: the months are not in seq order"
            ),
            help: "the trail's clock went backwards; keep the months and investigate".into(),
        });
    }
    if let Some(last) = last {
        tx.execute(
            "INSERT INTO cell_audit.checkpoints (seq, hash, reason) \
             SELECT seq, hash, 'prune' FROM cell_audit.records WHERE seq = $1 \
             ON CONFLICT (seq) DO NOTHING",
            &[&last],
        )
        .await
        .map_err(db_error(target, "recording the checkpoint"))?;
    }
    for n in &names {
        tx.batch_execute(&format!("DROP TABLE cell_audit.{n}"))
            .await
            .map_err(db_error(target, "dropping an expired month"))?;
    }
    tx.commit()
        .await
        .map_err(db_error(target, "committing the prune"))?;
    Ok(format!(
        "audit: dropped {} ({}); verification now starts from {}",
        names.join(", "),
        last.map_or("no records".to_string(), |l| format!("records up to {l}")),
        last.map_or("where it did".to_string(), |l| format!(
            "the checkpoint of record {l}"
        ))
    ))
}
