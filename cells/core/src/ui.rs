//! Progress output on stderr.
//!
//! On a terminal (and not `--quiet`) every [`Task`] is a spinner line in one
//! [`MultiProgress`], so several Cells can start side by side. Everywhere else
//! (CI logs, pipes, files) a task is written as plain lines: no ANSI escapes,
//! no carriage returns, nothing that assumes a terminal.
//!
//! [`Ui`] is cheap to clone and can be shared across tasks and threads.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a spinner moves.
const TICK: Duration = Duration::from_millis(100);
/// In plain mode, the least time between two progress lines of one task (`-v` only).
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(2);

const SPINNER: &[&str] = &["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏", "⠏"];

/// Where output goes and how much of it.
#[derive(Clone)]
pub struct Ui {
    inner: Arc<Inner>,
}

struct Inner {
    quiet: bool,
    verbose: bool,
    out: Output,
}

enum Output {
    /// A terminal: live spinners.
    Bars(MultiProgress),
    /// Anything else: one line per event.
    Plain(Mutex<Box<dyn Write + Send>>),
}

impl Ui {
    /// Output for the command line: spinners when stderr is a terminal and not
    /// `quiet`, plain lines on stderr otherwise.
    ///
    /// `quiet` hides everything but failures; `verbose` adds [`Ui::verbose`]
    /// lines (and, without a terminal, throttled progress lines).
    pub fn new(quiet: bool, verbose: bool) -> Ui {
        if !quiet && std::io::stderr().is_terminal() {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            Ui::with_output(quiet, verbose, Output::Bars(multi))
        } else {
            Ui::plain(std::io::stderr(), quiet, verbose)
        }
    }

    /// Plain-line output to `writer`, whatever it is. For tests and for
    /// callers that capture output.
    pub fn plain(writer: impl Write + Send + 'static, quiet: bool, verbose: bool) -> Ui {
        Ui::with_output(quiet, verbose, Output::Plain(Mutex::new(Box::new(writer))))
    }

    /// Output that shows nothing at all (not even failures).
    pub fn silent() -> Ui {
        Ui::plain(std::io::sink(), true, false)
    }

    fn with_output(quiet: bool, verbose: bool, out: Output) -> Ui {
        Ui {
            inner: Arc::new(Inner {
                quiet,
                verbose: verbose && !quiet,
                out,
            }),
        }
    }

    /// Whether progress is drawn as live spinners.
    pub fn is_interactive(&self) -> bool {
        matches!(self.inner.out, Output::Bars(_))
    }

    /// Whether `-v` was given (and not `--quiet`).
    pub fn is_verbose(&self) -> bool {
        self.inner.verbose
    }

    /// Start a line of progress, such as `postgres  starting container`.
    /// `prefix` names what the line is about (usually a Cell).
    pub fn task(&self, prefix: &str, msg: &str) -> Task {
        let bar = match &self.inner.out {
            Output::Bars(multi) => {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(spinner_style(Outcome::Running));
                bar.set_prefix(prefix.to_owned());
                bar.set_message(msg.to_owned());
                bar.enable_steady_tick(TICK);
                Some(bar)
            }
            Output::Plain(_) => {
                if !self.inner.quiet {
                    self.inner.line(&format!("{prefix}: {msg}"));
                }
                None
            }
        };
        Task {
            ui: self.clone(),
            prefix: prefix.to_owned(),
            bar,
            state: Mutex::new(TaskState {
                last_plain: Instant::now(),
                last_msg: msg.to_owned(),
                done: false,
            }),
        }
    }

    /// A line of information (hidden by `--quiet`).
    pub fn info(&self, msg: &str) {
        if !self.inner.quiet {
            self.inner.line(msg);
        }
    }

    /// A line shown only with `-v`.
    pub fn verbose(&self, msg: &str) {
        if self.inner.verbose {
            self.inner.line(msg);
        }
    }

    /// A warning, shown even with `--quiet`.
    pub fn warn(&self, msg: &str) {
        self.inner.line(&format!("warning: {msg}"));
    }

