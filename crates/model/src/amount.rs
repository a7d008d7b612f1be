//! Exact amounts: base-unit integers (up to 256 bits) and their decimal rendering.

pub use ruint::aliases::U256;

/// Why a decimal amount could not be converted to base units; carries the text as given.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AmountError {
    /// Not a plain non-negative decimal number.
    #[error("invalid amount {0:?}: expected a decimal number such as 12.5")]
    Syntax(String),
    /// More fraction digits than the asset's `decimals`.
    #[error("amount {value:?} has more than {decimals} decimal places")]
    TooPrecise {
        /// The amount as given.
        value: String,
        /// The asset's decimal places.
        decimals: u8,
    },
    /// The value in base units is 2^256 or more.
    #[error("amount {0:?} does not fit in 256 bits")]
    Overflow(String),
}

/// Render `raw` base units as an exact decimal string with `decimals` places, trimming
/// trailing zeros of the fraction (`1500000` with 6 decimals is `"1.5"`, `0` is `"0"`).
pub fn format_units(raw: U256, decimals: u8) -> String {
    // most amounts fit in 128 bits, whose decimal digits are much cheaper to make
    let mut digits = match u128::try_from(raw) {
        Ok(v) => v.to_string(),
        Err(_) => raw.to_string(),
    };
    let d = decimals as usize;
    if d == 0 {
        return digits;
    }
    if digits.len() > d {
        let split = digits.len() - d;
        let kept = digits[split..].trim_end_matches('0').len();
        if kept == 0 {
            digits.truncate(split);
        } else {
            digits.truncate(split + kept);
            digits.insert(split, '.');
        }
        return digits;
    }
    let kept = digits.trim_end_matches('0').len();
    if kept == 0 {
        return "0".to_string();
    }
    let mut out = String::with_capacity(2 + d);
    out.push_str("0.");
    out.extend(std::iter::repeat_n('0', d - digits.len()));
    out.push_str(&digits[..kept]);
    out
}

/// Parse a decimal string in the asset's units into base units, exactly.
pub fn parse_units(text: &str, decimals: u8) -> Result<U256, AmountError> {
    let t = text.trim();
    let syntax = || AmountError::Syntax(text.to_string());
    if t.is_empty() {
        return Err(syntax());
    }
    let (int, frac) = match t.split_once('.') {
        Some((i, f)) => (i, f),
        None => (t, ""),
    };
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(syntax());
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > decimals as usize {
        return Err(AmountError::TooPrecise { value: text.to_string(), decimals });
    }
    let mut joined = String::with_capacity(int.len() + decimals as usize);
    joined.push_str(if int.is_empty() { "0" } else { int });
    joined.push_str(frac);
    for _ in frac.len()..decimals as usize {
        joined.push('0');
    }
    U256::from_str_radix(&joined, 10).map_err(|_| AmountError::Overflow(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_exactly() {
        assert_eq!(format_units(U256::from(1_500_000u64), 6), "1.5");
        assert_eq!(format_units(U256::from(5u64), 6), "0.000005");
        assert_eq!(format_units(U256::ZERO, 18), "0");
        assert_eq!(format_units(U256::from(5_000_000_000u64), 8), "50");
        assert_eq!(format_units(U256::MAX, 0), U256::MAX.to_string());
        assert_eq!(
            format_units(U256::MAX, 18),
            "115792089237316195423570985008687907853269984665640564039457.584007913129639935"
        );
    }

    #[test]
    fn parses_and_rejects() {
        assert_eq!(parse_units("1.5", 6).unwrap(), U256::from(1_500_000u64));
        assert_eq!(parse_units(".5", 1).unwrap(), U256::from(5u64));
        assert_eq!(parse_units("10", 0).unwrap(), U256::from(10u64));
        assert!(matches!(parse_units("1.0000001", 6), Err(AmountError::TooPrecise { .. })));
        assert!(matches!(parse_units("-1", 6), Err(AmountError::Syntax(_))));
        assert!(matches!(parse_units("1e5", 6), Err(AmountError::Syntax(_))));
        assert!(matches!(parse_units(".", 6), Err(AmountError::Syntax(_))));
        assert!(matches!(parse_units(&"9".repeat(90), 0), Err(AmountError::Overflow(_))));
    }

    /// `format_units` as it was first written (split the digits, pad, trim), the oracle for
    /// the faster one.
    fn format_units_plain(raw: U256, decimals: u8) -> String {
        let digits = raw.to_string();
        let d = decimals as usize;
        if d == 0 {
            return digits;
        }
        let (int, frac) = if digits.len() > d {
            let split = digits.len() - d;
            (digits[..split].to_string(), digits[split..].to_string())
        } else {
            ("0".to_string(), format!("{digits:0>d$}"))
        };
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            int
        } else {
            format!("{int}.{frac}")
        }
    }

    proptest! {
        #[test]
        fn format_units_equals_the_plain_rendering(
            limbs in any::<[u64; 4]>(),
            width in 0usize..4,
            zeros in 0u32..30,
            decimals in 0u8..40,
        ) {
            // narrow values (the u128 path), values ending in zeros, and wide ones
            let mut raw = U256::from_limbs(limbs) >> (64 * width);
            if let Some(v) = raw.checked_mul(U256::from(10u8).pow(U256::from(zeros))) {
                raw = v;
            }
            prop_assert_eq!(format_units(raw, decimals), format_units_plain(raw, decimals));
        }

        #[test]
        fn format_parse_round_trip(limbs in any::<[u64; 4]>(), decimals in 0u8..40) {
            let raw = U256::from_limbs(limbs);
            let text = format_units(raw, decimals);
            prop_assert_eq!(parse_units(&text, decimals).unwrap(), raw);
        }
    }
}
