//! The OpenAPI 3.1 document of the API, written by hand.
//!
//! Paths come from the route table, so a route cannot go missing here; what
//! each one takes and returns is spelled out in [`operation`]. Dashboard
//! pages are HTML for people and are left out.

use axum::Json;
use serde_json::{Value, json};

use crate::{Access, route_table};

/// `GET /api/openapi.json`
pub async fn document() -> Json<Value> {
    Json(openapi())
}

pub fn openapi() -> Value {
    let mut paths = serde_json::Map::new();
    for route in route_table() {
        if matches!(route.access, Access::StaffPage | Access::StaffForm | Access::Login) {
            continue;
        }
        let mut operation = operation(route.method, route.path);
        operation["summary"] = json!(route.summary);
        operation["operationId"] = json!(operation_id(route.method, route.path));
        match route.access {
            Access::Public => operation["security"] = json!([]),
            Access::StaffToken => {
                operation["description"] = json!(format!(
                    "{} Staff only (403 for contractors).",
                    operation.get("description").and_then(Value::as_str).unwrap_or_default()
                ));
                add_response(&mut operation, "403", "The caller is not staff");
            }
            _ => {}
        }
        if route.access != Access::Public {
            add_response(&mut operation, "401", "No valid bearer token");
        }
        let parameters: Vec<Value> = path_parameters(route.path);
        if !parameters.is_empty() {
            let existing = operation.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
            operation["parameters"] = Value::Array(parameters.into_iter().chain(existing).collect());
        }
        let entry = paths.entry(route.path.to_owned()).or_insert_with(|| json!({}));
        entry[route.method.to_ascii_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "scan2dms",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Deliveries of the scanning contractor (BagIt, zip or tar) go in through resumable \
                uploads (tus 1.0: core, creation, checksum with sha1 or sha256, termination) or one plain \
                request; a finished upload is handed to the pipeline's inbox, validated, and its acceptance \
                report appears at /api/batches/{id}/report. The batch id is the archive's name without .zip \
                or .tar. Contractors see only the batches they uploaded; another's batch is a 404."
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer",
                "description": "A token `<user id>.<secret>` from `scan2dms users add`." } },
            "schemas": schemas(),
        },
        "security": [ { "bearer": [] } ],
        "paths": Value::Object(paths),
    })
}

fn operation_id(method: &str, path: &str) -> String {
    let words: Vec<String> = path
        .split('/')
        .filter(|part| !part.is_empty() && *part != "api")
        .map(|part| part.trim_matches(|c| c == '{' || c == '}').replace(['.', '-'], "_"))
        .collect();
    format!("{}_{}", method.to_ascii_lowercase(), words.join("_"))
}

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|part| part.strip_prefix('{').and_then(|part| part.strip_suffix('}')))
        .map(|name| {
            let description = match name {
                "id" | "batch" => "Batch id: the delivery's archive name without .zip or .tar",
                "record" => "Record id: `PN-dddddd` (personnel) or `KZ-dddd-ddddddd` (tax)",
                "document" => "Document number within the record, from 1",
                _ => "Upload id from the Location of the creating POST",
            };
            json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" },
                    "description": description })
        })
        .collect()
}

fn add_response(operation: &mut Value, status: &str, description: &str) {
    if operation.get("responses").is_none() {
        operation["responses"] = json!({});
    }
    operation["responses"][status] = json!({ "description": description, "content": json_of("Error") });
}

