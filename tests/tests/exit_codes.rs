//! `cargo cell`'s exit codes, against the real binary: each kind of outcome a script can
//! branch on gives its documented code (docs/commands.md, `cargo_cell::exit::Exit`), and
//! `run` passes the program's own code through.
//!
//! One app goes through the rows in order (each row's state builds on the one before), so
//! the whole table costs one compile of the fixture and one Postgres Cell.

use std::collections::BTreeSet;

use cargo_cell::exit::Exit;
use cell_e2e::{App, docker_available};

/// What a row does to the app before its command.
enum Setup {
    None,
    Edit {
        file: &'static str,
        from: &'static str,
        to: &'static str,
    },
    Write {
        file: &'static str,
        text: &'static str,
    },
}

struct Row {
    what: &'static str,
    setup: Setup,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    /// A documented code, or the program's own (for `run`).
    expect: Result<Exit, i32>,
}

#[test]
fn each_outcome_exits_with_its_documented_code() {
    if !docker_available() {
        return;
    }
    let app = App::copy_fixture("cell-bugs");
    app.write("src/lib.rs", "pub mod table;\n");
    let rows = [
        Row {
            what: "a usage error (not clap's 2, which means changes)",
            setup: Setup::None,
            args: &["plan", "--no-such-flag"],
            env: &[],
            expect: Ok(Exit::Usage),
        },
        Row {
            what: "an unknown subcommand",
            setup: Setup::None,
            args: &["frobnicate"],
            env: &[],
            expect: Ok(Exit::Usage),
        },
        Row {
            what: "--help is no error",
            setup: Setup::None,
            args: &["plan", "--help"],
            env: &[],
            expect: Ok(Exit::Ok),
        },
        Row {
            what: "a workspace that cannot be read: an error without a code of its own",
            setup: Setup::None,
            args: &["status", "--manifest-path", "/nonexistent/Cargo.toml"],
            env: &[],
            expect: Ok(Exit::Error),
        },
        Row {
            what: "Docker unreachable",
            setup: Setup::None,
            args: &["build"],
            env: &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
            expect: Ok(Exit::DockerUnreachable),
        },
        Row {
            what: "a build that succeeds",
            setup: Setup::None,
            args: &["build"],
            env: &[],
            expect: Ok(Exit::Ok),
        },
        Row {
            what: "a plan without changes",
            setup: Setup::None,
            args: &["plan", "--detailed-exitcode"],
            env: &[],
            expect: Ok(Exit::Ok),
        },
        Row {
            what: "`run` passes the program's code through",
            setup: Setup::Write {
                file: "src/main.rs",
                text: "fn main() {\n    std::process::exit(7);\n}\n",
            },
            args: &["run", "--offline", "-q"],
            env: &[],
            expect: Err(7),
        },
        Row {
            what: "a plan with changes, under --detailed-exitcode",
            setup: Setup::Edit {
                file: "src/table.rs",
                from: "pub title: String,",
                to: "pub title: String,\n    pub note: Option<String>,",
            },
            args: &["plan", "--detailed-exitcode"],
            env: &[],
            expect: Ok(Exit::Changes),
        },
        Row {
            what: "the same changes without --detailed-exitcode",
            setup: Setup::None,
            args: &["plan"],
            env: &[],
            expect: Ok(Exit::Ok),
        },
        Row {
            what: "code and lock disagree",
            setup: Setup::None,
            args: &["check"],
            env: &[],
            expect: Ok(Exit::LockMismatch),
        },
        Row {
            what: "a destructive change refused",
            setup: Setup::Edit {
                file: "src/table.rs",
                from: "pub title: String,\n    pub note: Option<String>,",
                to: "",
            },
            args: &["build"],
            env: &[],
            expect: Ok(Exit::Refused),
        },
    ];
    let mut seen = BTreeSet::new();
    let mut failures = Vec::new();
    for row in &rows {
        match row.setup {
            Setup::None => {}
            Setup::Edit { file, from, to } => app.edit(file, from, to),
            Setup::Write { file, text } => app.write(file, text),
        }
        let run = app.cargo_cell_with(row.args, row.env);
        let want = match row.expect {
            Ok(exit) => {
                seen.insert(exit.code());
                i32::from(exit.code())
            }
            Err(code) => code,
        };
        if run.status.code() != Some(want) {
            failures.push(format!(
                "{}: `cargo cell {}` exited {:?}, not {want}\n{}",
                row.what,
                row.args.join(" "),
                run.status.code(),
                run.output()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Every documented code has a row.
    let all: BTreeSet<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
    assert_eq!(seen, all, "a documented exit code has no row in this table");
    // The refused change changed nothing: the column is still there.
    let titles = app.psql(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'title'",
    );
    assert_eq!(titles.trim(), "1", "the refused drop left the column");
}
