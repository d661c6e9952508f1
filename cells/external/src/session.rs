//! One running plugin: started with [`PLUGIN_FLAG`], its hello read and its version
//! negotiated, then one request line and one answer line at a time. Every read is bounded
//! by a timeout ([`timeout`]): a plugin that hangs is an error naming it. The plugin's
//! stderr is kept (its last lines go into errors); the process is killed when the session
//! is dropped.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::protocol::{Answer, Envelope, ErrorBody, Hello, PLUGIN_FLAG, VERSIONS, negotiate};

/// How long cargo-cell waits for any one line of a plugin, unless `CELL_PLUGIN_TIMEOUT`
/// (seconds) says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
pub const TIMEOUT_ENV: &str = "CELL_PLUGIN_TIMEOUT";

/// The timeout: `CELL_PLUGIN_TIMEOUT` seconds when set and valid, else 60 s.
pub fn timeout() -> Duration {
    std::env::var(TIMEOUT_ENV)
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// What can go wrong talking to a plugin. `plugin` is its command line as configured.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum ProtocolError {
    #[error("cannot start the Cell plugin `{plugin}`")]
    #[diagnostic(
        code(cell::external::spawn),
        help(
            "install it so `{plugin}` runs (an external Cell `<name>` is `cell-<name>` on PATH), or name its command in `[workspace.metadata.cell.cells.<name>] command = \"...\"`"
        )
    )]
    Spawn {
        plugin: String,
        #[source]
        source: std::io::Error,
    },

    #[error("the Cell plugin `{plugin}` did not answer {waiting_for} within {seconds} s")]
    #[diagnostic(
        code(cell::external::timeout),
        help(
            "the plugin hangs or is very slow; its last stderr lines:\n{stderr}\nraise CELL_PLUGIN_TIMEOUT (seconds, default 60) if it is only slow"
        )
    )]
    Timeout {
        plugin: String,
        waiting_for: String,
        seconds: f64,
        stderr: String,
    },

    #[error("the Cell plugin `{plugin}` exited before answering {waiting_for}")]
    #[diagnostic(
        code(cell::external::closed),
        help("its last stderr lines:\n{stderr}\nrun `{plugin} {flag}` by hand to see it fail", flag = PLUGIN_FLAG)
    )]
    Closed {
        plugin: String,
        waiting_for: String,
        stderr: String,
    },

    #[error("the Cell plugin `{plugin}` wrote a line that is not its {waiting_for}: {line:?}")]
    #[diagnostic(
        code(cell::external::malformed),
        help(
            "a plugin writes one JSON object per line on stdout and nothing else (logs go to stderr); see docs/cell-protocol.md. This is a bug in the plugin"
        )
    )]
    Malformed {
        plugin: String,
        waiting_for: String,
        line: String,
        #[source]
        source: serde_json::Error,
    },

    #[error(
        "the Cell plugin `{plugin}` speaks protocol version {theirs:?}, this cargo-cell speaks {ours:?}"
    )]
    #[diagnostic(
        code(cell::external::version),
        help(
            "install a version of the plugin that speaks one of {ours:?}, or a cargo-cell that speaks one of {theirs:?}"
        )
    )]
    Version {
        plugin: String,
        theirs: Vec<u32>,
        ours: Vec<u32>,
    },

    #[error("the Cell plugin `{plugin}` refused `{verb}` ({}): {}", error.kind.as_str(), error.message)]
    #[diagnostic(code(cell::external::refused), help("{help}"))]
    Refused {
        plugin: String,
        verb: String,
        error: Box<ErrorBody>,
        /// The plugin's help, else a general one.
        help: String,
    },
}

impl ProtocolError {
    /// The plugin's typed error, when it answered with one.
    pub fn refusal(&self) -> Option<&ErrorBody> {
        match self {
            ProtocolError::Refused { error, .. } => Some(error.as_ref()),
            _ => None,
        }
    }
}