fn json_of(schema: &str) -> Value {
    json!({ "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } })
}

fn json_list_of(schema: &str) -> Value {
    json!({ "application/json": { "schema": { "type": "array",
        "items": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

fn header(description: &str) -> Value {
    json!({ "description": description, "schema": { "type": "string" } })
}

fn tus_resumable() -> Value {
    json!({ "name": "Tus-Resumable", "in": "header", "required": true,
            "schema": { "type": "string", "const": "1.0.0" } })
}

fn operation(method: &str, path: &str) -> Value {
    match (method, path) {
        ("GET", "/healthz") => json!({ "responses": { "200": { "description": "The server answers",
            "content": { "text/plain": { "schema": { "type": "string" } } } } } }),
        ("GET", "/api/openapi.json") => json!({ "responses": { "200": { "description": "This document",
            "content": { "application/json": { "schema": { "type": "object" } } } } } }),
        ("GET", "/api/batches") => json!({
            "parameters": [ { "name": "state", "in": "query", "required": false, "schema": { "type": "string" },
                "description": "Only batches in this state (`uploaded`, `received`, `rejected`, `done`, ...)" } ],
            "responses": { "200": { "description": "Batches the caller may see", "content": json_list_of("Batch") },
                           "400": { "description": "Unknown state", "content": json_of("Error") } } }),
        ("POST", "/api/batches") => json!({
            "description": "The whole archive as the body, for small bags (the limit is in `Tus-Max-Size` of \
                OPTIONS /api/uploads for resumable uploads, and smaller here). Optional `Upload-Checksum` \
                as with tus.",
            "parameters": [ { "name": "name", "in": "query", "required": true, "schema": { "type": "string" },
                "description": "The archive's file name, e.g. `SSN-0007-001.zip`" },
                { "name": "Upload-Checksum", "in": "header", "required": false, "schema": { "type": "string" },
                  "description": "`sha256 <base64 digest>` (or sha1)" } ],
            "requestBody": { "required": true, "content": {
                "application/zip": { "schema": { "type": "string", "format": "binary" } },
                "application/x-tar": { "schema": { "type": "string", "format": "binary" } },
                "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
            "responses": {
                "201": { "description": "Handed to the inbox; validation follows", "content": json_of("Uploaded"),
                         "headers": { "Location": header("The batch"), "Link": header("The report, rel=report") } },
                "400": { "description": "Not a .zip/.tar name or not a valid batch id", "content": json_of("Error") },
                "409": { "description": "The batch id is registered, another's, or waiting in the inbox",
                         "content": json_of("Error") },
                "413": { "description": "Larger than the single-request limit", "content": json_of("Error") },
                "460": { "description": "Upload-Checksum does not match", "content": json_of("Error") } } }),
        ("GET", "/api/batches/{id}") => json!({ "responses": {
            "200": { "description": "The batch", "content": json_of("Batch") },
            "404": { "description": "No such batch, or not the caller's", "content": json_of("Error") } } }),
        ("GET", "/api/batches/{id}/report") => json!({
            "description": "JSON by default; `Accept: text/plain` gives the readable rendering.",
            "responses": {
                "200": { "description": "The acceptance report", "content": {
                    "application/json": { "schema": { "$ref": "#/components/schemas/Report" } },
                    "text/plain": { "schema": { "type": "string" } } } },
                "202": { "description": "Not validated yet", "headers": { "Retry-After": header("Seconds") },
                         "content": json_of("Pending") },
                "404": { "description": "No such batch, or not the caller's", "content": json_of("Error") } } }),
        ("GET", "/api/batches/{id}/documents") => json!({ "responses": {
            "200": { "description": "Documents, from the OCR stage on", "content": json_list_of("Document") },
            "404": { "description": "No such batch, or not the caller's", "content": json_of("Error") } } }),
        ("GET", "/api/batches/{id}/events") => json!({ "responses": {
            "200": { "description": "The processing record, oldest first", "content": json_list_of("Event") },
            "404": { "description": "No such batch", "content": json_of("Error") } } }),
        ("POST", "/api/batches/{id}/retry") => json!({
            "requestBody": { "required": false, "content": json_of("RetryRequest") },
            "responses": {
                "200": { "description": "The batch waits for a worker again", "content": json_of("Retry") },
                "400": { "description": "Unknown stage", "content": json_of("Error") },
                "404": { "description": "No such batch", "content": json_of("Error") },
                "409": { "description": "Not retryable in its state, or it changed meanwhile",
                         "content": json_of("Error") } } }),
        ("GET", "/api/orders") => json!({ "responses": {
            "200": { "description": "Every order, by series", "content": json_list_of("Order") } } }),
        ("GET", "/api/review") => json!({
            "description": "Documents the classifier typed with a confidence below `classify.review_threshold` \
                and no one decided yet, oldest batch first. A batch is not filed until all its documents are \
                decided. Thumbnails are dashboard URLs (a staff token or session).",
            "responses": { "200": { "description": "The review queue", "content": json_list_of("ReviewItem") } } }),
        ("POST", "/api/review/{batch}/{record}/{document}") => json!({
            "description": "Records the type a person chose, as `staff:<user name>`; the document leaves the \
                queue and the workers file its batch once nothing of it waits for review.",
            "requestBody": { "required": true, "content": json_of("ReviewDecisionRequest") },
            "responses": {
                "200": { "description": "Decided", "content": json_of("ReviewDecided") },
                "400": { "description": "Not a JSON body with `doc_type`", "content": json_of("Error") },
                "404": { "description": "No such document", "content": json_of("Error") },
                "409": { "description": "The document does not wait for review (decided already, or never sent)",
                         "content": json_of("Error") },
                "422": { "description": "Unknown document type, or not one of the batch's series",
                         "content": json_of("Error") } } }),
        ("OPTIONS", "/api/uploads") => json!({ "responses": { "204": { "description": "tus capabilities",
            "headers": { "Tus-Version": header("1.0.0"), "Tus-Extension": header("creation,checksum,termination"),
                         "Tus-Checksum-Algorithm": header("sha1,sha256"),
                         "Tus-Max-Size": header("Largest Upload-Length in bytes") } } } }),
        ("POST", "/api/uploads") => json!({
            "parameters": [ tus_resumable(),
                { "name": "Upload-Length", "in": "header", "required": true, "schema": { "type": "integer" } },
                { "name": "Upload-Metadata", "in": "header", "required": true, "schema": { "type": "string" },
                  "description": "`filename <base64 of e.g. SSN-0007-001.zip>`" } ],
            "responses": {
                "201": { "description": "Created", "headers": { "Location": header("The upload's URL") } },
                "400": { "description": "Missing length or file name, or not a valid batch id",
                         "content": json_of("Error") },
                "409": { "description": "The batch id is registered, another's, or waiting in the inbox",
                         "content": json_of("Error") },
                "412": { "description": "Unsupported Tus-Resumable", "content": json_of("Error") },
                "413": { "description": "Upload-Length over Tus-Max-Size", "content": json_of("Error") } } }),
        ("HEAD", "/api/uploads/{upload_id}") => json!({ "parameters": [ tus_resumable() ], "responses": {
            "200": { "description": "The offset", "headers": { "Upload-Offset": header("Bytes received"),
                "Upload-Length": header("Bytes expected"),
                "Link": header("The report, once the upload is complete") } },
            "404": { "description": "No such upload, or not the caller's" } } }),
        ("PATCH", "/api/uploads/{upload_id}") => json!({
            "parameters": [ tus_resumable(),
                { "name": "Upload-Offset", "in": "header", "required": true, "schema": { "type": "integer" } },
                { "name": "Upload-Checksum", "in": "header", "required": false, "schema": { "type": "string" },
                  "description": "`sha256 <base64 digest>` or `sha1 ...` of this request's body" } ],
            "requestBody": { "required": true, "content": {
                "application/offset+octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
            "responses": {
                "204": { "description": "Appended; when complete, handed to the inbox",
                         "headers": { "Upload-Offset": header("The new offset"),
                                      "Link": header("The report, once complete: </api/batches/{id}/report>"),
                                      "Scan2dms-Batch-Id": header("The batch, once complete") } },
                "404": { "description": "No such upload, or not the caller's", "content": json_of("Error") },
                "409": { "description": "Upload-Offset is not the upload's offset, or the hand-over was refused",
                         "content": json_of("Error") },
                "413": { "description": "More bytes than Upload-Length", "content": json_of("Error") },
                "415": { "description": "Not application/offset+octet-stream", "content": json_of("Error") },
                "460": { "description": "Checksum mismatch; nothing of the chunk was kept",
                         "content": json_of("Error") } } }),
        ("DELETE", "/api/uploads/{upload_id}") => json!({ "parameters": [ tus_resumable() ], "responses": {
            "204": { "description": "Abandoned and removed" },
            "409": { "description": "Already complete and handed over", "content": json_of("Error") } } }),
        ("GET", "/api/uploads/{upload_id}") => json!({ "responses": {
            "200": { "description": "The upload", "content": json_of("UploadStatus") },
            "404": { "description": "No such upload, or not the caller's", "content": json_of("Error") } } }),
        ("GET", "/metrics") => json!({ "responses": { "200": { "description": "Prometheus text format 0.0.4",
            "content": { "text/plain": { "schema": { "type": "string" } } } } } }),
        _ => json!({ "responses": { "200": { "description": "OK" } } }),
    }
}

fn schemas() -> Value {
    let string = json!({ "type": "string" });
    let nullable_string = json!({ "type": ["string", "null"] });
    let count = json!({ "type": "integer", "minimum": 0 });
    json!({
        "Error": { "type": "object", "required": ["error", "message"], "properties": {
            "error": { "type": "string", "description": "Stable snake_case code" }, "message": string } },
        "Batch": { "type": "object", "required": ["batch_id", "state", "links"], "properties": {
            "batch_id": string, "state": { "type": "string",
                "description": "`uploaded` (waiting in the inbox), `received`, `validating`, `accepted`, \
                    `<stage>_running|_pending|_failed`, `rejected`, `done`" },
            "attempts": count, "outcome": nullable_string, "order_id": nullable_string,
            "source_name": string, "pages": count,
            "received_at": nullable_string, "updated_at": nullable_string,
            "upload": { "type": ["object", "null"], "properties": {
                "uploaded_at": string, "bytes": count, "sha256": string,
                "user_id": { "type": "string", "description": "Staff only" } } },
            "last_error": { "type": "string", "description": "Staff only" },
            "links": { "type": "object", "properties": { "self": string, "report": string, "documents": string } } } },
        "Finding": { "type": "object", "required": ["code", "detail"], "properties": {
            "code": string, "record_id": string, "file": string, "page_no": count, "detail": string } },
        "Report": { "type": "object", "required": ["batch_id", "outcome", "reasons", "warnings"], "properties": {
            "batch_id": string,
            "outcome": { "type": "string", "enum": ["accepted", "accepted_with_warnings", "rejected"] },
            "reasons": { "type": "array", "items": { "$ref": "#/components/schemas/Finding" } },
            "warnings": { "type": "array", "items": { "$ref": "#/components/schemas/Finding" } } } },
        "Pending": { "type": "object", "properties": { "batch_id": string, "state": string, "message": string } },
        "Document": { "type": "object", "properties": {
            "record_id": string, "document_no": count, "state": string,
            "page_nos": { "type": "array", "items": count },
            "efile": { "type": ["object", "null"], "properties": { "sha256": string, "bytes": count } },
            "dms": { "type": ["object", "null"], "properties": { "object_id": string,
                "verified": { "type": "boolean" } } } } },
        "Event": { "type": "object", "properties": {
            "seq": count, "at": string, "record_id": nullable_string,
            "page_no": { "type": ["integer", "null"] }, "kind": string, "detail": string } },
        "RetryRequest": { "type": "object", "properties": { "from_stage": { "type": "string",
            "enum": ["validate", "ocr", "efile", "push", "verify"] } } },
        "Retry": { "type": "object", "properties": { "batch_id": string, "from_state": string, "state": string } },
        "Order": { "type": "object", "properties": {
            "order_id": string, "series": string, "records": count, "batches": count,
            "rejected_batches": count, "accepted": count, "ocr_done": count, "efile_done": count,
            "pushed": count, "verified": count } },
        "ReviewItem": { "type": "object",
            "required": ["document", "batch_id", "record_id", "document_no", "allowed_types", "pages", "links"],
            "properties": {
                "document": { "type": "string", "description": "`<batch>/<record>/<document>`" },
                "batch_id": string, "record_id": string, "document_no": count, "state": string,
                "doc_type": { "type": ["string", "null"], "description": "The classifier's guess" },
                "confidence": { "type": ["number", "null"], "minimum": 0, "maximum": 1,
                                "description": "Calibrated probability of the guess" },
                "series": { "type": ["string", "null"], "enum": ["personnel", "tax", null] },
                "allowed_types": { "type": "array", "items": string,
                                   "description": "The types a decision may name: the series' types" },
                "fields": { "type": "object", "additionalProperties": string,
                            "description": "Key fields read from the text: record_key, document_date, tax_kind" },
                "pages": { "type": "array", "items": { "type": "object", "properties": {
                    "page_no": count, "thumbnail": { "type": "string", "description": "PNG, 300 px wide" } } } },
                "links": { "type": "object", "properties": { "decide": string, "batch": string } } } },
        "ReviewDecisionRequest": { "type": "object", "required": ["doc_type"], "additionalProperties": false,
            "properties": { "doc_type": { "type": "string", "description": "One of the item's allowed_types" } } },
        "ReviewDecided": { "type": "object", "properties": {
            "document": string, "doc_type": string, "decided_by": string, "decided_at": string } },
        "Uploaded": { "type": "object", "properties": {
            "batch_id": string, "state": string, "bytes": count, "sha256": string,
            "links": { "type": "object", "properties": { "batch": string, "report": string } } } },
        "UploadStatus": { "type": "object", "properties": {
            "upload_id": string, "filename": string, "batch_id": string, "length": count, "offset": count,
            "finished": { "type": "boolean" }, "sha256": nullable_string,
            "links": { "type": "object", "properties": { "batch": string, "report": string } } } },
    })
}
