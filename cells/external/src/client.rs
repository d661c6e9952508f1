//! [`ExternalCell`]: the [`Cell`] and [`LiveCell`] traits seen through a pipe. cargo-cell
//! drives it like any built-in Cell; each verb becomes a request to the plugin, started on
//! first use (once per command) and kept for the command's life.
//!
//! What stays on cargo-cell's side: Docker (the plugin describes its container as data),
//! the secrets (random, kept in `.cell/state/<name>.json` and in the container), readiness
//! (the plugin's probe as data, cargo-cell's one wait policy), and the lock: it is written
//! only when the plugin's apply answered the fingerprint of the plan it was given and a plan
//! right after it is empty, and it records the plugin's name, version and protocol.
//!
//! Names that the traits need before any process runs are derived from the Cell's name:
//! the lock is `.cell/<name>.lock.json`, the URL variable `CELL_<NAME>_URL`, the image
//! variable (by default) `CELL_<NAME>_IMAGE`. `cargo cell --help` never starts a plugin.

use std::any::Any;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cell_core::docker::RunningCell;
use cell_core::live::{BoxError, ContainerSpec};
use cell_core::lockfile::{LockError, LockFile};
use cell_core::plan::{Action, Render, ReviewFlag, Safety, Summary};
use cell_core::{
    Applied, ApplyOptions, Cell, CellError, CellPlan, Checked, Context, CoreError, Endpoint,
    LiveCell, LockState, Manifest, Section, Workspace,
};
use miette::Diagnostic;
use serde::{Deserialize, Serialize};

use crate::protocol::{
    self, ApplyRequest, CellInfo, Change, Describe, EndpointInfo, ErrorKind, Plan, PlanRequest,
    Readiness, verb,
};
use crate::session::{ProtocolError, Session};

/// Leaks `s`: the traits want `&'static str`, and a process has a few external Cells.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// `rabbit-mq` → `RABBIT_MQ`.
pub fn env_name(cell: &str) -> String {
    cell.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// An external Cell's errors: what happened, why, what to do.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum ExternalError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Protocol(#[from] ProtocolError),

    #[error("the {cell} Cell's plugin says its configuration is wrong: {message}")]
    #[diagnostic(code(cell::external::invalid_config), help("{help}"))]
    InvalidConfig {
        cell: String,
        message: String,
        help: String,
    },

    #[error("the {cell} Cell's plugin cannot reach its service: {message}")]
    #[diagnostic(code(cell::external::unavailable), help("{help}"))]
    Unavailable {
        cell: String,
        message: String,
        help: String,
    },

    #[error("the {cell} Cell's plugin {plugin} does not support `{verb}`: {message}")]
    #[diagnostic(
        code(cell::external::unsupported_verb),
        help(
            "install a newer version of the plugin, or a cargo-cell of the plugin's protocol version"
        )
    )]
    Unsupported {
        cell: String,
        plugin: String,
        verb: String,
        message: String,
    },

    /// The plugin's apply is not its plan: Terraform's "inconsistent result after apply".
    #[error("the {cell} Cell's plugin {plugin} is inconsistent: {why}")]
    #[diagnostic(
        code(cell::external::inconsistent),
        help(
            "this is a bug in the plugin, not in your code: no lock was written. Report it to the plugin's authors with `cargo cell plan` before and after; its conformance test (cell_external::conformance) shows it too"
        )
    )]
    Inconsistent {
        cell: String,
        plugin: String,
        why: String,
    },

    #[error("the {cell} Cell's plugin {plugin} put the secret {secret} into its lock")]
    #[diagnostic(
        code(cell::external::secret_in_lock),
        help(
            "a lock is committed, so it must not hold a secret: no lock was written. This is a bug in the plugin"
        )
    )]
    SecretInLock {
        cell: String,
        plugin: String,
        secret: String,
    },

    #[error("the {cell} plan has {count} destructive change(s)")]
    #[diagnostic(
        code(cell::external::destructive),
        help("review `cargo cell plan`, then run `cargo cell apply --allow-destructive`")
    )]
    Destructive { cell: String, count: usize },

    #[error("the {cell} plan was not applied")]
    #[diagnostic(
        code(cell::external::not_confirmed),
        help("answer `y` on a terminal, or pass --yes")
    )]
    NotConfirmed { cell: String },

    #[error("cannot use the {cell} lock {path}")]
    #[diagnostic(
        code(cell::external::lock),
        help("regenerate it with `cargo cell build`, or restore it from version control")
    )]
    Lock {
        cell: String,
        path: String,
        #[source]
        source: LockError,
    },
}