/// A running plugin after its hello.
pub struct Session {
    plugin: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<std::io::Result<String>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    timeout: Duration,
    hello: Hello,
    version: u32,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("plugin", &self.plugin)
            .field("hello", &self.hello)
            .finish()
    }
}

const STDERR_LINES: usize = 20;

impl Session {
    /// Starts `command` (program and arguments) with [`PLUGIN_FLAG`], reads its hello and
    /// negotiates the version.
    pub fn start(command: &[String], timeout: Duration) -> Result<Session, ProtocolError> {
        let plugin = command.join(" ");
        let (program, args) = command.split_first().ok_or_else(|| ProtocolError::Spawn {
            plugin: plugin.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"),
        })?;
        let mut child = Command::new(program)
            .args(args)
            .arg(PLUGIN_FLAG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| ProtocolError::Spawn {
                plugin: plugin.clone(),
                source,
            })?;
        let stdout = child.stdout.take().expect("piped");
        let stderr_pipe = child.stderr.take().expect("piped");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let end = line.is_err();
                if tx.send(line).is_err() || end {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let tail = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                let mut tail = tail.lock().unwrap_or_else(|p| p.into_inner());
                if tail.len() == STDERR_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        let mut session = Session {
            plugin,
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            timeout,
            hello: Hello {
                v: Vec::new(),
                name: String::new(),
                version: String::new(),
            },
            version: 0,
        };
        let line = session.read_line("hello")?;
        let hello: Hello =
            serde_json::from_str(&line).map_err(|source| ProtocolError::Malformed {
                plugin: session.plugin.clone(),
                waiting_for: "hello".into(),
                line: line.clone(),
                source,
            })?;
        session.version = negotiate(VERSIONS, &hello.v).ok_or_else(|| ProtocolError::Version {
            plugin: session.plugin.clone(),
            theirs: hello.v.clone(),
            ours: VERSIONS.to_vec(),
        })?;
        session.hello = hello;
        Ok(session)
    }

    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// The negotiated protocol version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The command line, as messages name the plugin.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// Sends `verb` with `body` and reads the answer: `Ok` of its `ok`, or the plugin's
    /// typed error as [`ProtocolError::Refused`].
    pub fn call<T: DeserializeOwned>(
        &mut self,
        verb: &str,
        body: &impl Serialize,
    ) -> Result<T, ProtocolError> {
        let line = serde_json::to_string(&Envelope {
            v: self.version,
            verb: verb.to_string(),
            body,
        })
        .expect("requests serialise");
        self.send_line(&line, verb)?;
        let answer = self.read_line(&format!("`{verb}`"))?;
        match serde_json::from_str::<Answer<T>>(&answer) {
            Ok(Answer::Ok(value)) => Ok(value),
            Ok(Answer::Error(error)) => Err(ProtocolError::Refused {
                plugin: self.plugin.clone(),
                verb: verb.to_string(),
                help: error.help.clone().unwrap_or_else(|| {
                    "the plugin says what went wrong above; `cargo cell plan` shows what it was asked, its documentation what it needs".into()
                }),
                error: Box::new(error),
            }),
            Err(source) => Err(ProtocolError::Malformed {
                plugin: self.plugin.clone(),
                waiting_for: format!("answer to `{verb}`"),
                line: answer,
                source,
            }),
        }
    }

    /// Writes one raw line (the conformance test sends malformed ones).
    pub fn send_line(&mut self, line: &str, verb: &str) -> Result<(), ProtocolError> {
        let closed = |s: &Session| ProtocolError::Closed {
            plugin: s.plugin.clone(),
            waiting_for: format!("`{verb}`"),
            stderr: s.stderr_tail(),
        };
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(closed(self));
        };
        if stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.write_all(b"\n"))
            .and_then(|()| stdin.flush())
            .is_err()
        {
            return Err(closed(self));
        }
        Ok(())
    }

    /// The next line of stdout, within the timeout.
    pub fn read_line(&mut self, waiting_for: &str) -> Result<String, ProtocolError> {
        match self.lines.recv_timeout(self.timeout) {
            Ok(Ok(line)) => Ok(line),
            Ok(Err(_)) | Err(RecvTimeoutError::Disconnected) => {
                // Let the stderr thread catch the last lines of a plugin that just exited.
                let _ = self.child.wait();
                std::thread::sleep(Duration::from_millis(20));
                Err(ProtocolError::Closed {
                    plugin: self.plugin.clone(),
                    waiting_for: waiting_for.to_string(),
                    stderr: self.stderr_tail(),
                })
            }
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                Err(ProtocolError::Timeout {
                    plugin: self.plugin.clone(),
                    waiting_for: waiting_for.to_string(),
                    seconds: self.timeout.as_secs_f64(),
                    stderr: self.stderr_tail(),
                })
            }
        }
    }

    /// The plugin's last stderr lines, indented, or `  (none)`.
    pub fn stderr_tail(&self) -> String {
        let tail = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        if tail.is_empty() {
            return "  (none)".to_string();
        }
        tail.iter()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Session {
    /// Closes its stdin (a plugin ends on end of input), then kills what is left.
    fn drop(&mut self) {
        drop(self.stdin.take());
        for _ in 0..20 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into(), "plugin".into()]
    }

    #[test]
    fn reads_the_hello_and_refuses_other_versions_naming_both() {
        let s = Session::start(
            &sh(r#"echo '{"v":[1],"name":"cell-t","version":"1.2.3"}'; cat >/dev/null"#),
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!((s.hello().name.as_str(), s.version()), ("cell-t", 1));

        let e = Session::start(
            &sh(r#"echo '{"v":[7,8],"name":"cell-t","version":"1"}'"#),
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert!(matches!(e, ProtocolError::Version { .. }), "{e:?}");
        assert!(
            e.to_string().contains("[7, 8]") && e.to_string().contains("[1]"),
            "{e}"
        );
    }

    #[test]
    fn a_hang_is_bounded_and_named() {
        let e = Session::start(&sh("sleep 30"), Duration::from_millis(300)).unwrap_err();
        assert!(matches!(e, ProtocolError::Timeout { .. }), "{e:?}");
        assert!(
            e.to_string().starts_with("the Cell plugin `sh -c sleep 30"),
            "{e}"
        );
    }

    #[test]
    fn malformed_lines_and_early_exits_are_errors_with_stderr() {
        let e = Session::start(&sh("echo hello there"), Duration::from_secs(5)).unwrap_err();
        assert!(matches!(e, ProtocolError::Malformed { .. }), "{e:?}");
        let e = Session::start(&sh("echo broken >&2; exit 3"), Duration::from_secs(5)).unwrap_err();
        let ProtocolError::Closed { stderr, .. } = &e else {
            panic!("{e:?}")
        };
        assert!(stderr.contains("broken"), "{stderr}");
        let e = Session::start(&["/nonexistent/cell-x".to_string()], Duration::from_secs(1))
            .unwrap_err();
        assert!(matches!(e, ProtocolError::Spawn { .. }), "{e:?}");
    }

    #[test]
    fn answers_are_ok_or_typed_errors() {
        let mut s = Session::start(
            &sh(r#"echo '{"v":[1],"name":"t","version":"0"}'
read l; echo '{"ok": {"n": 1}}'
read l; echo '{"error": {"kind": "invalid_config", "message": "bad queue"}}'
read l; echo 'not json'"#),
            Duration::from_secs(5),
        )
        .unwrap();
        let v: serde_json::Value = s.call("describe", &serde_json::json!({})).unwrap();
        assert_eq!(v, serde_json::json!({"n": 1}));
        let e = s
            .call::<serde_json::Value>("plan", &serde_json::json!({}))
            .unwrap_err();
        assert_eq!(
            e.refusal().map(|r| r.kind),
            Some(crate::protocol::ErrorKind::InvalidConfig)
        );
        let e = s
            .call::<serde_json::Value>("plan", &serde_json::json!({}))
            .unwrap_err();
        assert!(matches!(e, ProtocolError::Malformed { .. }), "{e:?}");
    }
}
