//! The one confirmation prompt: `cargo cell apply` and `cargo cell reset` ask the same way
//! and accept the same answers. Nothing ever waits on a prompt nobody can answer: without a
//! terminal it returns [`Answer::NoTerminal`] at once.

use std::io::{BufRead, IsTerminal, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    /// Standard input or error is not a terminal: nobody can answer.
    NoTerminal,
}

/// Whether `answer` (a line typed at the prompt) says yes: `y` or `yes`, in any case.
pub fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Asks `question` on the terminal (`... [y/N] `); `yes` (`--yes`) answers it.
pub fn confirm(question: &str, yes: bool) -> std::io::Result<Answer> {
    if yes {
        return Ok(Answer::Yes);
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(Answer::NoTerminal);
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(if is_yes(&answer) {
        Answer::Yes
    } else {
        Answer::No
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answers_that_say_yes() {
        for yes in ["y", "Y", "yes", "Yes", "YES", " yes\n"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "n", "no", "N", "yess", "ok", "sure", "\n"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }

    #[test]
    fn yes_answers_without_asking() {
        assert_eq!(confirm("Apply?", true).unwrap(), Answer::Yes);
    }
}
