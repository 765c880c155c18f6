//! Scalars beyond GraphQL's own, each with its format in the schema: a client
//! reads the description, not this crate's types.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{NaiveDate, Utc};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

/// A calendar day, `YYYY-MM-DD`, as RFC 3339's `full-date`: `2026-01-31`.
#[Scalar(name = "Date", specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| InputValueError::custom(format!("{text:?} is not a date like 2026-01-31"))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

/// async-graphql's own `DateTime` scalar describes itself by its Rust type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// A moment, as an RFC 3339 timestamp: `2025-08-07T10:30:00+00:00`. pixgate answers in UTC.
#[Scalar(name = "DateTime", specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => chrono::DateTime::parse_from_rfc3339(text)
                .map(|moment| DateTime(moment.with_timezone(&Utc)))
                .map_err(|_| InputValueError::custom(format!("{text:?} is not an RFC 3339 timestamp"))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339())
    }
}

/// One step of a path into an input: a field name or a list index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSegment {
    Field(String),
    Index(u32),
}

impl PathSegment {
    /// Input field names are GraphQL names, which never start with a digit: a number is an index.
    pub fn from_field(segment: &str) -> Self {
        segment.parse().map_or_else(|_| Self::Field(segment.to_string()), Self::Index)
    }
}

/// A field name (a string) or a list index (an integer), as in a GraphQL error's `path`.
#[Scalar(name = "PathSegment")]
impl ScalarType for PathSegment {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(name) => Ok(Self::Field(name.clone())),
            Value::Number(number) => number
                .as_u64()
                .and_then(|index| u32::try_from(index).ok())
                .map(Self::Index)
                .ok_or_else(|| InputValueError::custom("a list index is a whole number from 0")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Self::Field(name) => Value::String(name.clone()),
            Self::Index(index) => Value::Number((*index).into()),
        }
    }
}
