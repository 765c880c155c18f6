//! Object ids, checked before any upstream call. Pixieset ids are global by
//! their prefix; Pixelz objects get prefixed ids here so `node(id:)` can route.

use async_graphql::{Error, ID};
use base64::Engine as _;

use super::error::bad_input;
use crate::upstream::pixelz::Ticket;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub const CLIENT: &str = "cl_";
pub const INVOICE: &str = "in_";
pub const CONTRACT: &str = "co_";
pub const CONTRACT_TEMPLATE: &str = "ct_";
pub const PIXELZ_TEMPLATE: &str = "pzt_";
pub const PIXELZ_IMAGE: &str = "pzi_";
pub const PIXELZ_PRODUCT: &str = "pzp_";
pub const PIXELZ_INVOICE: &str = "pzv_";

/// What a global id names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeId {
    Client(String),
    Invoice(String),
    Contract(String),
    ContractTemplate(String),
    PixelzTemplate(String),
    PixelzImage(String),
    PixelzProduct(String),
    PixelzInvoice(String),
}

fn pixieset_shape(rest: &str) -> bool {
    rest.len() == 30 && rest.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Pixieset ids: a prefix such as `cl_` and 30 letters or digits.
pub fn pixieset(id: &ID, prefix: &str, kind: &str) -> Result<String, Error> {
    if id.strip_prefix(prefix).is_some_and(pixieset_shape) {
        Ok(id.to_string())
    } else {
        let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
        Err(bad_input(format!("{:?} is not {article} {kind} id ({prefix} and 30 letters or digits)", id.as_str())))
    }
}

fn is_template_number(text: &str) -> bool {
    !text.is_empty() && text.len() <= 18 && text.bytes().all(|b| b.is_ascii_digit())
}

fn is_invoice_number(text: &str) -> bool {
    !text.is_empty() && text.len() <= 40 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A Pixelz template, by its global id (`pzt_2066863`) or its number.
pub fn pixelz_template(id: &ID) -> Result<String, Error> {
    let number = id.strip_prefix(PIXELZ_TEMPLATE).unwrap_or(id);
    if is_template_number(number) {
        Ok(number.to_string())
    } else {
        Err(bad_input(format!("{:?} is not a Pixelz template id", id.as_str())))
    }
}

/// A Pixelz image, by its global id (`pzi_<ticket>`) or its ticket.
pub fn pixelz_ticket(id: &ID) -> Result<Ticket, Error> {
    Ticket::parse(id.strip_prefix(PIXELZ_IMAGE).unwrap_or(id))
        .ok_or_else(|| bad_input(format!("{:?} is not a Pixelz image ticket", id.as_str())))
}

pub fn of_pixelz_template(number: &str) -> ID {
    ID(format!("{PIXELZ_TEMPLATE}{number}"))
}

pub fn of_pixelz_image(ticket: &str) -> ID {
    ID(format!("{PIXELZ_IMAGE}{ticket}"))
}

/// Product ids are free text (spaces and all), so their global id encodes them.
pub fn of_pixelz_product(product_id: &str) -> ID {
    ID(format!("{PIXELZ_PRODUCT}{}", B64.encode(product_id)))
}

pub fn of_pixelz_invoice(invoice_id: &str) -> ID {
    ID(format!("{PIXELZ_INVOICE}{invoice_id}"))
}

pub fn parse_node(id: &ID) -> Result<NodeId, Error> {
    let invalid = || bad_input(format!("{:?} is not an id this API issued", id.as_str()));
    let (prefix, rest) = id.split_once('_').ok_or_else(invalid)?;
    let valid = match prefix {
        "cl" | "in" | "co" | "ct" => pixieset_shape(rest),
        "pzt" => is_template_number(rest),
        "pzi" => Ticket::parse(rest).is_some(),
        "pzv" => is_invoice_number(rest),
        "pzp" => true,
        _ => false,
    };
    if !valid {
        return Err(invalid());
    }
    Ok(match prefix {
        "cl" => NodeId::Client(id.to_string()),
        "in" => NodeId::Invoice(id.to_string()),
        "co" => NodeId::Contract(id.to_string()),
        "ct" => NodeId::ContractTemplate(id.to_string()),
        "pzt" => NodeId::PixelzTemplate(rest.into()),
        "pzi" => NodeId::PixelzImage(Ticket::of(rest).into()),
        "pzv" => NodeId::PixelzInvoice(rest.into()),
        _ => {
            let decoded = B64.decode(rest).ok().and_then(|bytes| String::from_utf8(bytes).ok());
            NodeId::PixelzProduct(decoded.filter(|p| !p.is_empty() && p.len() <= 200).ok_or_else(invalid)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixieset_ids_check_prefix_and_length() {
        assert!(pixieset(&ID::from("cl_ABC123DEF456GHI789JKL012MNO345"), CLIENT, "client").is_ok());
        for bad in [
            "in_ABC123DEF456GHI789JKL012MNO345",
            "cl_ABC",
            "cl_ABC123DEF456GHI789JKL012MNO34!",
            "cl_ABC123DEF456GHI789JKL012MNO3456",
            "",
        ] {
            assert!(pixieset(&ID::from(bad), CLIENT, "client").is_err(), "{bad}");
        }
    }

    #[test]
    fn global_ids_round_trip() {
        let product = of_pixelz_product("Crying Baby Tee 066");
        assert_eq!(parse_node(&product).unwrap(), NodeId::PixelzProduct("Crying Baby Tee 066".into()));
        let image = of_pixelz_image("33979dfe-5ea7-44ea-b3dd-7fde33bc37e9");
        assert_eq!(parse_node(&image).unwrap(), NodeId::PixelzImage("33979dfe-5ea7-44ea-b3dd-7fde33bc37e9".into()));
        assert_eq!(parse_node(&of_pixelz_template("2066863")).unwrap(), NodeId::PixelzTemplate("2066863".into()));
        assert_eq!(
            parse_node(&ID::from("co_CON001ABC123DEF456GHI789JKL012")).unwrap(),
            NodeId::Contract("co_CON001ABC123DEF456GHI789JKL012".into())
        );
        for bad in ["xx_1", "pzt_12a", "pzi_not-a-ticket", "pzp_!!", "pzp_", "nounderscore", "pzv_a b", "cl_short"] {
            assert!(parse_node(&ID::from(bad)).is_err(), "{bad}");
        }
        assert_eq!(pixelz_template(&ID::from("2066863")).unwrap(), "2066863");
        assert!(pixelz_ticket(&ID::from("33979DFE-5EA7-44EA-B3DD-7FDE33BC37E9")).is_ok());
    }
}
