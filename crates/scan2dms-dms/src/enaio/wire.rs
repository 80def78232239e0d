//! The DMS service's JSON, as far as the client sends or reads it, and the
//! query statements it emits.
//!
//! Only the keys the spec documents (`properties`/`value`, `contentStreams`
//! with `cid`, `objects`, the search `query` object) are written; reading is
//! lenient and ignores whatever else a server adds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The body of `POST /api/dms/objects` (the `data` part when multipart).
#[derive(Debug, Serialize)]
pub(crate) struct ObjectsBody {
    pub objects: Vec<OutgoingObject>,
}

#[derive(Debug, Serialize)]
pub(crate) struct OutgoingObject {
    pub properties: BTreeMap<String, PropertyValue>,
    #[serde(rename = "contentStreams", skip_serializing_if = "Vec::is_empty")]
    pub content_streams: Vec<OutgoingContentStream>,
}

#[derive(Debug, Serialize)]
pub(crate) struct PropertyValue {
    pub value: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct OutgoingContentStream {
    #[serde(rename = "mimeType")]
    pub mime_type: String,
    #[serde(rename = "fileName")]
    pub file_name: String,
    pub cid: String,
}

/// The body of `POST /api/dms/objects/search`.
#[derive(Debug, Serialize)]
pub(crate) struct SearchBody {
    pub query: SearchQuery,
}

#[derive(Debug, Serialize)]
pub(crate) struct SearchQuery {
    pub statement: String,
    pub parameters: BTreeMap<String, String>,
    #[serde(rename = "skipCount")]
    pub skip_count: u32,
    #[serde(rename = "maxItems")]
    pub max_items: u32,
    #[serde(rename = "handleDeletedDocuments")]
    pub handle_deleted_documents: &'static str,
}

/// What insert and search answer: a list of objects with their properties.
#[derive(Debug, Deserialize)]
pub(crate) struct ObjectsResponse {
    pub objects: Vec<IncomingObject>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct IncomingObject {
    #[serde(default)]
    pub properties: BTreeMap<String, serde_json::Value>,
}

impl IncomingObject {
    /// `properties["system:objectId"].value`, a string or a number.
    pub(crate) fn object_id(&self) -> Option<String> {
        match self.properties.get("system:objectId")?.get("value")? {
            serde_json::Value::String(text) => Some(text.clone()),
            serde_json::Value::Number(number) => Some(number.to_string()),
            _ => None,
        }
    }
}

/// `SELECT system:objectId FROM <type> [WHERE <field> = @p1 [AND ...]]`,
/// with every value passed as a parameter, never spliced into the text.
/// Type and field names must have been checked with [`is_name`].
pub(crate) fn select_ids(object_type: &str, conditions: &[(&str, &str)]) -> (String, BTreeMap<String, String>) {
    let mut statement = format!("SELECT system:objectId FROM {object_type}");
    let mut parameters = BTreeMap::new();
    for (index, (field, value)) in conditions.iter().enumerate() {
        let parameter = format!("p{}", index + 1);
        statement.push_str(if index == 0 { " WHERE " } else { " AND " });
        statement.push_str(&format!("{field} = @{parameter}"));
        parameters.insert(parameter, (*value).to_owned());
    }
    (statement, parameters)
}

/// A type or field name that can stand in a statement as it is: letters,
/// digits, `_` and `:` (for `system:` fields), not starting with `:`.
pub(crate) fn is_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(':')
        && name.chars().all(|character| character.is_ascii_alphanumeric() || matches!(character, '_' | ':'))
}

/// The message in an error body: a JSON `message` (or the keys other
/// enaio APIs use), else the text itself, cut to a readable length.
pub(crate) fn server_message(body: &str) -> String {
    const KEYS: [&str; 5] = ["message", "DefaultMessage", "error_description", "detail", "error"];
    let body = body.trim();
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(body) {
        for key in KEYS {
            if let Some(serde_json::Value::String(text)) = map.get(key)
                && !text.trim().is_empty()
            {
                return text.trim().to_owned();
            }
        }
    }
    const LIMIT: usize = 1_000;
    match body.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &body[..cut]),
        None => body.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_pass_values_as_parameters() {
        let (statement, parameters) = select_ids("Register", &[("system:SDSTA_ID", "17"), ("Registername", "O'Brien")]);
        assert_eq!(
            statement,
            "SELECT system:objectId FROM Register WHERE system:SDSTA_ID = @p1 AND Registername = @p2"
        );
        assert_eq!(parameters["p1"], "17");
        assert_eq!(parameters["p2"], "O'Brien");
        assert_eq!(select_ids("Akte", &[]).0, "SELECT system:objectId FROM Akte");
    }

    #[test]
    fn names_that_could_change_a_statement_are_refused() {
        assert!(is_name("system:SDSTA_ID") && is_name("ExtId") && is_name("262146"));
        for bad in ["", "Ext Id", "a=b", "x'--", ":x", "Feld-1"] {
            assert!(!is_name(bad), "{bad}");
        }
    }

    #[test]
    fn server_messages_come_from_json_or_text() {
        assert_eq!(server_message(r#"{"status":422,"message":"unknown object type X"}"#), "unknown object type X");
        assert_eq!(server_message(r#"{"DefaultMessage":"bad field","ErrorCode":1}"#), "bad field");
        assert_eq!(server_message("  plain text \n"), "plain text");
        assert_eq!(server_message(&"ä".repeat(1_200)).chars().count(), 1_001);
    }

    #[test]
    fn object_ids_may_be_strings_or_numbers() {
        let response: ObjectsResponse = serde_json::from_str(
            r#"{"objects":[{"properties":{"system:objectId":{"value":"42"}}},
                           {"properties":{"system:objectId":{"value":43}}},{}]}"#,
        )
        .unwrap();
        let ids: Vec<_> = response.objects.iter().map(IncomingObject::object_id).collect();
        assert_eq!(ids, [Some("42".to_owned()), Some("43".to_owned()), None]);
    }
}