impl From<ExternalError> for CellError {
    fn from(e: ExternalError) -> Self {
        // A refused destructive plan exits as the built-in Cells' refusals do.
        let failure = match e {
            ExternalError::Destructive { .. } => cell_core::Failure::Refused,
            _ => cell_core::Failure::Other,
        };
        CellError::of_kind(failure, e)
    }
}

/// `.cell/<name>.lock.json`: the plugin's lock, wrapped with who wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lock {
    pub version: u32,
    pub cell: String,
    pub plugin: PluginInfo,
    /// What the plugin counts in its lock, for `status`.
    pub count: usize,
    /// The plugin's own lock, as its apply answered it.
    pub lock: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub protocol: u32,
}

impl LockFile for Lock {
    const VERSION: u32 = 1;
    const CELL: &'static str = "external";
}

/// An external Cell's part of the manifest: `{"<kind>": [item, ...]}`, each list sorted
/// (by the item's JSON) and each item once. The plugin gives the items their meaning.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExternalSection {
    pub kinds: BTreeMap<String, Vec<serde_json::Value>>,
    #[serde(skip)]
    cell: &'static str,
}

impl ExternalSection {
    pub fn new(cell: &'static str) -> ExternalSection {
        ExternalSection {
            kinds: BTreeMap::new(),
            cell,
        }
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(&self.kinds).expect("a section serialises")
    }

    fn len(&self) -> usize {
        self.kinds.values().map(Vec::len).sum()
    }
}

impl Section for ExternalSection {
    fn add(
        &mut self,
        kind: &str,
        value: serde_json::Value,
        _origin: &str,
    ) -> Result<(), CellError> {
        let list = self.kinds.entry(kind.to_string()).or_default();
        let key = value.to_string();
        match list.binary_search_by(|v| v.to_string().cmp(&key)) {
            Ok(_) => {}
            Err(i) => list.insert(i, value),
        }
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.kinds.values().all(Vec::is_empty)
    }

    fn entries(&self) -> Vec<(&'static str, &dyn erased_serde::Serialize)> {
        if self.is_empty() {
            Vec::new()
        } else {
            vec![(self.cell, &self.kinds as &dyn erased_serde::Serialize)]
        }
    }

