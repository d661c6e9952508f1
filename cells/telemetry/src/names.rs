//! Prometheus naming rules, checked at compile time.
//!
//! From the Prometheus data model and its naming conventions:
//! - a metric name matches `[a-zA-Z_:][a-zA-Z0-9_:]*`; colons are reserved for recording
//!   rules, so an instrumented program must not use them;
//! - a label name matches `[a-zA-Z_][a-zA-Z0-9_]*`; names starting with `__` are reserved;
//!   `le` (histogram buckets) and `quantile` (summaries) are taken by the exposition format;
//! - a counter's name ends in `_total` (OpenMetrics exposes counters with that suffix);
//! - a histogram's name must not end in `_total`, `_bucket`, `_sum` or `_count`, which its
//!   own series use.

/// What kind of metric a name is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Histogram,
}

/// Checks a metric name. The error is the message for a spanned `compile_error!`, with help.
pub fn check_metric(name: &str, kind: Kind) -> Result<(), String> {
    let what = match kind {
        Kind::Counter => "counter",
        Kind::Histogram => "histogram",
    };
    if name.is_empty() {
        return Err(format!(
            "the {what} name is empty\n\nhelp: name it like `checkouts_total`"
        ));
    }
    if let Some(c) = name.chars().find(|c| *c == ':') {
        let _ = c;
        return Err(format!(
            "`{name}` is not a valid Prometheus {what} name: colons are reserved for recording rules\n\nhelp: use underscores: `{}`",
            name.replace(':', "_")
        ));
    }
    let first = name.chars().next().expect("not empty");
    if !(first.is_ascii_alphabetic() || first == '_') {
        return Err(format!(
            "`{name}` is not a valid Prometheus {what} name: it must start with a letter or `_`\n\nhelp: Prometheus metric names match [a-zA-Z_][a-zA-Z0-9_]*"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
    {
        return Err(format!(
            "`{name}` is not a valid Prometheus {what} name: `{bad}` is not allowed\n\nhelp: Prometheus metric names match [a-zA-Z_][a-zA-Z0-9_]*; try `{}`",
            suggest(name)
        ));
    }
    if name.starts_with("__") {
        return Err(format!(
            "`{name}` is not a valid Prometheus {what} name: names starting with `__` are reserved\n\nhelp: drop the leading underscores"
        ));
    }
    match kind {
        Kind::Counter if !name.ends_with("_total") => Err(format!(
            "counter `{name}` does not end in `_total`\n\nhelp: Prometheus counters are named `<what>_total`: `{}_total`",
            name.trim_end_matches('_')
        )),
        Kind::Histogram => {
            for suffix in ["_total", "_bucket", "_sum", "_count"] {
                if name.ends_with(suffix) {
                    return Err(format!(
                        "histogram `{name}` ends in `{suffix}`, which Prometheus uses for the histogram's own series\n\nhelp: name it after what it measures, with its unit: `{}_seconds`",
                        name.trim_end_matches(suffix)
                    ));
                }
            }
            Ok(())
        }
        Kind::Counter => Ok(()),
    }
}

/// Checks a label name.
pub fn check_label(name: &str) -> Result<(), String> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "`{name}` is not a valid Prometheus label name\n\nhelp: label names match [a-zA-Z_][a-zA-Z0-9_]*"
        ));
    }
    if name.starts_with("__") {
        return Err(format!(
            "label `{name}` starts with `__`, which Prometheus reserves for internal use\n\nhelp: drop the leading underscores"
        ));
    }
    if name == "le" || name == "quantile" {
        return Err(format!(
            "label `{name}` is taken by the Prometheus exposition format (histogram buckets and summary quantiles)\n\nhelp: rename the argument"
        ));
    }
    Ok(())
}

/// A sample rate: a decimal number from 0 to 1.
pub fn parse_sample_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text.trim().parse().map_err(|_| {
        format!("`{text}` is not a sample rate\n\nhelp: write a number from 0 to 1, like `sampled = \"0.1\"`")
    })?;
    if !(0.0..=1.0).contains(&rate) {
        return Err(format!(
            "sample rate `{text}` is outside 0..=1\n\nhelp: `sampled = \"0.1\"` keeps one span in ten"
        ));
    }
    Ok(rate)
}

fn suggest(name: &str) -> String {
    cell_core::snake_chars(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names() {
        check_metric("checkouts_total", Kind::Counter).unwrap();
        check_metric("http_requests_total", Kind::Counter).unwrap();
        check_metric("_private_total", Kind::Counter).unwrap();
        check_metric("checkout_seconds", Kind::Histogram).unwrap();
        check_label("tier").unwrap();
        check_label("_x1").unwrap();
    }

    #[test]
    fn invalid_metric_names() {
        let cases = [
            ("checkouts-total", Kind::Counter, "`-` is not allowed"),
            (
                "1checkouts_total",
                Kind::Counter,
                "must start with a letter",
            ),
            ("a:b_total", Kind::Counter, "colons are reserved"),
            ("__x_total", Kind::Counter, "reserved"),
            ("checkouts", Kind::Counter, "does not end in `_total`"),
            ("", Kind::Counter, "empty"),
            ("checkout_count", Kind::Histogram, "ends in `_count`"),
            ("checkout_bucket", Kind::Histogram, "ends in `_bucket`"),
            ("checkout_total", Kind::Histogram, "ends in `_total`"),
            ("check out", Kind::Histogram, "` ` is not allowed"),
            ("é_seconds", Kind::Histogram, "must start with a letter"),
        ];
        for (name, kind, expected) in cases {
            let err = check_metric(name, kind).unwrap_err();
            assert!(err.contains(expected), "{name}: {err}");
            assert!(err.contains("help:"), "{name}: {err}");
        }
    }

    #[test]
    fn invalid_labels() {
        for (name, expected) in [
            ("le", "taken"),
            ("quantile", "taken"),
            ("__name", "reserves"),
            ("1x", "not a valid"),
            ("a-b", "not a valid"),
            ("", "not a valid"),
        ] {
            assert!(check_label(name).unwrap_err().contains(expected), "{name}");
        }
    }

    #[test]
    fn sample_rates() {
        assert_eq!(parse_sample_rate("0.1"), Ok(0.1));
        assert_eq!(parse_sample_rate("1"), Ok(1.0));
        assert_eq!(parse_sample_rate("0"), Ok(0.0));
        assert!(parse_sample_rate("1.5").unwrap_err().contains("outside"));
        assert!(parse_sample_rate("-0.1").unwrap_err().contains("outside"));
        assert!(parse_sample_rate("NaN").unwrap_err().contains("outside"));
        assert!(
            parse_sample_rate("often")
                .unwrap_err()
                .contains("not a sample rate")
        );
    }
}
