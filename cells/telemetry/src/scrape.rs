//! The Prometheus Cell's configuration, written by `cargo cell apply` from the manifest.

/// Where the application serves `/metrics` unless `[workspace.metadata.cell.telemetry]
/// metrics = "..."` says otherwise; also the runtime's default (`CELL_METRICS_ADDR`).
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9464";
/// The scrape interval unless `scrape_interval = "..."` says otherwise.
pub const DEFAULT_SCRAPE_INTERVAL: &str = "15s";
/// The image used unless `[workspace.metadata.cell.telemetry] image` or `CELL_PROMETHEUS_IMAGE`.
pub const DEFAULT_IMAGE: &str = "prom/prometheus:latest";
pub const IMAGE_ENV: &str = "CELL_PROMETHEUS_IMAGE";
/// Where the official image reads its configuration.
pub const CONFIG_PATH: &str = "/etc/prometheus/prometheus.yml";
pub const DATA_PATH: &str = "/prometheus";
pub const JOB_NAME: &str = "cell-app";

/// `prometheus.yml` scraping `targets` (host:port) every `interval`.
/// The metric names are listed in a comment so a reader sees what the job should bring.
pub fn config(targets: &[String], interval: &str, metrics: &[String]) -> String {
    let mut out = String::new();
    out.push_str(
        "# Written by `cargo cell apply` from the workspace's #[Telemetry::...] attributes.\n",
    );
    if !metrics.is_empty() {
        out.push_str("# Metrics declared: ");
        out.push_str(&metrics.join(", "));
        out.push('\n');
    }
    out.push_str(&format!(
        "global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\nscrape_configs:\n  - job_name: {JOB_NAME}\n    scrape_interval: {interval}\n    metrics_path: /metrics\n    static_configs:\n      - targets: ["
    ));
    let quoted: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
    out.push_str(&quoted.join(", "));
    out.push_str("]\n");
    out
}

/// Checks a scrape interval as Prometheus writes durations (`500ms`, `1s`, `15s`, `1m`).
pub fn check_interval(text: &str) -> Result<(), String> {
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[digits.len()..];
    if digits.is_empty()
        || !digits.chars().all(|c| c.is_ascii_digit())
        || !["ms", "s", "m", "h"].contains(&unit)
    {
        return Err(format!(
            "`{text}` is not a Prometheus duration\n\nhelp: write it like `1s`, `500ms` or `15s`"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_scrapes_the_targets() {
        let c = config(
            &["127.0.0.1:9464".into()],
            "1s",
            &["checkouts_total".into()],
        );
        assert!(c.contains("scrape_interval: 1s"), "{c}");
        assert!(c.contains("- targets: [\"127.0.0.1:9464\"]"), "{c}");
        assert!(c.contains("# Metrics declared: checkouts_total"), "{c}");
    }

    #[test]
    fn intervals() {
        check_interval("1s").unwrap();
        check_interval("500ms").unwrap();
        assert!(check_interval("1 s").is_err());
        assert!(check_interval("s").is_err());
        assert!(check_interval("10").is_err());
    }
}
