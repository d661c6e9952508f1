//! Rates: `per = "1s" | "30s" | "1m" | "1h" | "1d"` and how two limits compare.

/// The longest period a limit may have (a GCRA key expires after one period of quiet).
pub const MAX_PERIOD_SECS: u64 = 7 * 86_400;

/// The most requests a limit may admit per period.
pub const MAX_LIMIT: u64 = 1_000_000_000;

/// `"1m"` → 60. A positive whole number followed by `s`, `m`, `h` or `d`; at most a week.
pub fn parse_period(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{t}` has no unit"))?;
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{t}` does not start with a whole number"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        other => return Err(format!("`{other}` is not a unit of `{t}`")),
    };
    let secs = n.saturating_mul(unit_secs);
    if secs == 0 {
        return Err(format!("`{t}` is no time at all"));
    }
    if secs > MAX_PERIOD_SECS {
        return Err(format!("`{t}` is longer than a week"));
    }
    Ok(secs)
}

/// 60 → `"1m"`: the largest unit that divides the period.
pub fn format_period(secs: u64) -> String {
    for (unit, len) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs >= len && secs.is_multiple_of(len) {
            return format!("{}{unit}", secs / len);
        }
    }
    format!("{secs}s")
}

/// `a` admits more requests per unit of time than `b` (`a.0 / a.1 > b.0 / b.1`).
pub fn faster(a: (u64, u64), b: (u64, u64)) -> bool {
    u128::from(a.0) * u128::from(b.1) > u128::from(b.0) * u128::from(a.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_and_format_back() {
        for (text, secs) in [
            ("1s", 1),
            ("30s", 30),
            ("1m", 60),
            ("90s", 90),
            ("1h", 3600),
            ("1d", 86_400),
            ("7d", 604_800),
        ] {
            assert_eq!(parse_period(text), Ok(secs), "{text}");
        }
        assert_eq!(format_period(60), "1m");
        assert_eq!(format_period(90), "90s");
        assert_eq!(format_period(7200), "2h");
        assert_eq!(format_period(86_400), "1d");
        for secs in [1, 59, 60, 61, 3600, 5400, 86_400] {
            assert_eq!(parse_period(&format_period(secs)), Ok(secs));
        }
    }

    #[test]
    fn bad_periods_say_why() {
        assert_eq!(parse_period("1"), Err("`1` has no unit".into()));
        assert_eq!(
            parse_period("m"),
            Err("`m` does not start with a whole number".into())
        );
        assert_eq!(parse_period("1w"), Err("`w` is not a unit of `1w`".into()));
        assert_eq!(parse_period("0s"), Err("`0s` is no time at all".into()));
        assert_eq!(parse_period("8d"), Err("`8d` is longer than a week".into()));
        assert!(parse_period("1.5s").is_err());
    }

    #[test]
    fn rates_compare_across_periods() {
        assert!(faster((100, 60), (1, 1)));
        assert!(!faster((60, 60), (1, 1)));
        assert!(!faster((1, 1), (60, 60)));
        assert!(faster((2, 1), (100, 60)));
    }
}
