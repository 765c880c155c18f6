//! A Pixelz image ticket: the UUID Pixelz issues for each image it takes in. Pixelz writes it in
//! either case and matches it in any, so pixgate keys everything by its lower-case form; a
//! ticket is made that way once, where it enters, and carried as this type from there.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub struct Ticket(String);

impl Ticket {
    /// A ticket from what a caller or a webhook sent, if it is one: 36 characters, hexadecimal
    /// in groups of 8, 4, 4, 4 and 12 joined by hyphens.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let shaped = text.len() == 36
            && text
                .char_indices()
                .all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_hexdigit() });
        shaped.then(|| Self(text.to_ascii_lowercase()))
    }

    /// The ticket an answer of Pixelz's names, whatever its shape: it is Pixelz's word for its own image.
    pub fn of(text: &str) -> Self {
        Self(text.trim().to_ascii_lowercase())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for Ticket {
    fn from(text: String) -> Self {
        Self::of(&text)
    }
}

impl From<Ticket> for String {
    fn from(ticket: Ticket) -> Self {
        ticket.0
    }
}

impl Borrow<str> for Ticket {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_is_parsed_once_in_lower_case() {
        let ticket = Ticket::parse(" 33979DFE-5EA7-44EA-B3DD-7FDE33BC37E9 ").unwrap();
        assert_eq!(ticket.as_str(), "33979dfe-5ea7-44ea-b3dd-7fde33bc37e9");
        assert_eq!(ticket, Ticket::of("33979dfe-5EA7-44ea-b3dd-7fde33bc37e9"));
        for not_one in ["", "33979dfe5ea744eab3dd7fde33bc37e9", "33979dfe-5ea7-44ea-b3dd-7fde33bc37eg", "x"] {
            assert!(Ticket::parse(not_one).is_none(), "{not_one}");
        }
        let relayed: Ticket = serde_json::from_str("\"33979DFE-5EA7-44EA-B3DD-7FDE33BC37E9\"").unwrap();
        assert_eq!(relayed, ticket);
    }
}
