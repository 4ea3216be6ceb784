//! Timestamps as Unix milliseconds: a fast path for the log's own RFC 3339 form, UTC calendar
//! keys for `--by day|hour`, and `--since/--until` values (RFC 3339, a date, or `24h` ago).

use std::time::{SystemTime, UNIX_EPOCH};

use llm_trace_core::Timestamp;

pub(crate) const HOUR_MS: i64 = 3_600_000;
pub(crate) const DAY_MS: i64 = 24 * HOUR_MS;

/// Parses a record's timestamp. The form the library writes (`2026-11-26T19:18:53.123Z`) is
/// read without chrono; anything else RFC 3339 (any offset, any precision) through it.
pub(crate) fn parse_millis(text: &str) -> Option<i64> {
    fast_utc_millis(text.as_bytes())
        .or_else(|| text.parse::<Timestamp>().ok().map(|t| t.unix_millis()))
}

/// `YYYY-MM-DDTHH:MM:SS[.mmm]Z`, strictly.
fn fast_utc_millis(b: &[u8]) -> Option<i64> {
    if !(b.len() == 24 || b.len() == 20) || b[b.len() - 1] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let mut n = 0i64;
        for &c in &b[range] {
            let digit = c.wrapping_sub(b'0');
            if digit > 9 {
                return None;
            }
            n = n * 10 + i64::from(digit);
        }
        Some(n)
    };
    if b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let millis = if b.len() == 24 {
        if b[19] != b'.' {
            return None;
        }
        num(20..23)?
    } else {
        0
    };
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * DAY_MS + hour * HOUR_MS + minute * 60_000 + second * 1000 + millis)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-26` for the UTC day of `millis`.
pub(crate) fn day_key(millis: i64) -> String {
    let mut key = rfc3339(millis);
    key.truncate(10);
    key
}

/// `2026-11-26T19` for the UTC hour of `millis`.
pub(crate) fn hour_key(millis: i64) -> String {
    let mut key = rfc3339(millis);
    key.truncate(13);
    key
}

/// The log's own form: `2026-11-26T19:18:53.123Z`.
pub(crate) fn rfc3339(millis: i64) -> String {
    Timestamp::from_unix_millis(millis).to_string()
}

/// `2026-11-26 19:18:53` (UTC), for tables.
pub(crate) fn short(millis: i64) -> String {
    let mut text = rfc3339(millis);
    text.truncate(19);
    text.replace('T', " ")
}

pub(crate) fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A `--since`/`--until` value: RFC 3339 (`2026-11-26T10:00:00Z`), a UTC date (`2026-11-26`),
/// or a time ago (`90s`, `30m`, `24h`, `7d`, `2w`).
pub(crate) fn parse_bound(text: &str) -> Result<i64, String> {
    parse_bound_at(text, now_millis())
}

pub(crate) fn parse_bound_at(text: &str, now: i64) -> Result<i64, String> {
    let text = text.trim();
    if let Some(ago) = parse_relative(text) {
        return Ok(now - ago);
    }
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t.unix_millis());
    }
    if let Some(date) = fast_utc_millis(format!("{text}T00:00:00Z").as_bytes()) {
        return Ok(date);
    }
    Err(format!(
        "`{text}` is not a time: use RFC 3339 (2026-11-26T10:00:00Z), a date (2026-11-26) \
         or a time ago such as 30m, 24h, 7d"
    ))
}

/// `30m` → milliseconds.
fn parse_relative(text: &str) -> Option<i64> {
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(unit_at);
    let n: i64 = number.parse().ok()?;
    let unit_ms = match unit {
        "s" => 1000,
        "m" | "min" => 60_000,
        "h" => HOUR_MS,
        "d" => DAY_MS,
        "w" => 7 * DAY_MS,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_agrees_with_chrono() {
        for text in [
            "2026-11-26T19:18:53.123Z",
            "1970-01-01T00:00:00.000Z",
            "2024-02-29T23:59:59.999Z",
            "2000-03-01T00:00:00Z",
            "1969-12-31T23:59:59.999Z",
        ] {
            let chrono = text.parse::<Timestamp>().unwrap().unix_millis();
            assert_eq!(fast_utc_millis(text.as_bytes()), Some(chrono), "{text}");
        }
        assert_eq!(fast_utc_millis(b"2023-02-29T00:00:00.000Z"), None);
        assert_eq!(
            parse_millis("2026-11-26T20:18:53.123+01:00"),
            parse_millis("2026-11-26T19:18:53.123Z")
        );
        assert_eq!(parse_millis("yesterday"), None);
    }

    #[test]
    fn calendar_round_trips() {
        for days in -700_000..800_000 {
            let date = Timestamp::from_unix_millis(days * DAY_MS).to_string();
            let part = |range: std::ops::Range<usize>| date[range].parse::<i64>().unwrap();
            assert_eq!(days_from_civil(part(0..4), part(5..7), part(8..10)), days, "{date}");
        }
        let t = parse_millis("2026-11-26T19:18:53.123Z").unwrap();
        assert_eq!(day_key(t), "2026-11-26");
        assert_eq!(hour_key(t), "2026-11-26T19");
        assert_eq!(hour_key(-1), "1969-12-31T23");
        assert_eq!(short(t), "2026-11-26 19:18:53");
    }

    #[test]
    fn bounds() {
        let now = 1_000_000_000_000;
        assert_eq!(parse_bound_at("30m", now), Ok(now - 30 * 60_000));
        assert_eq!(parse_bound_at("24h", now), Ok(now - DAY_MS));
        assert_eq!(parse_bound_at("7d", now), Ok(now - 7 * DAY_MS));
        assert_eq!(
            parse_bound_at("2026-11-26", now),
            Ok(parse_millis("2026-11-26T00:00:00Z").unwrap())
        );
        assert_eq!(
            parse_bound_at("2026-11-26T10:00:00+02:00", now),
            Ok(parse_millis("2026-11-26T08:00:00Z").unwrap())
        );
        for bad in ["", "soon", "7x", "h", "2026-13-01", "-5m"] {
            assert!(parse_bound_at(bad, now).is_err(), "{bad}");
        }
    }
}
