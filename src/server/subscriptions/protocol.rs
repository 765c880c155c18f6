//! The two GraphQL-over-WebSocket protocols, as messages: `graphql-transport-ws`
//! (the graphql-ws library's protocol) and the older `graphql-ws`
//! (subscriptions-transport-ws). Which bytes go out, which messages come in; no I/O.

use serde::Deserialize;

/// Close codes `graphql-transport-ws` defines.
pub mod close {
    pub const BAD_REQUEST: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const DUPLICATE_ID: u16 = 4409;
    pub const TOO_MANY_INITS: u16 = 4429;
    /// RFC 6455's "going away": here, a peer that went silent.
    pub const GOING_AWAY: u16 = 1001;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `graphql-transport-ws`.
    TransportWs,
    /// The older `graphql-ws`.
    Legacy,
}

impl Protocol {
    /// The first protocol the client offers that the gateway speaks.
    pub fn negotiate(offered: Option<&str>) -> Option<Self> {
        offered?.split(',').map(str::trim).find_map(|offered| {
            [Self::TransportWs, Self::Legacy].into_iter().find(|p| p.name().eq_ignore_ascii_case(offered))
        })
    }

    /// Its `Sec-WebSocket-Protocol` name.
    pub fn name(self) -> &'static str {
        match self {
            Self::TransportWs => "graphql-transport-ws",
            Self::Legacy => "graphql-ws",
        }
    }

    /// Each result is pre-serialised once and shared; only this envelope is per subscriber.
    pub fn next(self, id: &str, payload: &[u8]) -> String {
        let kind = match self {
            Self::TransportWs => "next",
            Self::Legacy => "data",
        };
        let mut text = String::with_capacity(payload.len() + id.len() + 40);
        text.push_str("{\"type\":\"");
        text.push_str(kind);
        text.push_str("\",\"id\":");
        push_json_string(&mut text, id);
        text.push_str(",\"payload\":");
        // Payloads are serde_json's output, so UTF-8.
        text.push_str(std::str::from_utf8(payload).unwrap_or("null"));
        text.push('}');
        text
    }

    pub fn complete(id: &str) -> String {
        let mut text = String::from("{\"type\":\"complete\",\"id\":");
        push_json_string(&mut text, id);
        text.push('}');
        text
    }

    pub const ACK: &'static str = r#"{"type":"connection_ack"}"#;
    pub const PONG: &'static str = r#"{"type":"pong"}"#;

    /// An operation refused before it ran; no `complete` follows.
    pub fn error(self, id: &str, error: &async_graphql::ServerError) -> String {
        let payload = match self {
            Self::TransportWs => serde_json::json!([error]),
            Self::Legacy => serde_json::json!(error),
        };
        serde_json::json!({ "type": "error", "id": id, "payload": payload }).to_string()
    }
}

fn push_json_string(text: &mut String, value: &str) {
    // Serialising a str cannot fail.
    text.push_str(&serde_json::to_string(value).unwrap_or_default());
}

/// What a client may send, in either protocol.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<serde_json::Value>,
    },
    #[serde(alias = "start")]
    Subscribe {
        id: String,
        payload: OperationPayload,
    },
    #[serde(alias = "stop")]
    Complete {
        id: String,
    },
    ConnectionTerminate,
    /// Its payload, if any, is not echoed: the protocol leaves that optional.
    Ping {},
    Pong {},
}

impl ClientMessage {
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|error| format!("not a message of this protocol: {error}"))
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationPayload {
    /// Empty when a trusted document is named instead.
    #[serde(default)]
    pub query: String,
    #[serde(default)]
    pub operation_name: Option<String>,
    #[serde(default)]
    pub variables: Option<serde_json::Value>,
    #[serde(default)]
    pub extensions: std::collections::HashMap<String, async_graphql::Value>,
    #[serde(default)]
    pub document_id: Option<String>,
}

impl OperationPayload {
    /// The same text for the same operation, however the client ordered its variables.
    pub fn canonical(&self) -> String {
        // serde_json's maps are sorted, so equal variables serialise equally.
        serde_json::to_string(&(&self.query, &self.operation_name, &self.variables)).unwrap_or_default()
    }

    pub fn into_request(self) -> async_graphql::Request {
        let mut request = async_graphql::Request::new(self.query);
        if let Some(name) = self.operation_name {
            request = request.operation_name(name);
        }
        if let Some(variables) = self.variables {
            request = request.variables(async_graphql::Variables::from_json(variables));
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_are_valid_json_whatever_the_id() {
        let id = "a\"b\\c\n";
        for protocol in [Protocol::TransportWs, Protocol::Legacy] {
            let next: serde_json::Value = serde_json::from_str(&protocol.next(id, br#"{"data":{"x":1}}"#)).unwrap();
            assert_eq!(next["id"], id);
            assert_eq!(next["payload"]["data"]["x"], 1);
        }
        let complete: serde_json::Value = serde_json::from_str(&Protocol::complete(id)).unwrap();
        assert_eq!(complete, serde_json::json!({ "type": "complete", "id": id }));
    }

    #[test]
    fn both_protocols_messages_parse() {
        let start = r#"{"type":"start","id":"1","payload":{"query":"subscription { a }"}}"#;
        assert!(matches!(ClientMessage::parse(start), Ok(ClientMessage::Subscribe { .. })));
        assert!(matches!(ClientMessage::parse(r#"{"type":"stop","id":"1"}"#), Ok(ClientMessage::Complete { .. })));
        assert!(ClientMessage::parse(r#"{"type":"subscribe","id":"1"}"#).is_err(), "a subscribe needs a payload");
        assert!(ClientMessage::parse("not json").is_err());
    }

    #[test]
    fn operations_are_keyed_canonically() {
        let payload = |query: &str, name: Option<&str>, variables: serde_json::Value| OperationPayload {
            query: query.into(),
            operation_name: name.map(Into::into),
            variables: Some(variables),
            extensions: Default::default(),
            document_id: None,
        };
        let ab = payload("s", None, serde_json::from_str(r#"{"a":1,"b":2}"#).unwrap());
        let ba = payload("s", None, serde_json::from_str(r#"{"b":2,"a":1}"#).unwrap());
        assert_eq!(ab.canonical(), ba.canonical());
    }

    #[test]
    fn the_first_spoken_protocol_offered_is_chosen() {
        assert_eq!(Protocol::negotiate(Some("foo, graphql-ws, graphql-transport-ws")), Some(Protocol::Legacy));
        assert_eq!(Protocol::negotiate(Some("GraphQL-Transport-WS")), Some(Protocol::TransportWs));
        assert_eq!(Protocol::negotiate(Some("chat")), None);
        assert_eq!(Protocol::negotiate(None), None);
    }
}
