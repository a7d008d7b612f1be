//! RFC 3339 rendering and parsing of block times (unix seconds, UTC).

use time::{format_description::well_known::Rfc3339, OffsetDateTime};

/// `1231006505` → `"2009-01-03T18:15:05Z"`. Out-of-range values render as the raw number.
pub fn rfc3339(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// Parse an RFC 3339 timestamp into unix seconds.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let t = OffsetDateTime::parse(text.trim(), &Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp()).ok()
}

/// The UTC calendar day of a unix time, as `YYYY-MM-DD` (price tables are keyed by it).
pub fn utc_date(unix: u64) -> String {
    let r = rfc3339(unix);
    r.get(..10).unwrap_or(&r).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_time() {
        assert_eq!(rfc3339(1231006505), "2009-01-03T18:15:05Z");
        assert_eq!(parse_rfc3339("2009-01-03T18:15:05Z"), Some(1231006505));
        assert_eq!(utc_date(1231006505), "2009-01-03");
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
