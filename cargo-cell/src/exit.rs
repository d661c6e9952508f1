//! The exit codes of `cargo cell`, as nextest documents its own: scripts and CI branch on
//! them, so each is a promise (the table in docs/commands.md). A code is never reused for
//! another meaning; new kinds get new codes.
//!
//! `cargo cell run` and `cargo cell test` are the exception: once the child cargo runs,
//! they exit with the child's code unchanged (a signal gives 128 + its number, as shells do).

use std::process::ExitCode;

/// One documented exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exit {
    /// 0: done, and for `plan --detailed-exitcode`: no changes.
    Ok,
    /// 1: any failure without a code of its own below.
    Error,
    /// 2: `plan --detailed-exitcode` found changes (Terraform's convention).
    Changes,
    /// 3: the code and the committed locks disagree (`check`, `plan --check`).
    LockMismatch,
    /// 4: a change was refused: it loses data or depends on the data (`--allow-destructive`
    /// or fixing the data lets it through).
    Refused,
    /// 5: the Docker engine cannot be reached (not running, no permission, bad `DOCKER_HOST`).
    DockerUnreachable,
    /// 64: the command line is wrong (EX_USAGE from sysexits.h; clap's own 2 would collide
    /// with [`Exit::Changes`]).
    Usage,
}

impl Exit {
    /// Every code, in the order of the documented table.
    pub const ALL: [Exit; 7] = [
        Exit::Ok,
        Exit::Error,
        Exit::Changes,
        Exit::LockMismatch,
        Exit::Refused,
        Exit::DockerUnreachable,
        Exit::Usage,
    ];

    pub const fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Error => 1,
            Exit::Changes => 2,
            Exit::LockMismatch => 3,
            Exit::Refused => 4,
            Exit::DockerUnreachable => 5,
            Exit::Usage => 64,
        }
    }

    /// What the code means, as docs/commands.md says it.
    pub const fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "success (for `plan --detailed-exitcode`: no changes)",
            Exit::Error => "an error without a code of its own",
            Exit::Changes => "`plan --detailed-exitcode`: the plan has changes",
            Exit::LockMismatch => {
                "the code and the committed locks disagree (`check`, `plan --check`)"
            }
            Exit::Refused => "a destructive or data-dependent change was refused",
            Exit::DockerUnreachable => "the Docker engine cannot be reached",
            Exit::Usage => "the command line is wrong",
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

/// The code a child process's `status` passes on: its own, or 128 + the signal that ended it.
pub fn of_child(status: std::process::ExitStatus) -> ExitCode {
    if let Some(code) = status.code() {
        // Unix codes are 0..=255; elsewhere a wider code is clamped rather than wrapped.
        return ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return ExitCode::from(128u8.saturating_add(u8::try_from(signal).unwrap_or(127)));
        }
    }
    Exit::Error.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_documented() {
        let mut codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), Exit::ALL.len());
        let doc =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/commands.md"))
                .expect("docs/commands.md");
        for e in Exit::ALL {
            let row = format!("| {} | {} |", e.code(), e.meaning());
            assert!(doc.contains(&row), "docs/commands.md lacks the row `{row}`");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_child_s_code_and_signal_pass_through() {
        use std::os::unix::process::ExitStatusExt;
        let code = |raw| format!("{:?}", of_child(std::process::ExitStatus::from_raw(raw)));
        assert_eq!(code(7 << 8), format!("{:?}", ExitCode::from(7)));
        assert_eq!(code(101 << 8), format!("{:?}", ExitCode::from(101)));
        // Killed by SIGKILL (9).
        assert_eq!(code(9), format!("{:?}", ExitCode::from(137)));
    }
}
