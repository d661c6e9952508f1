//! `cargo cell completions SHELL`: a completion script for `cargo cell`, from the clap
//! definition.
//!
//! ```sh
//! cargo cell completions bash > ~/.local/share/bash-completion/completions/cargo-cell
//! cargo cell completions zsh > ~/.zfunc/_cargo-cell
//! cargo cell completions fish > ~/.config/fish/completions/cargo-cell.fish
//! ```

use std::process::ExitCode;

use clap_complete::Shell;

use crate::cli::CompletionsArgs;

/// Writes the script for `shell` to `out`.
pub fn write(shell: Shell, out: &mut dyn std::io::Write) {
    let mut cmd = crate::cli::command();
    clap_complete::generate(shell, &mut cmd, "cargo", out);
}

pub fn print(args: CompletionsArgs) -> ExitCode {
    write(args.shell, &mut std::io::stdout());
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_script_completes_the_subcommands() {
        let mut out = Vec::new();
        write(Shell::Bash, &mut out);
        let script = String::from_utf8(out).unwrap();
        for word in [
            "build",
            "status",
            "logs",
            "reset",
            "completions",
            "--template",
            "token",
        ] {
            assert!(script.contains(word), "{word} missing");
        }
    }
}
