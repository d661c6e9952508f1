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

/// The folder of [`CONFIG_PATH`], where the configuration is copied.
pub const CONFIG_DIR: &str = "/etc/prometheus";
/// The file name of [`CONFIG_PATH`].
pub const CONFIG_FILE: &str = "prometheus.yml";

/// `prometheus.yml`, in Prometheus's own field names.
#[cfg(feature = "live")]
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    pub global: Global,
    pub scrape_configs: Vec<ScrapeConfig>,
}

#[cfg(feature = "live")]
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Global {
    pub scrape_interval: String,
    pub evaluation_interval: String,
}

#[cfg(feature = "live")]
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScrapeConfig {
    pub job_name: String,
    pub scrape_interval: String,
    pub metrics_path: String,
    pub static_configs: Vec<StaticConfig>,
}

#[cfg(feature = "live")]
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StaticConfig {
    pub targets: Vec<String>,
}

/// `prometheus.yml` scraping `targets` (host:port) every `interval`, serialised (so any
/// target is quoted as YAML needs). The metric names are listed in a comment so a reader
/// sees what the job should bring.
#[cfg(feature = "live")]
pub fn config(targets: &[String], interval: &str, metrics: &[String]) -> String {
    let config = Config {
        global: Global {
            scrape_interval: interval.to_string(),
            evaluation_interval: interval.to_string(),
        },
        scrape_configs: vec![ScrapeConfig {
            job_name: JOB_NAME.to_string(),
            scrape_interval: interval.to_string(),
            metrics_path: "/metrics".to_string(),
            static_configs: vec![StaticConfig {
                targets: targets.to_vec(),
            }],
        }],
    };
    let mut out = String::from(
        "# Written by `cargo cell apply` from the workspace's #[Telemetry::...] attributes.\n",
    );
    if !metrics.is_empty() {
        // Metric names are Prometheus identifiers (checked by the macros): no line breaks.
        out.push_str("# Metrics declared: ");
        out.push_str(&metrics.join(", ").replace(['\n', '\r'], " "));
        out.push('\n');
    }
    out.push_str(&serde_yaml_ng::to_string(&config).expect("the configuration serialises"));
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

    #[cfg(feature = "live")]
    #[test]
    fn config_scrapes_the_targets() {
        let c = config(
            &["127.0.0.1:9464".into()],
            "1s",
            &["checkouts_total".into()],
        );
        assert!(c.contains("# Metrics declared: checkouts_total"), "{c}");
        let read: Config = serde_yaml_ng::from_str(&c).unwrap();
        assert_eq!(read.global.scrape_interval, "1s");
        assert_eq!(read.scrape_configs[0].job_name, JOB_NAME);
        assert_eq!(read.scrape_configs[0].metrics_path, "/metrics");
        assert_eq!(
            read.scrape_configs[0].static_configs[0].targets,
            ["127.0.0.1:9464"]
        );
        assert_eq!(format!("{CONFIG_DIR}/{CONFIG_FILE}"), CONFIG_PATH);
    }

    /// Bug: the configuration was built with `format!`, so a target with a quote or a
    /// bracket (from `[workspace.metadata.cell.telemetry] metrics`) broke the YAML.
    #[cfg(feature = "live")]
    #[test]
    fn any_target_reads_back_as_written() {
        let hostile = "host\"]: x\n  - #:9464".to_string();
        let c = config(std::slice::from_ref(&hostile), "15s", &["a\nb".into()]);
        let read: Config = serde_yaml_ng::from_str(&c).unwrap();
        assert_eq!(read.scrape_configs[0].static_configs[0].targets, [hostile]);
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
