//! Money without floats: an integer count of minor units, the exponent that
//! places the decimal point, and the currency where the upstream named one.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Money {
    minor_units: i64,
    exponent: u32,
    /// None where the upstream named none: no currency stands in for it.
    currency: Option<String>,
}

/// Digits after the decimal point in a currency's usual notation (ISO 4217).
fn currency_exponent(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "VND" | "VUV"
        | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

impl Money {
    /// An amount in hundredths, as Pixieset sends cents ("amount: 250000, // $2,500.00 in
    /// cents"), placed by the currency's own exponent where one is named.
    pub fn from_minor_units(minor_units: i64, currency: Option<&str>) -> Self {
        let currency = currency.map(str::to_ascii_uppercase);
        Self { minor_units, exponent: currency.as_deref().map_or(2, currency_exponent), currency }
    }

    /// A decimal text such as `"105.00"` or `"2.25"`; more digits than the currency
    /// usually shows are kept, never rounded, and without a currency the digits are kept as
    /// written. None for anything but a plain decimal.
    pub fn from_decimal(text: &str, currency: Option<&str>) -> Option<Self> {
        let currency = currency.map(str::to_ascii_uppercase);
        let text = text.trim();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let plain = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() && fraction.is_empty() || !plain(whole) || !plain(fraction) {
            return None;
        }
        let exponent = match &currency {
            Some(code) => currency_exponent(code).max(fraction.trim_end_matches('0').len() as u32),
            None => fraction.len() as u32,
        };
        let fraction = &fraction[..(exponent as usize).min(fraction.len())];
        let scaled = format!("{whole}{fraction:0<width$}", width = exponent as usize);
        let magnitude: i64 = if scaled.is_empty() { 0 } else { scaled.parse().ok()? };
        Some(Self { minor_units: if negative { -magnitude } else { magnitude }, exponent, currency })
    }

    pub fn minor_units(&self) -> i64 {
        self.minor_units
    }

    pub fn exponent(&self) -> u32 {
        self.exponent
    }

    pub fn currency(&self) -> Option<&str> {
        self.currency.as_deref()
    }

    /// The exact decimal amount, e.g. `"2500.00"`.
    pub fn amount(&self) -> String {
        let digits = self.minor_units.unsigned_abs().to_string();
        let sign = if self.minor_units < 0 { "-" } else { "" };
        if self.exponent == 0 {
            return format!("{sign}{digits}");
        }
        let width = self.exponent as usize + 1;
        let padded = format!("{digits:0>width$}");
        let (whole, fraction) = padded.split_at(padded.len() - self.exponent as usize);
        format!("{sign}{whole}.{fraction}")
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.currency {
            Some(currency) => write!(f, "{} {currency}", self.amount()),
            None => f.write_str(&self.amount()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_print_exactly() {
        assert_eq!(Money::from_minor_units(250_000, Some("usd")).amount(), "2500.00");
        assert_eq!(Money::from_minor_units(5, Some("USD")).amount(), "0.05");
        assert_eq!(Money::from_minor_units(-1999, Some("USD")).amount(), "-19.99");
        assert_eq!(Money::from_minor_units(1500, Some("JPY")).amount(), "1500");
        let unnamed = Money::from_minor_units(250_000, None);
        assert_eq!((unnamed.amount().as_str(), unnamed.currency()), ("2500.00", None));
    }

    #[test]
    fn decimals_parse_exactly() {
        for (text, minor, amount) in [
            ("105.00", 10_500, "105.00"),
            ("0.0", 0, "0.00"),
            ("2", 200, "2.00"),
            ("81.05", 8105, "81.05"),
            ("0.955", 955, "0.955"),
            (".5", 50, "0.50"),
            ("-3.1", -310, "-3.10"),
        ] {
            let money = Money::from_decimal(text, Some("USD")).unwrap();
            assert_eq!((money.minor_units(), money.amount().as_str()), (minor, amount), "{text}");
        }
        for garbage in ["", ".", "1.2.3", "1e5", "abc", "12,50", "99999999999999999999"] {
            assert!(Money::from_decimal(garbage, Some("USD")).is_none(), "{garbage}");
            assert!(Money::from_decimal(garbage, None).is_none(), "{garbage}");
        }
    }

    #[test]
    fn without_a_currency_a_decimal_keeps_its_digits() {
        for (text, minor, amount) in
            [("0.0", 0, "0.0"), ("105.00", 10_500, "105.00"), ("2", 2, "2"), ("0.955", 955, "0.955")]
        {
            let money = Money::from_decimal(text, None).unwrap();
            assert_eq!(
                (money.minor_units(), money.amount().as_str(), money.currency()),
                (minor, amount, None),
                "{text}"
            );
        }
    }
}