    /// Run `f` with the spinners cleared, so that it can write to the
    /// terminal (compiler diagnostics, a child's output) without the two
    /// getting mixed; the spinners are drawn again afterwards.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.inner.out {
            Output::Bars(multi) => multi.suspend(f),
            Output::Plain(writer) => {
                // Flush what we wrote so far, then let `f` write in order.
                let _ = lock(writer).flush();
                f()
            }
        }
    }
}

impl std::fmt::Debug for Ui {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ui")
            .field("interactive", &self.is_interactive())
            .field("quiet", &self.inner.quiet)
            .field("verbose", &self.inner.verbose)
            .finish()
    }
}

impl Inner {
    /// One whole line, above the spinners or on its own.
    fn line(&self, msg: &str) {
        match &self.out {
            Output::Bars(multi) => {
                // `println` does nothing when the target is hidden; fall back
                // to stderr so the line is never lost.
                if multi.is_hidden() || multi.println(msg).is_err() {
                    eprintln!("{msg}");
                }
            }
            Output::Plain(writer) => {
                let mut w = lock(writer);
                // Never let a stray carriage return or escape reach a log.
                let clean: String = msg
                    .chars()
                    .map(|c| if c == '\r' || c == '\x1b' { ' ' } else { c })
                    .collect();
                let _ = writeln!(w, "{clean}");
                let _ = w.flush();
            }
        }
    }
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Clone, Copy)]
enum Outcome {
    Running,
    Done,
    Failed,
}

fn spinner_style(outcome: Outcome) -> ProgressStyle {
    // The last tick string is what a finished spinner shows.
    let (template, ticks): (&str, Vec<&str>) = match outcome {
        Outcome::Running => (
            "{spinner:.cyan} {prefix:.bold} {wide_msg}",
            SPINNER.to_vec(),
        ),
        Outcome::Done => ("{spinner:.green} {prefix:.bold} {wide_msg}", vec!["✓"]),
        Outcome::Failed => ("{spinner:.red} {prefix:.bold} {wide_msg:.red}", vec!["✗"]),
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .tick_strings(&ticks)
}

/// One line of progress; see [`Ui::task`].
///
/// End it with [`Task::finish`] or [`Task::fail`]. A task dropped without
/// either is left as it was (its last message stays on screen).
pub struct Task {
    ui: Ui,
    prefix: String,
    bar: Option<ProgressBar>,
    state: Mutex<TaskState>,
}

struct TaskState {
    last_plain: Instant,
    last_msg: String,
    done: bool,
}

impl Task {
    /// Change what the line says. Without a terminal, progress is written
    /// only with `-v`, at most every two seconds.
    pub fn set_message(&self, msg: impl Into<Cow<'static, str>>) {
        let msg = msg.into();
        if let Some(bar) = &self.bar {
            bar.set_message(msg);
            return;
        }
        let mut state = lock(&self.state);
        if state.done || state.last_msg == msg {
            return;
        }
        state.last_msg = msg.to_string();
        if self.ui.inner.verbose && state.last_plain.elapsed() >= PLAIN_PROGRESS_EVERY {
            state.last_plain = Instant::now();
            self.ui.inner.line(&format!("{}: {msg}", self.prefix));
        }
    }

    /// End the line as a success.
    pub fn finish(&self, msg: impl Into<Cow<'static, str>>) {
        self.end(Outcome::Done, msg.into());
    }

    /// End the line as a failure. Shown even with `--quiet`.
    pub fn fail(&self, msg: impl Into<Cow<'static, str>>) {
        self.end(Outcome::Failed, msg.into());
    }

    fn end(&self, outcome: Outcome, msg: Cow<'static, str>) {
        {
            let mut state = lock(&self.state);
            if state.done {
                return;
            }
            state.done = true;
        }
        match &self.bar {
            Some(bar) => {
                bar.set_style(spinner_style(outcome));
                match outcome {
                    Outcome::Failed => bar.abandon_with_message(msg),
                    _ => bar.finish_with_message(msg),
                }
            }
            None => match outcome {
                Outcome::Failed => self
                    .ui
                    .inner
                    .line(&format!("{}: failed: {msg}", self.prefix)),
                _ if !self.ui.inner.quiet => {
                    self.ui.inner.line(&format!("{}: {msg}", self.prefix));
                }
                _ => {}
            },
        }
    }
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        // A spinner that nobody finished must not keep ticking.
        if let Some(bar) = &self.bar
            && !bar.is_finished()
        {
            bar.abandon();
        }
    }
}

