//! Checks on write input, made before any upstream call. Each failure is a
//! user error at the path of the field; all of them are reported at once.

use super::{UserError, UserErrorCode};

const MAX_URL: usize = 2048;

#[derive(Default)]
pub struct Check {
    errors: Vec<UserError>,
}

fn path(field: &[&str]) -> Vec<String> {
    std::iter::once("input").chain(field.iter().copied()).map(str::to_string).collect()
}

pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else { return false };
    text.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

pub fn is_http_url(text: &str) -> bool {
    text.len() <= MAX_URL
        && reqwest::Url::parse(text)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty()))
}

impl Check {
    pub fn fail(&mut self, field: &[&str], code: UserErrorCode, message: impl Into<String>) {
        self.errors.push(UserError { field: path(field), message: message.into(), code });
    }

    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn finish(self) -> Result<(), Vec<UserError>> {
        if self.errors.is_empty() { Ok(()) } else { Err(self.errors) }
    }

    /// An id already checked elsewhere; its refusal becomes this field's user error.
    pub fn id(&mut self, field: &[&str], checked: Result<String, async_graphql::Error>) -> String {
        checked.unwrap_or_else(|e| {
            self.fail(field, UserErrorCode::Invalid, e.message);
            String::new()
        })
    }

    /// Trimmed text of 1 to `max` characters.
    pub fn text(&mut self, field: &[&str], value: &str, max: usize) -> String {
        let value = value.trim();
        if value.is_empty() {
            self.fail(field, UserErrorCode::Required, "cannot be empty");
        } else if value.chars().count() > max {
            self.fail(field, UserErrorCode::TooLong, format!("is at most {max} characters"));
        }
        value.to_string()
    }

    /// Like `text`, but absent or blank means none.
    pub fn optional_text(&mut self, field: &[&str], value: Option<&str>, max: usize) -> Option<String> {
        let value = value.map(str::trim).filter(|v| !v.is_empty())?;
        if value.chars().count() > max {
            self.fail(field, UserErrorCode::TooLong, format!("is at most {max} characters"));
        }
        Some(value.to_string())
    }

    pub fn email(&mut self, field: &[&str], value: &str) -> String {
        let value = value.trim();
        if !is_email(value) {
            self.fail(field, UserErrorCode::Invalid, "is not an email address");
        }
        value.to_string()
    }

    pub fn url(&mut self, field: &[&str], value: &str) -> String {
        let value = value.trim();
        if !is_http_url(value) {
            self.fail(field, UserErrorCode::Invalid, "is not an http or https URL");
        }
        value.to_string()
    }

    pub fn optional_url(&mut self, field: &[&str], value: Option<&str>) -> Option<String> {
        let value = value.map(str::trim).filter(|v| !v.is_empty())?;
        Some(self.url(field, value))
    }

    pub fn range(&mut self, field: &[&str], value: i64, range: std::ops::RangeInclusive<i64>) -> i64 {
        if !range.contains(&value) {
            self.fail(field, UserErrorCode::Invalid, format!("must be between {} and {}", range.start(), range.end()));
        }
        value
    }

    /// `RRGGBB`, with or without a leading `#`; answered in upper case without it.
    pub fn hex_color(&mut self, field: &[&str], value: Option<&str>) -> Option<String> {
        let value = value.map(str::trim).filter(|v| !v.is_empty())?;
        let digits = value.strip_prefix('#').unwrap_or(value);
        if digits.len() != 6 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            self.fail(field, UserErrorCode::Invalid, "is not a hexadecimal colour RRGGBB");
        }
        Some(digits.to_ascii_uppercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_urls() {
        for good in ["a@b.co", "first.last+tag@studio.example.com"] {
            assert!(is_email(good), "{good}");
        }
        for bad in ["", "a", "a@b", "@b.co", "a@.co", "a@b.co.", "a b@c.co", "a@b@c.co", "a@b..co"] {
            assert!(!is_email(bad), "{bad}");
        }
        assert!(is_http_url("https://images.example.com/a.jpg"));
        for bad in ["ftp://x.com/a", "javascript:alert(1)", "http://", "/relative", "data:image/png;base64,xx"] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }

    #[test]
    fn collects_every_failure_with_its_path() {
        let mut check = Check::default();
        check.text(&["name"], "  ", 10);
        check.hex_color(&["color"], Some("#12345G"));
        assert_eq!(check.hex_color(&["color"], Some("#ffffff")), Some("FFFFFF".into()));
        check.range(&["days"], 0, 1..=365);
        let errors = check.finish().unwrap_err();
        assert_eq!(errors.len(), 3);
        assert_eq!(errors[0].field, ["input", "name"]);
        assert_eq!(errors[2].code, UserErrorCode::Invalid);
    }
}
