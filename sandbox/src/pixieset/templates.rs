//! Contract templates: the list, one in detail, and updates that answer only what changed.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::model::*;
use super::reply::*;
use crate::SandboxState;

/// Placeholders every studio can use in a contract body, beside the template's own variables.
const BUILT_IN_VARIABLES: &[&str] = &["studio_name", "client_name", "client_email", "due_date"];

pub(super) async fn list_templates(State(state): State<Arc<SandboxState>>, headers: HeaderMap) -> Reply {
    with_studio(&state, &headers, |studio| {
        let data: Vec<Value> = studio.templates.iter().map(ContractTemplate::list_json).collect();
        // This list carries only a total, no page fields.
        ok(json!({ "data": data, "meta": { "total": data.len() } }))
    })
}

pub(super) fn template_not_found(id: &str) -> Response {
    not_found("template_not_found", format!("Contract template with ID {id} not found"))
}

pub(super) async fn get_template(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    with_studio(&state, &headers, |studio| {
        ok(json!({ "data": studio.template(&id).ok_or_else(|| template_not_found(&id))?.detail_json() }))
    })
}

pub(super) fn parse_bool(value: &Value, field: &str, invalid: &mut Invalid) -> Option<bool> {
    let parsed = value.as_bool();
    if parsed.is_none() {
        invalid.add(field, format!("The {field} field must be true or false."));
    }
    parsed
}

pub(super) fn parse_int(value: &Value, field: &str, min: i64, max: i64, invalid: &mut Invalid) -> Option<i64> {
    match value.as_i64() {
        Some(n) if (min..=max).contains(&n) => Some(n),
        _ => {
            invalid.add(field, format!("The {field} must be an integer between {min} and {max}."));
            None
        }
    }
}

pub(super) fn parse_signers(value: &Value, invalid: &mut Invalid) -> Option<Vec<Signer>> {
    let Some(items) = value.as_array().filter(|items| !items.is_empty()) else {
        invalid.add("signers", "The signers must be a non-empty array.");
        return None;
    };
    let mut signers = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let field = |name: &str| format!("signers.{n}.{name}");
        let kind = item.get("type").and_then(Value::as_str).filter(|t| !t.trim().is_empty());
        let Some(kind) = kind else {
            invalid.add(field("type"), format!("The {} field is required.", field("type")));
            continue;
        };
        let required = item.get("required").map_or(Some(true), |v| parse_bool(v, &field("required"), invalid));
        let order = item.get("order").map_or(Some(n as i64 + 1), |v| parse_int(v, &field("order"), 1, 100, invalid));
        let text = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_string);
        if let (Some(required), Some(order)) = (required, order) {
            signers.push(Signer {
                kind: kind.into(),
                required,
                order,
                title: text("title"),
                description: text("description"),
            });
        }
    }
    Some(signers)
}

pub(super) fn placeholders(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        found.push(after[..end].trim().to_string());
        rest = &after[end + 2..];
    }
    found
}

/// One writable field of a template from an update body; false for a field a
/// template answer shows but a client does not set.
fn apply_field(template: &mut ContractTemplate, field: &str, value: &Value, invalid: &mut Invalid) -> bool {
    match field {
        "name" => match value.as_str().map(str::trim) {
            Some(name) if !name.is_empty() && name.len() <= 255 => template.name = name.into(),
            _ => invalid.add("name", "The name must be a non-empty string of at most 255 characters."),
        },
        "description" => match value {
            Value::Null => template.description = None,
            Value::String(s) => template.description = Some(s.clone()),
            _ => invalid.add("description", "The description must be a string."),
        },
        "due_days" => {
            if let Some(days) = parse_int(value, "due_days", 1, 365, invalid) {
                template.due_days = days;
            }
        }
        "status" => match value.as_str() {
            Some(s @ ("active" | "archived")) => template.status = s.into(),
            _ => invalid.add("status", "The selected status is invalid."),
        },
        "html_body" => match value.as_str() {
            Some(html) => template.html_body = html.into(),
            None => invalid.add("html_body", "The html body must be a string."),
        },
        "signers" => {
            if let Some(signers) = parse_signers(value, invalid) {
                template.signers = signers;
            }
        }
        "reminders" => apply_reminders(&mut template.reminders, value, invalid),
        "document_settings" => apply_document_settings(&mut template.document_settings, value, invalid),
        _ => return false,
    }
    true
}

