//! Deserializers that take what the servers really send: numbers as strings,
//! booleans as strings, ids as numbers, `""` for nothing, timestamps in several
//! shapes. Each reads a JSON value first, so one odd field never needs a
//! hand-written visitor.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

fn value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        other => other,
    })
}

/// A string whose presence matters: `None` when the key is absent, `Some(None)`
/// when it is there and empty. Use with `#[serde(default)]`.
pub fn held_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    string(d).map(Some)
}

/// An integer whose presence matters, as `held_string`.
pub fn held_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    int(d).map(Some)
}

/// An integer, from a number (`12`, `12.0`) or a string (`"12"`).
pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match value(d)? {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9e15).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("expected an integer, found {n}"))),
        Some(Value::String(s)) => {
            s.trim().parse().map(Some).map_err(|_| D::Error::custom(format!("expected an integer, found {s:?}")))
        }
        Some(other) => Err(D::Error::custom(format!("expected an integer, found {other}"))),
    }
}

/// A boolean, from `true`, `"true"`, `"True"`, `1` or `"1"`.
pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match value(d)? {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(Some(false)),
        Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(Some(true)),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(D::Error::custom(format!("expected a boolean, found {s:?}"))),
        },
        Some(other) => Err(D::Error::custom(format!("expected a boolean, found {other}"))),
    }
}

/// Text, from a string or a number (Pixelz sends `CustomerImageId: 12345`).
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match value(d)? {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(D::Error::custom(format!("expected text, found {other}"))),
    }
}

/// A required id, from a string or a number.
pub fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    string(d)?.ok_or_else(|| D::Error::custom("missing id"))
}

/// A decimal amount as exact text: a JSON number keeps its shortest round-trip
/// form (`2.25`, never `2.2499999`), a string must be a plain decimal.
pub fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match value(d)? {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::String(s)) if crate::money::Money::from_decimal(&s, None).is_some() => Ok(Some(s.trim().into())),
        Some(other) => Err(D::Error::custom(format!("expected a decimal, found {other}"))),
    }
}

/// A list that may be missing or null.
pub fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// A moment: Pixieset's `2025-08-06T14:50:42.000000Z`, RFC 3339 in general,
/// `yyyy-MM-dd HH:mm:ss` (UTC), or a bare day (its midnight, UTC).
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok().map(|t| t.and_utc()))
        .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|t| t.and_utc()))
        .or_else(|| parse_date(text).and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc()))
}

pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .or_else(|| text.get(..10).and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()))
}

pub fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    match string(d)? {
        None => Ok(None),
        Some(text) => parse_timestamp(&text)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("expected a timestamp, found {text:?}"))),
    }
}

pub fn date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    match string(d)? {
        None => Ok(None),
        Some(text) => {
            parse_date(&text).map(Some).ok_or_else(|| D::Error::custom(format!("expected a date, found {text:?}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize, Debug)]
    struct Sample {
        #[serde(default, deserialize_with = "int")]
        n: Option<i64>,
        #[serde(default, deserialize_with = "bool")]
        b: Option<bool>,
        #[serde(default, deserialize_with = "string")]
        s: Option<String>,
        #[serde(default, deserialize_with = "decimal")]
        d: Option<String>,
        #[serde(default, deserialize_with = "timestamp")]
        t: Option<DateTime<Utc>>,
    }

    fn sample(json: &str) -> Result<Sample, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn takes_what_servers_send() {
        let s = sample(r#"{"n":"72","b":"false","s":12345,"d":2.25,"t":"2025-08-06T14:50:42.000000Z"}"#).unwrap();
        assert_eq!((s.n, s.b, s.s.as_deref(), s.d.as_deref()), (Some(72), Some(false), Some("12345"), Some("2.25")));
        assert_eq!(s.t.unwrap().to_rfc3339(), "2025-08-06T14:50:42+00:00");
        let s = sample(r#"{"n":24.0,"b":"True","s":"","d":"105.00","t":"2020-06-26"}"#).unwrap();
        assert_eq!((s.n, s.b, s.s, s.d.as_deref()), (Some(24), Some(true), None, Some("105.00")));
        assert_eq!(
            sample(r#"{"t":"2026-01-02 03:04:05"}"#).unwrap().t.unwrap().to_rfc3339(),
            "2026-01-02T03:04:05+00:00"
        );
        let empty = sample("{}").unwrap();
        assert!(empty.n.is_none() && empty.b.is_none() && empty.t.is_none());
    }

    #[test]
    fn refuses_garbage() {
        for json in [
            r#"{"n":"seven"}"#,
            r#"{"n":1.5}"#,
            r#"{"b":"maybe"}"#,
            r#"{"d":"1,50"}"#,
            r#"{"t":"yesterday"}"#,
            r#"{"s":[1]}"#,
        ] {
            assert!(sample(json).is_err(), "{json}");
        }
    }
}
