//! `/metrics` in Prometheus text format: what the store counts, as gauges
//! read at scrape time (the store is the source of truth, so several
//! servers over one store report the same numbers).

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use scan2dms_core::BatchState;

use crate::{ApiError, AppState};

/// `GET /metrics`
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (counts, orders, uploads) =
        state.store(|store| Ok((store.counts()?, store.order_stage_progress()?, store.uploads(None)?.len()))).await?;
    let mut text = String::new();

    family(&mut text, "scan2dms_batches", "gauge", "Batches by state.");
    // Every state, zeros included, so each series exists from the start.
    let mut states: Vec<String> = BatchState::all().into_iter().map(BatchState::name).collect();
    for (state_name, _) in &counts.batches_by_state {
        if !states.contains(state_name) {
            states.push(state_name.clone());
        }
    }
    for state_name in &states {
        let value = lookup(&counts.batches_by_state, state_name);
        sample(&mut text, "scan2dms_batches", &[("state", state_name)], value);
    }

    family(&mut text, "scan2dms_pages", "gauge", "Pages of accepted batches by OCR status (pending: not read yet).");
    for (status, value) in &counts.pages_by_status {
        sample(&mut text, "scan2dms_pages", &[("status", status)], *value);
    }
    let total_pages: u64 = counts.pages_by_status.iter().map(|(_, value)| value).sum();
    family(&mut text, "scan2dms_pages_total", "gauge", "Pages of accepted batches.");
    sample(&mut text, "scan2dms_pages_total", &[], total_pages);

    family(&mut text, "scan2dms_documents", "gauge", "Documents by state.");
    for document_state in ["ocr_done", "efile_done", "pushed", "verified"] {
        sample(
            &mut text,
            "scan2dms_documents",
            &[("state", document_state)],
            lookup(&counts.documents_by_state, document_state),
        );
    }
    for (document_state, value) in &counts.documents_by_state {
        if !["ocr_done", "efile_done", "pushed", "verified"].contains(&document_state.as_str()) {
            sample(&mut text, "scan2dms_documents", &[("state", document_state)], *value);
        }
    }

    family(
        &mut text,
        "scan2dms_events_total",
        "counter",
        "Entries of the processing record by kind (stage claims, failures, retries, ...).",
    );
    for (kind, value) in &counts.events_by_kind {
        sample(&mut text, "scan2dms_events_total", &[("kind", kind)], *value);
    }

    family(&mut text, "scan2dms_stage_seconds", "summary", "Wall time of finished stage runs, from the event log.");
    for (stage, runs, millis) in &counts.stage_runs {
        sample(&mut text, "scan2dms_stage_seconds_sum", &[("stage", stage)], *millis / 1000);
        sample(&mut text, "scan2dms_stage_seconds_count", &[("stage", stage)], *runs);
    }
    family(
        &mut text,
        "scan2dms_dms_failures_total",
        "counter",
        "Push or verify runs that failed after the retries of single DMS requests.",
    );
    sample(&mut text, "scan2dms_dms_failures_total", &[], counts.dms_failures);
    family(&mut text, "scan2dms_uploads_total", "counter", "Batches uploaded through the server.");
    sample(&mut text, "scan2dms_uploads_total", &[], uploads as u64);

    family(&mut text, "scan2dms_order_records", "gauge", "Records per order by how far they got.");
    for order in &orders {
        let stages = [
            ("ordered", order.records),
            ("accepted", order.accepted),
            ("ocr_done", order.ocr_done),
            ("efile_done", order.efile_done),
            ("pushed", order.pushed),
            ("verified", order.verified),
        ];
        for (stage, value) in stages {
            let labels = [("order_id", order.order_id.as_str()), ("series", order.series.as_str()), ("stage", stage)];
            sample(&mut text, "scan2dms_order_records", &labels, value);
        }
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}

fn lookup(counts: &[(String, u64)], key: &str) -> u64 {
    counts.iter().find(|(name, _)| name == key).map_or(0, |(_, value)| *value)
}

fn family(text: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(text, "# HELP {name} {help}");
    let _ = writeln!(text, "# TYPE {name} {kind}");
}

fn sample(text: &mut String, name: &str, labels: &[(&str, &str)], value: u64) {
    if labels.is_empty() {
        let _ = writeln!(text, "{name} {value}");
        return;
    }
    let labels: Vec<String> =
        labels.iter().map(|(label, value)| format!("{label}=\"{}\"", escape_label(value))).collect();
    let _ = writeln!(text, "{name}{{{}}} {value}", labels.join(","));
}

fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
