//! Durations as users write them in attributes: `"30s"`, `"5m"`, `"1h"`, `"1d"`, `"1h30m"`.
//! Strict on purpose: `"1hour"` is a compile error that suggests `"1h"`, not a guess.

/// Parses a duration into whole seconds (at least one).
pub fn parse(text: &str) -> Result<u64, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("the duration is empty".into());
    }
    let mut total: u64 = 0;
    let mut rest = s;
    let mut last_rank = usize::MAX;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "`{text}` must start each part with a number, as in `90s` or `1h30m`"
            ));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}` is too long a duration"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let (rank, secs) = match unit {
            "d" => (0, 86_400),
            "h" => (1, 3_600),
            "m" => (2, 60),
            "s" => (3, 1),
            "" => return Err(format!("`{text}` has a number without a unit")),
            other => {
                return Err(format!(
                    "`{other}` is not a duration unit{}",
                    suggestion(other)
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default()
                ));
            }
        };
        if last_rank != usize::MAX && rank <= last_rank {
            return Err(format!(
                "`{text}` repeats or misorders its units: write larger units first, each once"
            ));
        }
        last_rank = rank;
        total = n
            .checked_mul(secs)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("`{text}` is too long a duration"))?;
    }
    if total == 0 {
        return Err(format!(
            "`{text}` is zero: a cache entry must live at least one second"
        ));
    }
    Ok(total)
}

fn suggestion(unit: &str) -> Option<&'static str> {
    match unit {
        "day" | "days" => Some("d"),
        "hour" | "hours" | "hr" | "hrs" => Some("h"),
        "min" | "mins" | "minute" | "minutes" => Some("m"),
        "sec" | "secs" | "second" | "seconds" => Some("s"),
        "ms" => Some("s (durations are whole seconds)"),
        _ => None,
    }
}

/// The shortest way to write `secs` in the syntax [`parse`] reads: `3600` → `1h`.
pub fn format(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = secs;
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

/// The help shown with every duration error.
pub const HELP: &str =
    "write a number and a unit: `30s`, `5m`, `1h`, `1d`, or combined larger first, as `1h30m`";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_units_and_combinations() {
        assert_eq!(parse("30s"), Ok(30));
        assert_eq!(parse("5m"), Ok(300));
        assert_eq!(parse("1h"), Ok(3600));
        assert_eq!(parse("2d"), Ok(172_800));
        assert_eq!(parse("1h30m"), Ok(5400));
        assert_eq!(parse(" 90s "), Ok(90));
    }

    #[test]
    fn refuses_words_and_mistakes_with_a_suggestion() {
        let e = parse("1hour").unwrap_err();
        assert!(
            e.contains("`hour` is not a duration unit (did you mean `h`?)"),
            "{e}"
        );
        assert!(parse("").is_err());
        assert!(
            parse("h")
                .unwrap_err()
                .contains("start each part with a number")
        );
        assert!(parse("10").unwrap_err().contains("without a unit"));
        assert!(parse("0s").unwrap_err().contains("zero"));
        assert!(parse("30m1h").unwrap_err().contains("larger units first"));
        assert!(parse("1m1m").unwrap_err().contains("larger units first"));
        assert!(
            parse("99999999999999999999d")
                .unwrap_err()
                .contains("too long")
        );
        assert!(parse("1.5h").is_err());
    }

    #[test]
    fn formats_back() {
        for s in ["30s", "5m", "1h", "1d", "1h30m", "1d1s"] {
            assert_eq!(format(parse(s).unwrap()), s);
        }
    }
}
