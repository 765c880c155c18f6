//! Object ids, checked before any upstream call.

use async_graphql::{Error, ID};

use super::error::bad_input;

/// Pixieset ids: a prefix such as `cl_` and 30 letters or digits.
pub fn pixieset(id: &ID, prefix: &str, kind: &str) -> Result<String, Error> {
    let valid =
        id.strip_prefix(prefix).is_some_and(|rest| rest.len() == 30 && rest.bytes().all(|b| b.is_ascii_alphanumeric()));
    if valid {
        Ok(id.to_string())
    } else {
        Err(bad_input(format!("{:?} is not a {kind} id ({prefix} and 30 letters or digits)", id.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_prefix_and_length() {
        assert!(pixieset(&ID::from("cl_ABC123DEF456GHI789JKL012MNO345"), "cl_", "client").is_ok());
        for bad in [
            "in_ABC123DEF456GHI789JKL012MNO345",
            "cl_ABC",
            "cl_ABC123DEF456GHI789JKL012MNO34!",
            "cl_ABC123DEF456GHI789JKL012MNO3456",
            "",
        ] {
            assert!(pixieset(&ID::from(bad), "cl_", "client").is_err(), "{bad}");
        }
    }
}
