//! Phase 2 started before phase 1 is over, when it is likely to stand.
//!
//! When the Cell runs exactly as the last converge left it (see [`crate::converged`]), the
//! only thing that can make the phase-2 `cargo build` wrong is a change of the manifest,
//! which the record step is computing at that moment. So `cargo cell build` starts the
//! phase-2 build at once, beside the record step, with its output held back. When the
//! recorded manifest is the converged one, the lock will not change: the held output is
//! written out and the rest passes through as it comes (an edited function body costs the
//! longer of check and build, not their sum). Otherwise the build is interrupted like a
//! Ctrl-C (its whole process group gets SIGINT), its output is dropped, and the normal
//! path runs: converge, then a fresh phase-2 build against the new lock.

use std::io::{IsTerminal, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;

use cell_core::ui::Ui;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Hold,
    Pass,
    Drop,
}

struct Held {
    mode: Mode,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// A phase-2 build running ahead; dropped without [`Speculative::confirm`], it is cancelled.
pub struct Speculative {
    child: Option<Child>,
    held: Arc<Mutex<Held>>,
    readers: Vec<JoinHandle<()>>,
    pub started: Instant,
}

/// Starts `cmd` (the phase-2 `cargo build`) with its output held back. `None` when it
/// cannot be started; the caller then builds the normal way.
pub fn start(mut cmd: Command, ui: &Ui) -> Option<Speculative> {
    // Held output is no terminal: keep cargo's colours when ours would have them.
    if std::io::stderr().is_terminal() && std::env::var_os("CARGO_TERM_COLOR").is_none() {
        cmd.env("CARGO_TERM_COLOR", "always");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own process group, so that cancelling reaches the rustc processes too.
        cmd.process_group(0);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    ui.verbose(&format!("running ahead: {cmd:?}"));
    let started = Instant::now();
    let mut child = cmd.spawn().ok()?;
    let held = Arc::new(Mutex::new(Held {
        mode: Mode::Hold,
        stdout: Vec::new(),
        stderr: Vec::new(),
    }));
    let mut readers = Vec::new();
    let out = child
        .stdout
        .take()
        .map(|s| Box::new(s) as Box<dyn Read + Send>);
    let err = child
        .stderr
        .take()
        .map(|s| Box::new(s) as Box<dyn Read + Send>);
    for (is_err, pipe) in [(false, out), (true, err)] {
        let Some(mut pipe) = pipe else { continue };
        let held = held.clone();
        readers.push(std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut h = held.lock().unwrap_or_else(PoisonError::into_inner);
                match h.mode {
                    Mode::Hold if is_err => h.stderr.extend_from_slice(&buf[..n]),
                    Mode::Hold => h.stdout.extend_from_slice(&buf[..n]),
                    Mode::Pass if is_err => {
                        let _ = std::io::stderr().write_all(&buf[..n]);
                    }
                    Mode::Pass => {
                        let _ = std::io::stdout().write_all(&buf[..n]);
                    }
                    Mode::Drop => {}
                }
            }
        }));
    }
    Some(Speculative {
        child: Some(child),
        held,
        readers,
        started,
    })
}

impl Speculative {
    /// The build stands: show what it wrote so far, pass the rest through, wait for it.
    /// Returns whether it succeeded.
    pub fn confirm(mut self, ui: &Ui) -> std::io::Result<bool> {
        ui.suspend(|| {
            {
                let mut h = self.held.lock().unwrap_or_else(PoisonError::into_inner);
                let _ = std::io::stdout().write_all(&std::mem::take(&mut h.stdout));
                let _ = std::io::stderr().write_all(&std::mem::take(&mut h.stderr));
                h.mode = Mode::Pass;
            }
            let status = self.child.take().expect("not waited yet").wait();
            for r in self.readers.drain(..) {
                let _ = r.join();
            }
            status.map(|s| s.success())
        })
    }

    fn cancel(&mut self) {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .mode = Mode::Drop;
        let Some(mut child) = self.child.take() else {
            return;
        };
        #[cfg(unix)]
        {
            // Like Ctrl-C in a terminal: the whole group (cargo and its rustc processes).
            let _ = Command::new("kill")
                .args(["-INT", "--", &format!("-{}", child.id())])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        #[cfg(not(unix))]
        let _ = child.kill();
        let _ = child.wait();
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

impl Drop for Speculative {
    fn drop(&mut self) {
        self.cancel();
    }
}
