//! The Telemetry Cell's errors: its lock (two declarations of one metric), its settings in
//! `[workspace.metadata.cell.telemetry]`, and the Prometheus container's scrape configuration.
//! Each says what went wrong and what to do; cargo-cell shows them through [`CellError`].

use cell_core::CellError;
use miette::Diagnostic;

#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum TelemetryError {
    /// The Telemetry Cell (Prometheus, its lock or its scrape configuration).
    #[error("{message}")]
    #[diagnostic(code(cell::telemetry), help("{help}"))]
    Telemetry { message: String, help: String },
}

impl TelemetryError {
    /// A [`TelemetryError::Telemetry`] with this message and help.
    pub fn new(message: impl Into<String>, help: impl Into<String>) -> TelemetryError {
        TelemetryError::Telemetry {
            message: message.into(),
            help: help.into(),
        }
    }
}

impl From<TelemetryError> for CellError {
    fn from(e: TelemetryError) -> Self {
        CellError::new(e)
    }
}

/// The error as a [`CellError`], for `?` in the Cell's trait methods.
pub(crate) fn fail(message: impl Into<String>, help: impl Into<String>) -> CellError {
    TelemetryError::new(message, help).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_message_and_help_are_the_old_ones() {
        let e: CellError = fail("metric `x` is declared differently", "rename one of them");
        assert_eq!(e.code().unwrap().to_string(), "cell::telemetry");
        assert_eq!(e.to_string(), "metric `x` is declared differently");
        assert_eq!(e.help().unwrap().to_string(), "rename one of them");
        assert!(e.downcast_ref::<TelemetryError>().is_some());
    }
}