    /// `2 rabbitmq queues, 1 rabbitmq exchange`.
    fn summary(&self) -> Option<String> {
        let parts: Vec<String> = self
            .kinds
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(kind, v)| {
                format!(
                    "{} {} {kind}{}",
                    v.len(),
                    self.cell,
                    if v.len() == 1 { "" } else { "s" }
                )
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An external Cell's plan, as every command sees it.
#[derive(Debug, Clone)]
pub struct ExternalPlan {
    pub cell: &'static str,
    pub plan: Plan,
}

impl CellPlan for ExternalPlan {
    fn is_empty(&self) -> bool {
        self.plan.is_empty()
    }

    fn summary(&self) -> Summary {
        Summary::of(self.plan.changes.iter().map(|c| c.action))
    }

    /// `rabbitmq: 2 to add, 0 to change, 0 to destroy` and a line a change, or
    /// `rabbitmq: No changes. ...`.
    fn render(&self, how: &Render<'_>) -> String {
        if self.plan.is_empty() {
            return format!("{}: No changes. The service matches the code.\n", self.cell);
        }
        let s = self.summary();
        let mut out = format!(
            "{}: {} to add, {} to change, {} to destroy\n",
            self.cell, s.add, s.change, s.destroy
        );
        for c in &self.plan.changes {
            let line = format!("{} {}", c.action.symbol(), c.description);
            out.push_str("  ");
            out.push_str(&how.style.action(c.action, &line));
            if c.safety != Safety::Safe {
                let note = match c.safety {
                    Safety::Destructive => " (destructive)",
                    _ => " (may fail on existing data)",
                };
                out.push_str(&how.style.warning(c.safety, note));
            }
            out.push('\n');
        }
        out
    }

    fn to_json(&self) -> Option<serde_json::Value> {
        Some(serde_json::json!({
            "summary": self.summary(),
            "changes": self.plan.changes,
            "fingerprint": self.plan.fingerprint,
        }))
    }

    fn problems(&self) -> Vec<String> {
        if self.plan.is_empty() {
            return Vec::new();
        }
        let mut out = vec![format!(
            "{}: the code differs from .cell/{}.lock.json: {} change(s)",
            self.cell,
            self.cell,
            self.plan.changes.len()
        )];
        out.extend(
            self.plan
                .changes
                .iter()
                .map(|c| format!("  {} {}", c.action.symbol(), c.description)),
        );
        out
    }

    fn flags(&self) -> Vec<ReviewFlag> {
        if self
            .plan
            .changes
            .iter()
            .any(|c| c.safety == Safety::Destructive)
        {
            vec![ReviewFlag::Destructive]
        } else {
            Vec::new()
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The secrets of a running external Cell, in `.cell/state/<name>.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    secrets: BTreeMap<String, String>,
}

#[derive(Default)]
struct Inner {
    session: Option<Session>,
    describe: Option<Describe>,
}

/// A Cell whose live side is a plugin.
pub struct ExternalCell {
    name: &'static str,
    lock_file: &'static str,
    url_env: &'static str,
    waiting_for: &'static str,
    command: Vec<String>,
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for ExternalCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalCell")
            .field("name", &self.name)
            .field("command", &self.command)
            .finish()
    }
}

/// Runs `f` where blocking is allowed: beside the async runtime's other tasks.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

impl ExternalCell {
    /// The Cell `name` whose plugin is `command` (program and arguments).
    pub fn new(name: &str, command: Vec<String>) -> ExternalCell {
        ExternalCell {
            name: leak(name.to_string()),
            lock_file: leak(format!("{name}.lock.json")),
            url_env: leak(format!("CELL_{}_URL", env_name(name))),
            waiting_for: leak(format!("waiting for {name} (its plugin's readiness probe)")),
            command,
            inner: Arc::new(Mutex::new(Inner::default())),
        }
    }

    /// Leaked, as the registry holds Cells.
    pub fn leaked(name: &str, command: Vec<String>) -> &'static ExternalCell {
        Box::leak(Box::new(ExternalCell::new(name, command)))
    }

    pub fn command(&self) -> &[String] {
        &self.command
    }

    fn info(&self, ws: &Workspace) -> CellInfo {
        let settings = ws
            .config
            .get(self.name)
            .filter(|v| v.is_object())
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}));
        CellInfo {
            cell: self.name.to_string(),
            settings,
        }
    }

    /// One request, on the plugin started on first use; a plugin that hung or exited is
    /// started afresh by the next request.
    fn call<T: serde::de::DeserializeOwned>(
        &self,
        verb: &str,
        body: &impl Serialize,
    ) -> Result<T, ExternalError> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.session.is_none() {
            inner.session = Some(Session::start(&self.command, crate::session::timeout())?);
        }
        let session = inner.session.as_mut().expect("started");
        let result = session.call(verb, body);
        match result {
            Ok(v) => Ok(v),
            Err(ProtocolError::Refused {
                plugin,
                verb,
                error,
                help: general,
            }) => {
                let help = error.help.clone();
                Err(match error.kind {
                    ErrorKind::InvalidConfig => ExternalError::InvalidConfig {
                        cell: self.name.into(),
                        message: error.message,
                        help: help.unwrap_or_else(|| {
                            format!(
                                "check the {} attributes and [workspace.metadata.cell.{}]",
                                self.name, self.name
                            )
                        }),
                    },
                    ErrorKind::Unavailable => ExternalError::Unavailable {
                        cell: self.name.into(),
                        message: error.message,
                        help: help.unwrap_or_else(|| {
                            format!(
                                "`cargo cell status` shows whether it runs; `cargo cell logs {}` what it says",
                                self.name
                            )
                        }),
                    },
                    ErrorKind::UnsupportedVerb => ExternalError::Unsupported {
                        cell: self.name.into(),
                        plugin,
                        verb,
                        message: error.message,
                    },
                    _ => ExternalError::Protocol(ProtocolError::Refused {
                        plugin,
                        verb,
                        error,
                        help: general,
                    }),
                })
            }
            Err(e) => {
                inner.session = None;
                Err(e.into())
            }
        }
    }

    /// The plugin's name, version and negotiated protocol.
    fn plugin_info(&self) -> PluginInfo {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match &inner.session {
            Some(s) => PluginInfo {
                name: s.hello().name.clone(),
                version: s.hello().version.clone(),
                protocol: s.version(),
            },
            None => PluginInfo {
                name: self.command.join(" "),
                version: String::new(),
                protocol: 0,
            },
        }
    }

    /// `describe`, once per process.
    pub fn describe(&self, ws: &Workspace) -> Result<Describe, CellError> {
        if let Some(d) = &self
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .describe
        {
            return Ok(d.clone());
        }
        let d: Describe = self.call(verb::DESCRIBE, &self.info(ws))?;
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .describe = Some(d.clone());
        Ok(d)
    }

    fn read_lock(&self, ws: &Workspace) -> Result<Option<Lock>, ExternalError> {
        let path = ws.lock_path(self.lock_file);
        Lock::read(&path).map_err(|source| ExternalError::Lock {
            cell: self.name.into(),
            path: path.display().to_string(),
            source,
        })
    }

    fn section<'m>(&self, manifest: &'m Manifest) -> Option<&'m ExternalSection> {
        manifest.section::<ExternalSection>(self.name)
    }

    fn request(
        &self,
        ws: &Workspace,
        manifest: &Manifest,
        lock: Option<serde_json::Value>,
        endpoint: Option<EndpointInfo>,
    ) -> PlanRequest {
        PlanRequest {
            cell: self.info(ws),
            manifest: self
                .section(manifest)
                .map(ExternalSection::to_value)
                .unwrap_or_else(|| serde_json::json!({})),
            lock,
            endpoint,
        }
    }

    fn endpoint_info(&self, endpoint: &Endpoint, describe: &Describe) -> EndpointInfo {
        let env = endpoint
            .env
            .iter()
            .filter(|(k, _)| {
                describe.container.env.contains_key(k) || describe.container.secrets.contains(k)
            })
            .cloned()
            .collect();
        EndpointInfo {
            url: endpoint.url.clone(),
            port: endpoint.port,
            env,
        }
    }

    fn plan_now(
        &self,
        ws: &Workspace,
        manifest: &Manifest,
        lock: Option<serde_json::Value>,
        endpoint: Option<EndpointInfo>,
    ) -> Result<ExternalPlan, CellError> {
        let plan: Plan = self.call(verb::PLAN, &self.request(ws, manifest, lock, endpoint))?;
        Ok(ExternalPlan {
            cell: self.name,
            plan,
        })
    }

    fn inconsistent(&self, why: String) -> CellError {
        ExternalError::Inconsistent {
            cell: self.name.into(),
            plugin: self.plugin_info().name,
            why,
        }
        .into()
    }
}

/// `template` with `{port}` and `{env.NAME}` replaced.
pub fn fill_url(template: &str, port: u16, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let key = &rest[start + 1..start + len];
        match key {
            "port" => out.push_str(&port.to_string()),
            _ => match key.strip_prefix("env.").and_then(env) {
                Some(v) => out.push_str(&v),
                None => out.push_str(&rest[start..=start + len]),
            },
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

/// `scheme://user:password@host` → `scheme://user:***@host`, everywhere in `text`.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '/' || c == '"')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon]);
                out.push_str(":***");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `user:password` of a URL, if it has them.
fn userinfo(url: &str) -> Option<(String, String)> {
    let url = reqwest::Url::parse(url).ok()?;
    if url.username().is_empty() {
        return None;
    }
    Some((
        url.username().to_string(),
        url.password().unwrap_or_default().to_string(),
    ))
}

/// One GET of `path` on 127.0.0.1:`port` (with basic auth when the URL has a user): the
/// status code.
async fn http_status(
    port: u16,
    path: &str,
    auth: Option<(String, String)>,
) -> Result<u16, BoxError> {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let client = match CLIENT.get() {
        Some(c) => c,
        // The probe asks the Cell on loopback: never through a proxy.
        None => {
            let built = reqwest::Client::builder().no_proxy().build()?;
            CLIENT.get_or_init(|| built)
        }
    };
    let mut request = client.get(format!("http://127.0.0.1:{port}{path}"));
    if let Some((user, password)) = auth {
        request = request.basic_auth(user, Some(password));
    }
    Ok(request.send().await?.status().as_u16())
}

impl Cell for ExternalCell {
    fn name(&self) -> &'static str {
        self.name
    }

    fn lock_file(&self) -> &'static str {
        self.lock_file
    }

    fn url_env(&self) -> &'static str {
        self.url_env
    }

    fn new_section(&self) -> Box<dyn Section> {
        Box::new(ExternalSection::new(self.name))
    }

    fn read_section(
        &self,
        manifest: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Box<dyn Section>, serde_json::Error> {
        let mut section = match manifest.get(self.name) {
            Some(v) => ExternalSection::deserialize(v)?,
            None => ExternalSection::default(),
        };
        section.cell = self.name;
        Ok(Box::new(section))
    }

    fn lock_state(&self, path: &Path) -> LockState {
        LockState::of::<Lock>(path, |l| (l.count, "items"))
    }

    /// The plugin's plan of the code against the lock, without the service.
    fn check_offline(&self, ws: &Workspace, manifest: &Manifest) -> Result<Checked, CellError> {
        let lock = self.read_lock(ws)?;
        if self.section(manifest).is_none_or(|s| s.is_empty()) && lock.is_none() {
            return Ok(Checked::default());
        }
        let plan = self.plan_now(ws, manifest, lock.map(|l| l.lock), None)?;
        let mut checked = Checked::default();
        if plan.is_empty() {
            let n = self.section(manifest).map_or(0, ExternalSection::len);
            checked.agreed = Some(format!(
                "{}: code and lock agree ({n} item{})",
                self.name,
                if n == 1 { "" } else { "s" }
            ));
        } else {
            checked.problems = plan.problems();
        }
        Ok(checked)
    }

    fn redact(&self, text: &str) -> String {
        redact_urls(text)
    }
}

#[async_trait]
impl LiveCell for ExternalCell {
    /// The container as the plugin describes it; the secrets are the existing container's,
    /// else the state file's, else new.
    async fn container(
        &self,
        cx: &Context<'_>,
        existing: Option<&RunningCell>,
    ) -> Result<ContainerSpec, CellError> {
        let d = blocking(|| self.describe(cx.ws))?;
        let c = &d.container;
        let state: State = cell_core::state::read(cx.ws, self.name).unwrap_or_default();
        let mut env: Vec<(String, String)> = c.env.clone().into_iter().collect();
        for name in &c.secrets {
            let value = existing
                .and_then(|e| e.env_var(name).map(str::to_string))
                .or_else(|| state.secrets.get(name).cloned())
                .unwrap_or_else(|| cell_core::live::random_secret(24));
            env.push((name.clone(), value));
        }
        let image_env = c
            .image_env
            .clone()
            .unwrap_or_else(|| format!("CELL_{}_IMAGE", env_name(self.name)));
        Ok(ContainerSpec {
            cell: self.name.to_string(),
            image: cx.ws.cell_image(self.name, "image", &image_env, &c.image),
            env,
            cmd: c.cmd.clone(),
            container_port: c.port,
            data_path: c.data_path.clone(),
            image_env,
            image_hint: c.image_hint.clone().unwrap_or_default(),
        })
    }

    fn waiting_for(&self) -> &'static str {
        self.waiting_for
    }

    /// The URL from the plugin's template and the container's variables; the secrets go to
    /// the state file.
    fn endpoint(
        &self,
        ws: &Workspace,
        running: &RunningCell,
        spec: Option<&ContainerSpec>,
    ) -> Option<Endpoint> {
        let d = self.describe(ws).ok()?;
        let var = |k: &str| -> Option<String> {
            spec.and_then(|s| s.env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
                .or_else(|| running.env_var(k).map(str::to_string))
        };
        let mut secrets = BTreeMap::new();
        for name in &d.container.secrets {
            secrets.insert(name.clone(), var(name)?);
        }
        let url = fill_url(&d.url, running.host_port, &var);
        let mut endpoint = Endpoint::single(self, url, running);
        for k in d.container.env.keys().chain(&d.container.secrets) {
            if let Some(v) = var(k) {
                endpoint.env.push((k.clone(), v));
            }
        }
        Some(endpoint.with_state(&State { secrets }))
    }

    async fn probe(&self, endpoint: &Endpoint) -> Result<(), BoxError> {
        let readiness = self
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .describe
            .as_ref()
            .map(|d| d.readiness.clone())
            .ok_or("the plugin has not described its Cell")?;
        match readiness {
            Readiness::Tcp => {
                tokio::net::TcpStream::connect(("127.0.0.1", endpoint.port)).await?;
                Ok(())
            }
            Readiness::Http { path, status } => {
                let got = http_status(endpoint.port, &path, userinfo(&endpoint.url)).await?;
                if got == status {
                    Ok(())
                } else {
                    Err(format!("GET {path} answered {got}, not {status}").into())
                }
            }
            Readiness::Exec { cmd } => {
                let engine = cell_core::docker::Engine::connect().await?;
                let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
                let out = engine.exec(&endpoint.container_id, &cmd).await?;
                if out.exit_code == Some(0) {
                    Ok(())
                } else {
                    Err(format!(
                        "`{}` exited {:?}: {}",
                        cmd.join(" "),
                        out.exit_code,
                        out.output.trim()
                    )
                    .into())
                }
            }
        }
    }

    /// On the dev target, for a workspace that uses the Cell: the plugin's plan against the
    /// lock and the running service.
    async fn plan(
        &self,
        cx: &Context<'_>,
        manifest: &Manifest,
    ) -> Result<Option<Box<dyn CellPlan>>, CellError> {
        let Some(endpoint) = cx.up_if_used_in_dev(self, manifest).await? else {
            return Ok(None);
        };
        let plan = blocking(|| -> Result<ExternalPlan, CellError> {
            let d = self.describe(cx.ws)?;
            let lock = self.read_lock(cx.ws)?.map(|l| l.lock);
            self.plan_now(
                cx.ws,
                manifest,
                lock,
                Some(self.endpoint_info(&endpoint, &d)),
            )
        })?;
        Ok(Some(Box::new(plan)))
    }

    /// Plan, apply with the plan's fingerprint, plan again (it must be empty), then the lock.
    async fn apply(
        &self,
        cx: &Context<'_>,
        manifest: &Manifest,
        how: &ApplyOptions<'_>,
    ) -> Result<Applied, CellError> {
        let Some(endpoint) = cx.up_if_used_in_dev(self, manifest).await? else {
            return Ok(Applied::default());
        };
        blocking(|| self.apply_now(cx, manifest, how, &endpoint))
    }
}

impl ExternalCell {
    fn apply_now(
        &self,
        cx: &Context<'_>,
        manifest: &Manifest,
        how: &ApplyOptions<'_>,
        endpoint: &Endpoint,
    ) -> Result<Applied, CellError> {
        let d = self.describe(cx.ws)?;
        let info = self.endpoint_info(endpoint, &d);
        let path = cx.ws.lock_path(self.lock_file);
        let lock = self.read_lock(cx.ws)?.map(|l| l.lock);
        let plan = self.plan_now(cx.ws, manifest, lock.clone(), Some(info.clone()))?;
        let destructive = plan
            .plan
            .changes
            .iter()
            .filter(|c| c.safety == Safety::Destructive)
            .count();
        if destructive > 0 && !how.allow_destructive {
            return Err(ExternalError::Destructive {
                cell: self.name.into(),
                count: destructive,
            }
            .into());
        }
        let text = plan.render(&Render {
            style: &cell_core::plan::Plain,
            with_sql: false,
        });
        if !how.build && !plan.is_empty() {
            print!("{text}");
            let answer =
                cell_core::prompt::confirm(&format!("Apply the {} plan?", self.name), how.yes)
                    .map_err(|source| CoreError::Prompt { source })?;
            if answer != cell_core::prompt::Answer::Yes {
                return Err(ExternalError::NotConfirmed {
                    cell: self.name.into(),
                }
                .into());
            }
        }
        let applied: protocol::Applied = self.call(
            verb::APPLY,
            &ApplyRequest {
                plan: self.request(cx.ws, manifest, lock, Some(info.clone())),
                fingerprint: plan.plan.fingerprint.clone(),
            },
        )?;
        if applied.applied != plan.plan.fingerprint {
            return Err(self.inconsistent(format!(
                "it applied the plan {}, but the plan shown was {}",
                applied.applied, plan.plan.fingerprint
            )));
        }
        if let Some(secret) = crate::secret_in(&applied.lock, Some(&info), &d) {
            return Err(ExternalError::SecretInLock {
                cell: self.name.into(),
                plugin: self.plugin_info().name,
                secret,
            }
            .into());
        }
        let after = self.plan_now(cx.ws, manifest, Some(applied.lock.clone()), Some(info))?;
        if !after.is_empty() {
            let left: Vec<&str> = after
                .plan
                .changes
                .iter()
                .map(|c| c.description.as_str())
                .collect();
            return Err(self.inconsistent(format!(
                "a plan right after its apply still has {} change(s): {}",
                left.len(),
                left.join("; ")
            )));
        }
        if plan.is_empty() {
            cx.ui.info(&format!("{}: no changes", self.name));
        } else {
            cx.ui.info(&format!(
                "{}: applied {}",
                self.name,
                text.trim_end()
                    .trim_start_matches(&format!("{}: ", self.name))
            ));
        }
        let lock = Lock {
            version: Lock::VERSION,
            cell: self.name.to_string(),
            plugin: self.plugin_info(),
            count: applied.count,
            lock: applied.lock,
        };
        if cell_core::lockfile::write_if_changed(&path, &lock.to_bytes()).map_err(|source| {
            CoreError::Write {
                path: path.clone(),
                source,
            }
        })? {
            cx.ui
                .info(&format!("{}: wrote {}", self.name, path.display()));
        }
        Ok(Applied {
            used: true,
            lock_created: false,
        })
    }
}

/// A change, for tests and plugins.
pub fn change(action: Action, description: &str) -> Change {
    Change::new(action, description)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_derived_from_the_cell() {
        let c = ExternalCell::new("rabbit-mq", vec!["cell-rabbit-mq".into()]);
        assert_eq!(
            (c.name(), c.lock_file(), c.url_env()),
            ("rabbit-mq", "rabbit-mq.lock.json", "CELL_RABBIT_MQ_URL")
        );
    }

    #[test]
    fn urls_are_filled_and_redacted() {
        let env = |k: &str| (k == "PASS").then(|| "s3cret".to_string());
        let url = fill_url(
            "http://admin:{env.PASS}@127.0.0.1:{port}/{env.NONE}",
            1234,
            &env,
        );
        assert_eq!(url, "http://admin:s3cret@127.0.0.1:1234/{env.NONE}");
        assert_eq!(
            redact_urls(&format!("url {url} and http://x/ done")),
            "url http://admin:***@127.0.0.1:1234/{env.NONE} and http://x/ done"
        );
        assert_eq!(
            userinfo(&url),
            Some(("admin".to_string(), "s3cret".to_string()))
        );
        assert_eq!(userinfo("http://127.0.0.1:1234/"), None);
    }

    #[test]
    fn the_section_keeps_each_item_once_sorted_by_kind() {
        let cells: [&dyn Cell; 1] = [ExternalCell::leaked("mq", vec![])];
        let mut m = Manifest::new(cells);
        for (kind, v) in [
            ("queue", json!({"name": "b"})),
            ("queue", json!({"name": "a"})),
            ("queue", json!({"name": "b"})),
            ("exchange", json!({"name": "x"})),
        ] {
            m.add(
                cell_core::manifest::Fragment {
                    cell: "mq".into(),
                    kind: kind.into(),
                    value: v,
                },
                "app",
            )
            .unwrap();
        }
        assert_eq!(m.summary(), "1 mq exchange, 2 mq queues");
        let bytes = m.to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            v,
            json!({"mq": {"exchange": [{"name": "x"}], "queue": [{"name": "a"}, {"name": "b"}]}})
        );
        let back = Manifest::from_slice(&bytes, cells).unwrap();
        assert_eq!(back.to_bytes(), bytes);
        assert!(back.declares("mq"));
    }

    #[test]
    fn plans_render_like_every_cells() {
        let plan = ExternalPlan {
            cell: "mq",
            plan: Plan::new(vec![
                change(Action::Create, "queue orders (durable)"),
                change(Action::Delete, "queue old").with_safety(Safety::Destructive),
            ]),
        };
        let text = plan.render(&Render {
            style: &cell_core::plan::Plain,
            with_sql: false,
        });
        assert_eq!(
            text,
            "mq: 1 to add, 0 to change, 1 to destroy\n  + queue orders (durable)\n  - queue old (destructive)\n"
        );
        assert_eq!(plan.flags(), [ReviewFlag::Destructive]);
        assert_eq!(
            plan.to_json().unwrap()["changes"][1]["safety"],
            "destructive"
        );
        let empty = ExternalPlan {
            cell: "mq",
            plan: Plan::new(vec![]),
        };
        assert!(empty.problems().is_empty());
        assert_eq!(
            empty.render(&Render {
                style: &cell_core::plan::Plain,
                with_sql: false
            }),
            "mq: No changes. The service matches the code.\n"
        );
    }

    #[test]
    fn the_lock_records_the_plugin() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mq.lock.json");
        let lock = Lock {
            version: 1,
            cell: "mq".into(),
            plugin: PluginInfo {
                name: "cell-mq".into(),
                version: "0.3.0".into(),
                protocol: 1,
            },
            count: 2,
            lock: json!({"queues": ["a", "b"]}),
        };
        cell_core::lockfile::write_if_changed(&path, &lock.to_bytes()).unwrap();
        let cell = ExternalCell::new("mq", vec![]);
        assert_eq!(cell.lock_state(&path), LockState::present(2, "items"));
        assert_eq!(Lock::read(&path).unwrap().unwrap(), lock);
        std::fs::write(&path, br#"{"version": 2}"#).unwrap();
        assert_eq!(cell.lock_state(&path), LockState::TooNew);
    }
}
