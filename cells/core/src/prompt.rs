//! The one confirmation prompt: `cargo cell apply` and `cargo cell reset` ask the same way
//! (dialoguer's `[y/N]`, on standard error, the answer confirmed with Enter). Nothing ever
//! waits on a prompt nobody can answer: without a terminal it returns [`Answer::NoTerminal`]
//! at once.

use std::io::IsTerminal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    /// Standard input or error is not a terminal: nobody can answer.
    NoTerminal,
}

/// Asks `question` on the terminal (`... [y/N] `, no by default); `yes` (`--yes`) answers it.
pub fn confirm(question: &str, yes: bool) -> std::io::Result<Answer> {
    if yes {
        return Ok(Answer::Yes);
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(Answer::NoTerminal);
    }
    let answer = dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .wait_for_newline(true)
        .interact_on(&console::Term::stderr())
        .map_err(|dialoguer::Error::IO(e)| e)?;
    Ok(if answer { Answer::Yes } else { Answer::No })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_answers_without_asking() {
        assert_eq!(confirm("Apply?", true).unwrap(), Answer::Yes);
    }
}