fn apply_reminders(reminders: &mut Reminders, value: &Value, invalid: &mut Invalid) {
    let Some(sent) = value.as_object() else {
        invalid.add("reminders", "The reminders must be an object.");
        return;
    };
    if let Some(enabled) = sent.get("enabled") {
        reminders.enabled = parse_bool(enabled, "reminders.enabled", invalid).unwrap_or(false);
    }
    if let Some(days) = sent.get("days_before_due") {
        let parsed: Option<Vec<i64>> = days
            .as_array()
            .and_then(|days| days.iter().map(|d| d.as_i64().filter(|d| (1..=365).contains(d))).collect());
        match parsed {
            Some(days) => reminders.days_before_due = days,
            None => invalid.add(
                "reminders.days_before_due",
                "The reminders.days_before_due must be an array of integers between 1 and 365.",
            ),
        }
    }
    for (key, slot) in [("reminder_subject", &mut reminders.subject), ("reminder_message", &mut reminders.message)] {
        match sent.get(key) {
            None => {}
            Some(Value::Null) => *slot = None,
            Some(Value::String(s)) => *slot = Some(s.clone()),
            Some(_) => invalid.add(format!("reminders.{key}"), format!("The reminders.{key} must be a string.")),
        }
    }
}

fn apply_document_settings(settings: &mut DocumentSettings, value: &Value, invalid: &mut Invalid) {
    let Some(sent) = value.as_object() else {
        invalid.add("document_settings", "The document settings must be an object.");
        return;
    };
    if let Some(v) = sent.get("allow_comments") {
        settings.allow_comments = parse_bool(v, "document_settings.allow_comments", invalid).unwrap_or_default();
    }
    if let Some(v) = sent.get("show_line_numbers") {
        settings.show_line_numbers = parse_bool(v, "document_settings.show_line_numbers", invalid).unwrap_or_default();
    }
    match sent.get("watermark") {
        None => {}
        Some(Value::Null) => settings.watermark = None,
        Some(Value::String(s)) => settings.watermark = Some(s.clone()),
        Some(_) => invalid.add("document_settings.watermark", "The document_settings.watermark must be a string."),
    }
}

/// A body may use only the template's variables and the built-in ones, as the documents' 400 shows.
fn check_placeholders(template: &ContractTemplate) -> Result<(), Response> {
    let available: Vec<&str> =
        template.variables.iter().map(|v| v.name.as_str()).chain(BUILT_IN_VARIABLES.iter().copied()).collect();
    let Some(unknown) = placeholders(&template.html_body).into_iter().find(|p| !available.contains(&p.as_str())) else {
        return Ok(());
    };
    let body = json!({ "error": {
        "code": "invalid_template_variable",
        "message": format!("Variable '{unknown}' is not defined in template"),
        "details": { "available_variables": available },
    }});
    Err((StatusCode::BAD_REQUEST, axum::Json(body)).into_response())
}

/// The answer echoes only what changed, as the documents' example shows, and of an
/// object only the parts sent: it sends and gets back `reminders: {enabled, days_before_due}`.
fn changes(template: &ContractTemplate, body: &Map<String, Value>, changed: &[&String]) -> Value {
    let full = template.detail_json();
    let mut answer = json!({ "id": template.id, "updated_at": full["updated_at"] });
    for field in changed {
        answer[field.as_str()] = match (&full[field.as_str()], &body[field.as_str()]) {
            (Value::Object(now), Value::Object(sent)) => {
                now.iter().filter(|(key, _)| sent.contains_key(*key)).map(|(k, v)| (k.clone(), v.clone())).collect()
            }
            (now, _) => now.clone(),
        };
    }
    answer
}

pub(super) async fn update_template(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    with_studio(&state, &headers, |studio| {
        let mut template = studio.template(&id).ok_or_else(|| template_not_found(&id))?.clone();
        let body = json_body(&body)?;
        let mut invalid = Invalid::default();
        let changed: Vec<&String> = body
            .iter()
            .filter(|(field, value)| apply_field(&mut template, field, value, &mut invalid))
            .map(|(f, _)| f)
            .collect();
        invalid.finish()?;
        if body.contains_key("html_body") {
            check_placeholders(&template)?;
        }
        template.updated_at = Utc::now();
        let answer = changes(&template, &body, &changed);
        if let Some(slot) = studio.templates.iter_mut().find(|t| t.id == id) {
            *slot = template;
        }
        ok(json!({ "data": answer }))
    })
}