/// Colours for a terminal that wants them (stdout is a terminal, `NO_COLOR` unset): the
/// [`crate::plan::Style`] every Cell's plan is rendered with there.
pub struct Colours;

impl Colours {
    pub fn wanted() -> bool {
        std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
    }
}

impl crate::plan::Style for Colours {
    fn action(&self, action: crate::plan::Action, text: &str) -> String {
        use crate::plan::Action;
        let s = console::style(text);
        match action {
            Action::Create => s.green(),
            Action::Update => s.yellow(),
            Action::Delete => s.red(),
            Action::Replace => s.magenta(),
        }
        .force_styling(true)
        .to_string()
    }

    fn warning(&self, safety: crate::plan::Safety, text: &str) -> String {
        use crate::plan::Safety;
        match safety {
            Safety::Safe => text.to_string(),
            Safety::DataDependent => console::style(text)
                .yellow()
                .force_styling(true)
                .to_string(),
            Safety::Destructive => console::style(text)
                .red()
                .bold()
                .force_styling(true)
                .to_string(),
        }
    }

    fn dim(&self, text: &str) -> String {
        console::style(text).dim().force_styling(true).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose bytes the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(lock(&self.0).clone()).unwrap()
        }
    }

    fn ui(quiet: bool, verbose: bool) -> (Ui, Captured) {
        let out = Captured::default();
        (Ui::plain(out.clone(), quiet, verbose), out)
    }

    #[test]
    fn plain_task_writes_start_and_end_lines() {
        let (ui, out) = ui(false, false);
        let task = ui.task("postgres", "starting cargo-cell/postgres:15");
        task.set_message("waiting for the server");
        task.finish("ready on 127.0.0.1:49153");
        task.finish("twice");
        assert_eq!(
            out.text(),
            "postgres: starting cargo-cell/postgres:15\npostgres: ready on 127.0.0.1:49153\n"
        );
    }

    #[test]
    fn plain_output_has_no_escapes_or_carriage_returns() {
        let (ui, out) = ui(false, true);
        ui.info("a\rb\x1b[31mc");
        let task = ui.task("redis", "x");
        task.fail("boom\r");
        let text = out.text();
        assert!(!text.contains('\r') && !text.contains('\x1b'), "{text:?}");
        assert!(text.contains("redis: failed: boom"), "{text:?}");
    }

    #[test]
    fn quiet_shows_only_failures() {
        let (ui, out) = ui(true, true);
        ui.info("info");
        ui.verbose("verbose");
        let t = ui.task("postgres", "starting");
        t.finish("ready");
        let t = ui.task("redis", "starting");
        t.fail("no image");
        assert_eq!(out.text(), "redis: failed: no image\n");
    }

    #[test]
    fn verbose_lines_need_verbose() {
        let (ui, out) = ui(false, false);
        ui.verbose("hidden");
        ui.info("shown");
        assert_eq!(out.text(), "shown\n");
        let (ui, out) = ui_verbose();
        ui.verbose("shown");
        assert_eq!(out.text(), "shown\n");
    }

    fn ui_verbose() -> (Ui, Captured) {
        ui(false, true)
    }

    #[test]
    fn suspend_returns_the_closure_value() {
        let (ui, _) = ui(false, false);
        assert_eq!(ui.suspend(|| 7), 7);
    }

    #[test]
    fn ui_is_send_sync_and_clone() {
        fn check<T: Send + Sync + Clone>() {}
        fn check_task<T: Send + Sync>() {}
        check::<Ui>();
        check_task::<Task>();
    }
}
