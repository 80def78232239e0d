//! The staff dashboard: server-rendered HTML in German, no scripts.
//!
//! Pages reload themselves (`<meta http-equiv="refresh">`); forms post back
//! with the session's CSRF token and answer with a redirect, so a reload
//! never sends a form twice. Everything shown comes from the store at
//! request time. Text from outside (ids, details, messages) is escaped.
//! The review page does not reload itself: a reviewer's half-made choice
//! would be lost.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use scan2dms_classify::DocType;
use scan2dms_core::{BatchState, Stage};
use scan2dms_model::AcceptanceReport;
use scan2dms_store::{BatchRow, DocumentRecord, EventRow, OrderStageProgress, StoreCounts};
use serde::Deserialize;

use crate::api::{BatchView, request_retry, visible_batch};
use crate::auth::{Caller, Role, session_cookie, verify_token};
use crate::review::{ReviewItem, decide, document_name, review_items, thumbnail_url};
use crate::{ApiError, AppState};

/// `GET /`: progress, failures, rejections, recent batches.
pub async fn overview(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    match overview_page(&state, &caller).await {
        Ok(html) => page_response(StatusCode::OK, html),
        Err(error) => error_page(&error),
    }
}

struct Overview {
    progress: Vec<OrderStageProgress>,
    counts: StoreCounts,
    batches: Vec<BatchRow>,
    reports: HashMap<String, AcceptanceReport>,
    waiting_uploads: usize,
    uploaders: HashMap<String, String>,
    in_review: usize,
    /// The last 14 days, for throughput and the forecast.
    throughput: Vec<scan2dms_store::DailyThroughput>,
}

/// Days of throughput shown; the forecast uses the last [`FORECAST_DAYS`].
const THROUGHPUT_DAYS: i64 = 14;
const FORECAST_DAYS: i64 = 7;

async fn overview_page(state: &AppState, caller: &Caller) -> Result<String, ApiError> {
    let data = state
        .store(|store| {
            let batches = store.batches(None)?;
            let mut reports = HashMap::new();
            for row in batches.iter().filter(|row| row.batch.state == BatchState::Rejected) {
                if let Some(report) = store.report(&row.batch_id)? {
                    reports.insert(row.batch_id.clone(), report);
                }
            }
            let uploads = store.uploads(None)?;
            let names: HashMap<String, String> =
                store.users()?.into_iter().map(|user| (user.user_id, user.name)).collect();
            let registered: std::collections::HashSet<&str> = batches.iter().map(|row| row.batch_id.as_str()).collect();
            let waiting_uploads =
                uploads.iter().filter(|upload| !registered.contains(upload.batch_id.as_str())).count();
            let uploaders = uploads
                .iter()
                .map(|upload| {
                    let name = names.get(&upload.user_id).cloned().unwrap_or_else(|| upload.user_id.clone());
                    (upload.batch_id.clone(), name)
                })
                .collect();
            Ok(Overview {
                progress: store.order_stage_progress()?,
                counts: store.counts()?,
                batches,
                reports,
                waiting_uploads,
                uploaders,
                in_review: store.review_queue()?.len(),
                throughput: store
                    .daily_throughput(jiff::Timestamp::now().as_millisecond() - THROUGHPUT_DAYS * 86_400_000)?,
            })
        })
        .await?;
    let csrf = csrf_of(caller);
    let mut body = String::new();

    if data.in_review > 0 {
        let _ = write!(
            body,
            "<p class=\"notice\"><a href=\"/review\">{} zur Prüfung</a>: der Dokumenttyp ist unsicher; \
             ihre Stapel werden erst nach der Entscheidung im DMS abgelegt.</p>",
            documents_count(data.in_review)
        );
    }

    body.push_str("<section><h2>Fortschritt je Serie und Auftrag</h2>");
    if data.progress.is_empty() {
        body.push_str(
            "<p class=\"muted\">Noch keine Auftragslisten importiert (<code>scan2dms orders import</code>).</p>",
        );
    } else {
        body.push_str(
            "<table class=\"progress\"><thead><tr><th>Serie</th><th>Auftrag</th><th>Bestellt</th>\
             <th>Lieferungen</th><th>Angenommen</th><th>OCR</th><th>E-Akte</th><th>Im DMS</th>\
             <th>Verifiziert</th><th>Fortschritt</th></tr></thead><tbody>",
        );
        let mut series_order: Vec<&str> = Vec::new();
        for order in &data.progress {
            if !series_order.contains(&order.series.as_str()) {
                series_order.push(&order.series);
            }
        }
        for series in series_order {
            let orders: Vec<&OrderStageProgress> =
                data.progress.iter().filter(|order| order.series == series).collect();
            for order in &orders {
                progress_row(&mut body, &escape(series_label(series)), &escape(&order.order_id), order, false);
            }
            let total = OrderStageProgress {
                order_id: String::new(),
                series: series.to_owned(),
                records: orders.iter().map(|order| order.records).sum(),
                batches: orders.iter().map(|order| order.batches).sum(),
                rejected_batches: orders.iter().map(|order| order.rejected_batches).sum(),
                accepted: orders.iter().map(|order| order.accepted).sum(),
                ocr_done: orders.iter().map(|order| order.ocr_done).sum(),
                efile_done: orders.iter().map(|order| order.efile_done).sum(),
                pushed: orders.iter().map(|order| order.pushed).sum(),
                verified: orders.iter().map(|order| order.verified).sum(),
            };
            progress_row(&mut body, &escape(series_label(series)), "Summe", &total, true);
        }
        body.push_str(
            "</tbody></table><p class=\"muted\">Akten je Stufe; eine Akte zählt für eine Stufe, \
            wenn alle ihre Dokumente sie erreicht haben. Lieferungen: Stapel zum Auftrag (abgelehnte in Klammern).</p>",
        );
    }
    body.push_str("</section>");

    throughput_section(&mut body, &data);

    body.push_str("<section><h2>Stapel nach Status</h2><table class=\"counts\"><tbody>");
    if data.waiting_uploads > 0 {
        let _ = write!(
            body,
            "<tr><td>{}</td><td class=\"num\">{}</td></tr>",
            state_label("uploaded"),
            data.waiting_uploads
        );
    }
    for (state_name, count) in &data.counts.batches_by_state {
        let _ = write!(
            body,
            "<tr><td><span class=\"state {}\">{}</span></td><td class=\"num\">{count}</td></tr>",
            state_class(state_name),
            state_label(state_name)
        );
    }
    if data.counts.batches_by_state.is_empty() && data.waiting_uploads == 0 {
        body.push_str("<tr><td class=\"muted\">Noch keine Lieferungen.</td></tr>");
    }
    body.push_str("</tbody></table></section>");

    let failing: Vec<&BatchRow> = data
        .batches
        .iter()
        .filter(|row| {
            matches!(row.batch.state, BatchState::Failed(_))
                || (matches!(row.batch.state, BatchState::Pending(_)) && row.batch.not_before_ms.is_some())
        })
        .collect();
    body.push_str("<section><h2>Fehlgeschlagene Stufen</h2>");
    if failing.is_empty() {
        body.push_str("<p class=\"muted\">Keine.</p>");
    } else {
        body.push_str(
            "<table><thead><tr><th>Stapel</th><th>Status</th><th>Versuche</th><th>Letzter Fehler</th>\
             <th>Aktion</th></tr></thead><tbody>",
        );
        for row in failing {
            let action = if matches!(row.batch.state, BatchState::Failed(_)) {
                retry_button(&row.batch_id, &csrf, None, "Erneut ausführen")
            } else {
                "<span class=\"muted\">wird automatisch wiederholt</span>".to_owned()
            };
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"detail\">{}</td><td>{action}</td></tr>",
                batch_link(&row.batch_id),
                state_badge(&row.batch.state.name()),
                row.batch.attempts,
                escape(row.last_error.as_deref().unwrap_or("–")),
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</section>");

    let rejected: Vec<&BatchRow> =
        data.batches.iter().filter(|row| row.batch.state == BatchState::Rejected).rev().collect();
    body.push_str("<section><h2>Abgelehnte Lieferungen</h2>");
    if rejected.is_empty() {
        body.push_str("<p class=\"muted\">Keine.</p>");
    } else {
        body.push_str(
            "<table><thead><tr><th>Stapel</th><th>Eingang</th><th>Gründe</th><th>Aktion</th></tr></thead><tbody>",
        );
        for row in rejected {
            let mut reasons = String::new();
            match data.reports.get(&row.batch_id) {
                Some(report) => {
                    reasons.push_str("<ul class=\"reasons\">");
                    for finding in report.reasons.iter().take(5) {
                        let _ = write!(
                            reasons,
                            "<li><code>{}</code> {}</li>",
                            escape(finding.code.as_str()),
                            escape(&finding.detail)
                        );
                    }
                    if report.reasons.len() > 5 {
                        let _ = write!(reasons, "<li class=\"muted\">… und {} weitere</li>", report.reasons.len() - 5);
                    }
                    reasons.push_str("</ul>");
                }
                None => reasons.push_str("<span class=\"muted\">kein Bericht</span>"),
            }
            let _ = write!(
                body,
                "<tr><td class=\"time\">{}</td><td class=\"time\">{}</td><td>{reasons}</td><td>{}</td></tr>",
                batch_link(&row.batch_id),
                local_time(row.received_at_ms),
                retry_button(&row.batch_id, &csrf, None, "Erneut prüfen"),
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</section>");

    body.push_str("<section><h2>Alle Stapel</h2>");
    if data.batches.is_empty() {
        body.push_str("<p class=\"muted\">Noch keine registrierten Stapel.</p>");
    } else {
        body.push_str(
            "<table><thead><tr><th>Stapel</th><th>Status</th><th>Ergebnis</th><th>Seiten</th><th>Auftrag</th>\
             <th>Hochgeladen von</th><th>Aktualisiert</th></tr></thead><tbody>",
        );
        for row in data.batches.iter().rev().take(200) {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                batch_link(&row.batch_id),
                state_badge(&row.batch.state.name()),
                outcome_label(row.outcome.as_deref()),
                row.pages,
                escape(row.order_id.as_deref().unwrap_or("–")),
                escape(data.uploaders.get(&row.batch_id).map_or("Eingangsordner", String::as_str)),
                local_time(row.updated_at_ms),
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</section>");
    Ok(layout("Übersicht", Some(caller), Some(state.options().refresh_secs), &body))
}

fn progress_row(body: &mut String, series: &str, order: &str, progress: &OrderStageProgress, total: bool) {
    let percent = (progress.verified * 100).checked_div(progress.records).unwrap_or(0).min(100);
    let _ = write!(
        body,
        "<tr{}><td>{series}</td><td>{order}</td><td class=\"num\">{}</td><td class=\"num\">{} ({})</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td><div class=\"bar\" title=\"{percent} % verifiziert\">\
         <span style=\"width:{percent}%\"></span></div></td></tr>",
        if total { " class=\"total\"" } else { "" },
        progress.records,
        progress.batches,
        progress.rejected_batches,
        progress.accepted,
        progress.ocr_done,
        progress.efile_done,
        progress.pushed,
        progress.verified,
    );
}

#[derive(Debug, Deserialize)]
pub struct BatchPageQuery {
    retried: Option<String>,
}

/// `GET /batches/{id}`: one batch with its report, documents and event log.
pub async fn batch_page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(batch_id): Path<String>,
    Query(query): Query<BatchPageQuery>,
) -> Response {
    match batch_html(&state, &caller, &batch_id, query.retried.is_some()).await {
        Ok(html) => page_response(StatusCode::OK, html),
        Err(error) => error_page(&error),
    }
}

async fn batch_html(state: &AppState, caller: &Caller, batch_id: &str, retried: bool) -> Result<String, ApiError> {
    let view = visible_batch(state, caller, batch_id).await?;
    let id = batch_id.to_owned();
    let (report, documents, events, users): (Option<AcceptanceReport>, Vec<DocumentRecord>, Vec<EventRow>, _) = state
        .store(move |store| {
            let users: HashMap<String, String> =
                store.users()?.into_iter().map(|user| (user.user_id, user.name)).collect();
            Ok((store.report(&id)?, store.documents(Some(&id))?, store.events(&id)?, users))
        })
        .await?;
    let csrf = csrf_of(caller);
    let mut body = String::new();
    let _ = write!(body, "<p><a href=\"/\">← Übersicht</a></p><h2>Stapel {}</h2>", escape(batch_id));
    if retried {
        body.push_str("<p class=\"flash\">Wiederholung angefordert; ein Worker übernimmt den Stapel.</p>");
    }
    body.push_str("<section><dl class=\"facts\">");
    let mut fact = |label: &str, value: String| {
        let _ = write!(body, "<dt>{label}</dt><dd>{value}</dd>");
    };
    fact("Status", state_badge(&view.state()));
    if let BatchView::Registered { row, .. } = &view {
        fact("Versuche", row.batch.attempts.to_string());
        fact("Ergebnis", outcome_label(row.outcome.as_deref()));
        fact("Auftrag", escape(row.order_id.as_deref().unwrap_or("–")));
        fact("Seiten", row.pages.to_string());
        fact("Geliefert als", escape(&row.source_name));
        fact("Eingegangen", local_time(row.received_at_ms));
        fact("Aktualisiert", local_time(row.updated_at_ms));
        if let Some(not_before) = row.batch.not_before_ms {
            fact("Nächster Versuch", local_time(not_before));
        }
        if let Some(error) = &row.last_error {
            fact("Letzter Fehler", format!("<span class=\"detail\">{}</span>", escape(error)));
        }
    }
    match view.upload() {
        Some(upload) => {
            let name = users.get(&upload.user_id).map_or(upload.user_id.as_str(), String::as_str);
            fact(
                "Hochgeladen",
                format!(
                    "{} von {} ({} Bytes, SHA-256 <code>{}</code>)",
                    local_time(upload.uploaded_at_ms),
                    escape(name),
                    upload.bytes,
                    escape(&upload.sha256)
                ),
            );
        }
        None => fact("Hochgeladen", "über den Eingangsordner".to_owned()),
    }
    body.push_str("</dl>");
    if let BatchView::Registered { row, .. } = &view
        && let Some(default_stage) = retry_stage(row.batch.state)
    {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/batches/{id}/retry\" class=\"retry\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label>ab Stufe <select name=\"from_stage\">",
            id = escape(batch_id),
            csrf = escape(&csrf)
        );
        let stages: Vec<Stage> = match row.batch.state {
            BatchState::Rejected => vec![Stage::Validate],
            BatchState::Done => Stage::ALL.into_iter().filter(|stage| *stage != Stage::Validate).collect(),
            _ => Stage::ALL.into_iter().filter(|stage| Some(*stage) <= Some(default_stage)).collect(),
        };
        for stage in stages {
            let selected = if stage == default_stage { " selected" } else { "" };
            let _ = write!(body, "<option value=\"{stage}\"{selected}>{}</option>", stage_label(stage));
        }
        body.push_str("</select></label> <button type=\"submit\">Erneut ausführen</button></form>");
    }
    body.push_str("</section>");

    body.push_str("<section><h2>Prüfbericht</h2>");
    match &report {
        None => body.push_str("<p class=\"muted\">Noch nicht geprüft.</p>"),
        Some(report) => {
            let _ = write!(body, "<p>Ergebnis: {}</p>", outcome_label(Some(report.outcome.as_str())));
            findings_table(
                &mut body,
                "Gründe der Ablehnung",
                report.reasons.iter().map(|finding| {
                    (finding.code.as_str(), &finding.record_id, &finding.file, finding.page_no, &finding.detail)
                }),
            );
            findings_table(
                &mut body,
                "Hinweise",
                report.warnings.iter().map(|finding| {
                    (finding.code.as_str(), &finding.record_id, &finding.file, finding.page_no, &finding.detail)
                }),
            );
        }
    }
    body.push_str("</section>");

    body.push_str("<section><h2>Dokumente</h2>");
    if documents.is_empty() {
        body.push_str("<p class=\"muted\">Noch keine (sie entstehen bei der Texterkennung).</p>");
    } else {
        body.push_str(
            "<table><thead><tr><th>Akte</th><th>Dokument</th><th>Typ</th><th>Status</th><th>Seiten</th>\
             <th>E-Akte</th><th>DMS-Objekt</th></tr></thead><tbody>",
        );
        for document in &documents {
            let pages: Vec<String> = document.page_nos.iter().map(ToString::to_string).collect();
            let efile = document.efile.as_ref().map_or("–".to_owned(), |efile| format!("{} Bytes", efile.bytes));
            let dms = document.dms.as_ref().map_or("–".to_owned(), |dms| {
                format!("{}{}", escape(&dms.object_id), if dms.verified { " ✓ verifiziert" } else { "" })
            });
            let _ = write!(
                body,
                "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{efile}</td>\
                 <td>{dms}</td></tr>",
                escape(&document.record_id),
                document.document_no,
                document_type_cell(document),
                document_state_label(&document.state),
                escape(&pages.join(", ")),
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</section>");

    body.push_str(
        "<section><h2>Ereignisprotokoll</h2><table class=\"events\"><thead><tr><th>Nr.</th><th>Zeit</th>\
        <th>Ereignis</th><th>Akte</th><th>Seite</th><th>Detail</th></tr></thead><tbody>",
    );
    for event in &events {
        let _ = write!(
            body,
            "<tr><td class=\"num\">{}</td><td class=\"time\">{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"detail\">{}</td></tr>",
            event.seq,
            local_time(event.at_ms),
            escape(&event.kind),
            escape(event.record_id.as_deref().unwrap_or("")),
            event.page_no.map(|page| page.to_string()).unwrap_or_default(),
            escape(&event.detail),
        );
    }
    body.push_str("</tbody></table></section>");
    let title = format!("Stapel {batch_id}");
    Ok(layout(&title, Some(caller), Some(state.options().refresh_secs), &body))
}

type FindingRow<'a> = (&'a str, &'a Option<String>, &'a Option<String>, Option<u32>, &'a String);

fn findings_table<'a>(body: &mut String, title: &str, findings: impl Iterator<Item = FindingRow<'a>>) {
    let findings: Vec<FindingRow<'a>> = findings.collect();
    if findings.is_empty() {
        return;
    }
    let _ = write!(
        body,
        "<h3>{title} ({})</h3><table><thead><tr><th>Code</th><th>Akte</th><th>Datei</th><th>Seite</th>\
         <th>Detail</th></tr></thead><tbody>",
        findings.len()
    );
    for (code, record_id, file, page_no, detail) in findings {
        let _ = write!(
            body,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td class=\"detail\">{}</td></tr>",
            escape(code),
            escape(record_id.as_deref().unwrap_or("")),
            escape(file.as_deref().unwrap_or("")),
            page_no.map(|page| page.to_string()).unwrap_or_default(),
            escape(detail),
        );
    }
    body.push_str("</tbody></table>");
}

/// The stage a retry starts from by default, when a retry is possible.
fn retry_stage(state: BatchState) -> Option<Stage> {
    match state {
        BatchState::Failed(stage) => Some(stage),
        BatchState::Rejected => Some(Stage::Validate),
        BatchState::Done => Some(Stage::Efile),
        _ => None,
    }
}

#[derive(Debug, Deserialize)]
pub struct RetryForm {
    #[serde(default)]
    from_stage: String,
}

/// `POST /batches/{id}/retry` (CSRF-checked by the guard).
pub async fn retry_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(batch_id): Path<String>,
    Form(form): Form<RetryForm>,
) -> Response {
    let from = match form.from_stage.trim() {
        "" => None,
        stage => match stage.parse::<Stage>() {
            Ok(stage) => Some(stage),
            Err(message) => return error_page(&ApiError::BadRequest(message)),
        },
    };
    match request_retry(&state, &caller, &batch_id, from).await {
        Ok(_) => Redirect::to(&format!("/batches/{batch_id}?retried=1")).into_response(),
        Err(error) => error_page(&error),
    }
}

/// How many documents the review page shows at once; decided ones leave it.
const REVIEW_PAGE_DOCUMENTS: usize = 25;
/// Pages shown as thumbnails per document; the rest are counted.
const REVIEW_THUMBNAILS: usize = 4;

#[derive(Debug, Deserialize)]
pub struct ReviewPageQuery {
    decided: Option<String>,
    doc_type: Option<String>,
}

/// `GET /review`: documents whose type a person decides, with their pages.
pub async fn review_page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<ReviewPageQuery>,
) -> Response {
    match review_html(&state, &caller, &query).await {
        Ok(html) => page_response(StatusCode::OK, html),
        Err(error) => error_page(&error),
    }
}

async fn review_html(state: &AppState, caller: &Caller, query: &ReviewPageQuery) -> Result<String, ApiError> {
    let items = review_items(state).await?;
    let csrf = csrf_of(caller);
    let mut body = String::new();
    let _ = write!(
        body,
        "<section><h2>Prüfung der Dokumenttypen</h2><p class=\"muted\">Bei diesen Dokumenten war sich die \
         Klassifikation unsicher (Konfidenz unter {}). Ein Stapel wird erst im DMS abgelegt, wenn alle seine \
         Dokumente entschieden sind.</p>",
        percent(state.config().classify.review_threshold)
    );
    if let Some(decided) = &query.decided {
        let _ = write!(
            body,
            "<p class=\"flash\">Entschieden: Dokument {} ist {}.</p>",
            escape(decided),
            query.doc_type.as_deref().map_or_else(|| "–".to_owned(), doc_type_label)
        );
    }
    if items.is_empty() {
        body.push_str("<p class=\"muted\" id=\"review-empty\">Keine Dokumente warten auf Prüfung.</p>");
    } else if items.len() > REVIEW_PAGE_DOCUMENTS {
        let _ = write!(
            body,
            "<p>Die ersten {REVIEW_PAGE_DOCUMENTS} von {}; entschiedene verlassen die Liste.</p>",
            documents_count(items.len())
        );
    } else {
        let verb = if items.len() == 1 { "wartet" } else { "warten" };
        let _ = write!(body, "<p>{} {verb} auf eine Entscheidung.</p>", documents_count(items.len()));
    }
    for item in items.iter().take(REVIEW_PAGE_DOCUMENTS) {
        review_article(&mut body, item, &csrf);
    }
    body.push_str("</section>");
    Ok(layout("Prüfung", Some(caller), None, &body))
}

/// One document in review: its pages, the classifier's guess and key
/// fields, and the form that decides it.
fn review_article(body: &mut String, item: &ReviewItem, csrf: &str) {
    let document = &item.document;
    let name = document_name(document);
    let classification = document.classification.as_ref();
    let guess = classification.map(|classification| classification.doc_type.as_str());
    let _ = write!(
        body,
        "<article class=\"review\" id=\"review-{}\"><h3>Akte {} · Dokument {} \
         <small class=\"muted\">aus Stapel {}</small></h3><div class=\"pages\">",
        escape(&name.replace('/', "-")),
        escape(&document.record_id),
        document.document_no,
        batch_link(&document.batch_id),
    );
    for page_no in document.page_nos.iter().take(REVIEW_THUMBNAILS) {
        let _ = write!(
            body,
            "<figure><img src=\"{}\" alt=\"Seite {page_no}\" width=\"150\"><figcaption>Seite {page_no}</figcaption>\
             </figure>",
            escape(&thumbnail_url(&document.batch_id, &document.record_id, *page_no)),
        );
    }
    if document.page_nos.len() > REVIEW_THUMBNAILS {
        let _ =
            write!(body, "<p class=\"muted\">… und {} weitere Seiten</p>", document.page_nos.len() - REVIEW_THUMBNAILS);
    }
    body.push_str("</div><div><dl class=\"facts\">");
    let mut fact = |label: &str, value: String| {
        let _ = write!(body, "<dt>{label}</dt><dd>{value}</dd>");
    };
    match classification {
        Some(classification) => fact(
            "Vorschlag",
            format!(
                "<strong>{}</strong> <span class=\"muted\">(Konfidenz {})</span>",
                doc_type_label(&classification.doc_type),
                confidence_percent(classification.confidence)
            ),
        ),
        None => fact("Vorschlag", "–".to_owned()),
    }
    fact(
        "Serie",
        item.series.map_or_else(|| "unbekannt".to_owned(), |series| series_label(series.as_str()).to_owned()),
    );
    fact("Seiten", document.page_nos.len().to_string());
    for (field, value) in classification.iter().flat_map(|classification| &classification.fields) {
        fact(&field_label(field), field_value(field, value));
    }
    let _ = write!(
        body,
        "</dl><form method=\"post\" action=\"/review/{}\" class=\"decide\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><label>Dokumenttyp <select name=\"doc_type\">",
        escape(&name),
        escape(csrf)
    );
    for doc_type in item.allowed_types {
        let selected = if guess == Some(doc_type.as_str()) { " selected" } else { "" };
        let _ = write!(
            body,
            "<option value=\"{}\"{selected}>{}</option>",
            doc_type.as_str(),
            doc_type_label(doc_type.as_str())
        );
    }
    body.push_str("</select></label> <button type=\"submit\">Entscheiden</button></form></div></article>");
}

#[derive(Debug, Deserialize)]
pub struct ReviewForm {
    #[serde(default)]
    doc_type: String,
}

/// `POST /review/{batch}/{record}/{document}` (CSRF-checked by the guard).
pub async fn review_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((batch_id, record_id, document_no)): Path<(String, String, String)>,
    Form(form): Form<ReviewForm>,
) -> Response {
    match decide(&state, &caller, &batch_id, &record_id, &document_no, &form.doc_type).await {
        // The name and type were checked against the store: URL-safe characters only.
        Ok(decided) => {
            Redirect::to(&format!("/review?decided={}&doc_type={}", decided.name, decided.doc_type)).into_response()
        }
        Err(error) => error_page(&error),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: String,
}

/// `POST /login`: a staff token for a session cookie.
pub async fn login(State(state): State<AppState>, request: Request) -> Response {
    let form = match Form::<LoginForm>::from_request(request, &()).await {
        Ok(Form(form)) => form,
        Err(_) => LoginForm::default(),
    };
    let next = safe_next(&form.next);
    let caller = match verify_token(&state, &form.token).await {
        Ok(caller) => caller,
        Err(error) => return error_page(&error),
    };
    match caller {
        None => login_page(StatusCode::UNAUTHORIZED, Some(next), Some("Anmeldung fehlgeschlagen: Token ungültig.")),
        Some(caller) if caller.role != Role::Staff => login_page(
            StatusCode::FORBIDDEN,
            Some(next),
            Some("Dieses Token gehört einem Auftragnehmer; das Dashboard ist nur für Mitarbeitende der Stadt."),
        ),
        Some(caller) => match state.inner.sessions.start(&caller.user_id, &caller.name) {
            Ok(session_id) => {
                tracing::info!(user_id = %caller.user_id, "dashboard login");
                let mut response = Redirect::to(next).into_response();
                if let Ok(cookie) = HeaderValue::from_str(&session_cookie(&state, Some(&session_id))) {
                    response.headers_mut().insert(header::SET_COOKIE, cookie);
                }
                response
            }
            Err(error) => error_page(&error),
        },
    }
}

/// `POST /logout`
pub async fn logout(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    if let Some(session) = &caller.session {
        state.inner.sessions.end(&session.id);
    }
    let mut response = Redirect::to("/").into_response();
    if let Ok(cookie) = HeaderValue::from_str(&session_cookie(&state, None)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// Only paths of this site, so a crafted link cannot send staff elsewhere.
fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') { next } else { "/" }
}

/// The login form, with the status the guard or the login chose.
pub fn login_page(status: StatusCode, next: Option<&str>, message: Option<&str>) -> Response {
    let mut body = String::from("<section class=\"login\"><h2>Anmeldung für Mitarbeitende</h2>");
    if let Some(message) = message {
        let _ = write!(body, "<p class=\"error\">{}</p>", escape(message));
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/login\">\
         <input type=\"hidden\" name=\"next\" value=\"{}\">\
         <label for=\"token\">Zugangstoken</label>\
         <input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"current-password\" required autofocus>\
         <button type=\"submit\" id=\"login\">Anmelden</button></form>\
         <p class=\"muted\">Das Token erzeugt der Betrieb mit <code>scan2dms users add --role staff</code>.</p></section>",
        escape(safe_next(next.unwrap_or("/")))
    );
    page_response(status, layout("Anmeldung", None, None, &body))
}

/// An error as a page, with the error's status.
pub fn error_page(error: &ApiError) -> Response {
    if let ApiError::Internal(message) = error {
        tracing::error!(error = %message, "dashboard request failed");
    }
    let message = match error {
        ApiError::Internal(_) => "Interner Fehler; Details stehen im Server-Log.".to_owned(),
        ApiError::NotFound(message) => format!("Nicht gefunden: {message}"),
        ApiError::Conflict(message) => format!("Nicht möglich: {message}"),
        other => other.to_string(),
    };
    let body = format!(
        "<section><h2>Fehler {}</h2><p class=\"error\">{}</p><p><a href=\"/\">Zur Übersicht</a></p></section>",
        error.status().as_u16(),
        escape(&message)
    );
    page_response(error.status(), layout("Fehler", None, None, &body))
}

fn page_response(status: StatusCode, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn layout(title: &str, caller: Option<&Caller>, refresh_secs: Option<u32>, body: &str) -> String {
    let refresh = refresh_secs
        .filter(|secs| *secs > 0)
        .map(|secs| format!("<meta http-equiv=\"refresh\" content=\"{secs}\">"))
        .unwrap_or_default();
    let nav =
        if caller.is_some() { "<nav><a href=\"/\">Übersicht</a><a href=\"/review\">Prüfung</a></nav>" } else { "" };
    let user = caller.map_or(String::new(), |caller| {
        format!(
            "<form method=\"post\" action=\"/logout\" class=\"user\"><span>{}</span>\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">Abmelden</button></form>",
            escape(&caller.name),
            escape(&csrf_of(caller))
        )
    });
    format!(
        "<!DOCTYPE html><html lang=\"de\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{refresh}\
         <title>{} – scan2dms</title><style>{STYLE}</style></head><body>\
         <header><h1><a href=\"/\">scan2dms</a> <small>Digitalisierung der Akten</small></h1>{nav}{user}</header>\
         <main>{body}</main><footer>Stand: {}{}</footer></body></html>",
        escape(title),
        local_time(jiff::Timestamp::now().as_millisecond()),
        refresh_secs.map(|secs| format!(" · aktualisiert sich alle {secs} s")).unwrap_or_default(),
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#f4f6f8}\
header{display:flex;justify-content:space-between;align-items:center;background:#12395b;color:#fff;padding:.6rem 1.2rem}\
header h1{font-size:1.2rem;margin:0}header a{color:#fff;text-decoration:none}header small{font-weight:normal;opacity:.8}\
header .user span{margin-right:.6rem}header nav{flex:1;margin-left:2rem}header nav a{margin-right:1.2rem}\
.notice{background:#fff4d6;border:1px solid #f0d890;padding:.5rem .8rem;border-radius:4px}.notice a{font-weight:600}\
article.review{border-top:1px solid #e6eaee;padding:.8rem 0;display:grid;grid-template-columns:minmax(0,1fr) 26rem;gap:1rem}\
article.review h3{grid-column:1/-1;margin:0}.pages{display:flex;flex-wrap:wrap;gap:.5rem}\
.pages figure{margin:0;text-align:center;font-size:.85em;color:#67737e}\
.pages img{width:150px;border:1px solid #c9d1d9;background:#fff;display:block}\
article.review dd .muted{white-space:nowrap}\
.pages p{align-self:center}form.decide{display:flex;gap:.6rem;align-items:flex-end;margin-top:.8rem}\
form.decide label{display:flex;flex-direction:column;gap:.2rem}form.decide select{padding:.25rem;min-width:14rem}main{padding:1rem 1.2rem;max-width:1200px}\
section{background:#fff;border:1px solid #d8dee4;border-radius:6px;padding:.8rem 1rem;margin-bottom:1rem}\
h2{font-size:1.1rem;margin:.2rem 0 .6rem}h3{font-size:1rem}table{border-collapse:collapse;width:100%}\
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e6eaee;vertical-align:top}\
th{background:#eef2f5;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}\
tr.total td{font-weight:600;background:#f8fafb}.muted{color:#67737e}.detail{font-size:.9em;word-break:break-word}\
.time{white-space:nowrap}.error{color:#a11}.flash{background:#e6f4ea;padding:.4rem .6rem;border-radius:4px}\
.bar{background:#e6eaee;border-radius:3px;height:.8rem;min-width:6rem}.bar span{display:block;height:100%;background:#2e7d32;border-radius:3px}\
.state{padding:.05rem .4rem;border-radius:3px;background:#eef2f5;white-space:nowrap}.state.bad{background:#fde2e1;color:#8a1c1c}\
.state.good{background:#e6f4ea;color:#1e5e2a}.state.busy{background:#fff4d6;color:#6b4e00}\
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0}\
ul.reasons{margin:0;padding-left:1rem}form.retry{margin-top:.6rem}form{display:inline}\
button{background:#12395b;color:#fff;border:0;border-radius:4px;padding:.3rem .7rem;cursor:pointer}\
.login form{display:flex;flex-direction:column;gap:.5rem;max-width:24rem}.login input{padding:.4rem}\
footer{color:#67737e;font-size:.85em;padding:0 1.2rem 1rem}";

fn retry_button(batch_id: &str, csrf: &str, from: Option<Stage>, label: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/batches/{}/retry\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <input type=\"hidden\" name=\"from_stage\" value=\"{}\"><button type=\"submit\">{label}</button></form>",
        escape(batch_id),
        escape(csrf),
        from.map(|stage| stage.to_string()).unwrap_or_default(),
    )
}

fn csrf_of(caller: &Caller) -> String {
    caller.session.as_ref().map(|session| session.csrf.clone()).unwrap_or_default()
}

fn batch_link(batch_id: &str) -> String {
    // Batch ids hold only A-Z a-z 0-9 . _ -, safe in a path.
    format!("<a href=\"/batches/{0}\">{0}</a>", escape(batch_id))
}

fn state_badge(state_name: &str) -> String {
    format!("<span class=\"state {}\">{}</span>", state_class(state_name), state_label(state_name))
}

fn state_class(state_name: &str) -> &'static str {
    if state_name == "rejected" || state_name.ends_with("_failed") {
        "bad"
    } else if state_name == "done" {
        "good"
    } else if state_name == "validating" || state_name.ends_with("_running") {
        "busy"
    } else {
        ""
    }
}

fn stage_label(stage: Stage) -> &'static str {
    match stage {
        Stage::Validate => "Prüfung",
        Stage::Ocr => "Texterkennung",
        Stage::Efile => "E-Akte (PDF/A)",
        Stage::Push => "Übergabe ans DMS",
        Stage::Verify => "Kontrolle im DMS",
    }
}

/// German names of the batch states.
fn state_label(state_name: &str) -> String {
    match state_name {
        "uploaded" => return "hochgeladen (wartet auf Eingang)".to_owned(),
        "received" => return "eingegangen".to_owned(),
        "validating" => return "wird geprüft".to_owned(),
        "accepted" => return "angenommen".to_owned(),
        "rejected" => return "abgelehnt".to_owned(),
        "done" => return "abgeschlossen".to_owned(),
        _ => {}
    }
    match state_name.parse::<BatchState>() {
        Ok(BatchState::Pending(stage)) => format!("wartet: {}", stage_label(stage)),
        Ok(BatchState::Running(stage)) => format!("läuft: {}", stage_label(stage)),
        Ok(BatchState::Failed(stage)) => format!("fehlgeschlagen: {}", stage_label(stage)),
        _ => escape(state_name),
    }
}

fn outcome_label(outcome: Option<&str>) -> String {
    match outcome {
        None => "–".to_owned(),
        Some("accepted") => "angenommen".to_owned(),
        Some("accepted_with_warnings") => "angenommen mit Hinweisen".to_owned(),
        Some("rejected") => "abgelehnt".to_owned(),
        Some(other) => escape(other),
    }
}

fn document_state_label(state_name: &str) -> String {
    match state_name {
        "ocr_done" => "Text erkannt".to_owned(),
        "efile_done" => "E-Akte erstellt".to_owned(),
        "pushed" => "im DMS".to_owned(),
        "verified" => "im DMS verifiziert".to_owned(),
        other => escape(other),
    }
}

/// What the batch page says about a document's type.
fn document_type_cell(document: &DocumentRecord) -> String {
    if let Some(review) = &document.review {
        return format!(
            "{} <span class=\"muted\">(entschieden von {})</span>",
            doc_type_label(&review.doc_type),
            escape(&review.decided_by)
        );
    }
    match &document.classification {
        None => "–".to_owned(),
        Some(classification) if document.awaits_review() => format!(
            "{}? <a href=\"/review\">wartet auf Prüfung</a> <span class=\"muted\">({})</span>",
            doc_type_label(&classification.doc_type),
            percent(f64::from(classification.confidence))
        ),
        Some(classification) => format!(
            "{} <span class=\"muted\">({})</span>",
            doc_type_label(&classification.doc_type),
            percent(f64::from(classification.confidence))
        ),
    }
}

/// German names of the document types (the stored names are ASCII).
fn doc_type_label(doc_type: &str) -> String {
    let Ok(doc_type) = doc_type.parse::<DocType>() else { return escape(doc_type) };
    let label = match doc_type {
        DocType::Bewerbung => "Bewerbung",
        DocType::Arbeitsvertrag => "Arbeitsvertrag",
        DocType::Ernennungsurkunde => "Ernennungsurkunde",
        DocType::Zeugnis => "Zeugnis",
        DocType::Beurteilung => "Beurteilung",
        DocType::Fortbildung => "Fortbildung",
        DocType::Krankmeldung => "Krankmeldung",
        DocType::Urlaubsantrag => "Urlaubsantrag",
        DocType::Gehaltsmitteilung => "Gehaltsmitteilung",
        DocType::Steuerbescheid => "Steuerbescheid",
        DocType::Messbescheid => "Messbescheid",
        DocType::Steuererklaerung => "Steuererklärung",
        DocType::Widerspruch => "Widerspruch",
        DocType::Stundungsantrag => "Stundungsantrag",
        DocType::Mahnung => "Mahnung",
        DocType::Schriftverkehr => "Schriftverkehr",
        DocType::Deckblatt => "Deckblatt",
    };
    label.to_owned()
}

/// German names of the key fields the classifier reads.
fn field_label(field: &str) -> String {
    match field {
        "record_key" => "Ordnungsbegriff im Text".to_owned(),
        "document_date" => "Datum".to_owned(),
        "tax_kind" => "Steuerart".to_owned(),
        other => escape(other),
    }
}

fn field_value(field: &str, value: &str) -> String {
    use scan2dms_classify::TaxKind;
    match field {
        "document_date" => match value.parse::<jiff::civil::Date>() {
            Ok(date) => date.strftime("%d.%m.%Y").to_string(),
            Err(_) => escape(value),
        },
        "tax_kind" => [
            TaxKind::Grundsteuer,
            TaxKind::Gewerbesteuer,
            TaxKind::Hundesteuer,
            TaxKind::Zweitwohnungsteuer,
            TaxKind::Vergnuegungssteuer,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == value)
        .map_or_else(|| escape(value), |kind| kind.label().to_owned()),
        _ => escape(value),
    }
}

/// A share (0 to 1) as German percent: `41 %`.
fn percent(share: f64) -> String {
    format!("{:.0} %", share * 100.0)
}

/// A classifier's confidence to a tenth of a percent, with a decimal comma:
/// a document waiting for review at 0.897 must not read "90 %" beside a
/// threshold of 90 %.
fn confidence_percent(confidence: f32) -> String {
    format!("{:.1} %", f64::from(confidence) * 100.0).replace('.', ",")
}

fn documents_count(count: usize) -> String {
    if count == 1 { "1 Dokument".to_owned() } else { format!("{count} Dokumente") }
}

fn series_label(series: &str) -> &str {
    match series {
        "personnel" => "Personalakten",
        "tax" => "Steuerakten",
        other => other,
    }
}

/// Berlin time, where the city is; UTC when the time zone data is missing.
fn local_time(ms: i64) -> String {
    let Ok(at) = jiff::Timestamp::from_millisecond(ms) else { return String::new() };
    match at.in_tz("Europe/Berlin") {
        Ok(zoned) => zoned.strftime("%d.%m.%Y %H:%M:%S").to_string(),
        Err(_) => at.strftime("%d.%m.%Y %H:%M:%S UTC").to_string(),
    }
}

pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Akten verified per day over the last two weeks, and when the rest of the
/// ordered Akten will be done at the pace of the last week.
fn throughput_section(body: &mut String, data: &Overview) {
    body.push_str("<section><h2>Durchsatz und Prognose</h2>");
    if data.throughput.is_empty() {
        body.push_str(
            "<p class=\"muted\">In den letzten 14 Tagen wurde noch kein Stapel im DMS verifiziert.</p></section>",
        );
        return;
    }
    body.push_str(
        "<table class=\"counts\"><thead><tr><th>Tag</th><th>Stapel</th><th>Akten</th><th>Seiten</th></tr></thead><tbody>",
    );
    for day in &data.throughput {
        let _ = write!(
            body,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&german_day(&day.day)),
            day.batches,
            day.records,
            day.pages
        );
    }
    body.push_str("</tbody></table>");
    let today = jiff::Zoned::now().date();
    let since = today.checked_sub(jiff::Span::new().days(FORECAST_DAYS)).unwrap_or(today);
    let recent: u64 = data
        .throughput
        .iter()
        .filter(|day| day.day.parse::<jiff::civil::Date>().is_ok_and(|date| date > since))
        .map(|day| day.records)
        .sum();
    let ordered: u64 = data.progress.iter().map(|order| order.records).sum();
    let verified: u64 = data.progress.iter().map(|order| order.verified).sum();
    let remaining = ordered.saturating_sub(verified);
    let per_day = recent as f64 / FORECAST_DAYS as f64;
    if remaining == 0 {
        body.push_str("<p>Alle bestellten Akten sind im DMS verifiziert.</p>");
    } else if per_day > 0.0 {
        let days = (remaining as f64 / per_day).ceil() as i64;
        let done = today
            .checked_add(jiff::Span::new().days(days))
            .map_or_else(|_| "-".to_owned(), |date| date.strftime("%d.%m.%Y").to_string());
        let _ = write!(
            body,
            "<p>Noch {remaining} von {ordered} bestellten Akten offen. Im Schnitt der letzten {FORECAST_DAYS} Tage \
             ({per_day:.1} Akten pro Tag) wären sie am <strong>{done}</strong> verifiziert.</p>"
        );
    } else {
        let _ = write!(
            body,
            "<p>Noch {remaining} von {ordered} bestellten Akten offen; in den letzten {FORECAST_DAYS} Tagen wurde keine verifiziert, daher keine Prognose.</p>"
        );
    }
    body.push_str("</section>");
}

/// `YYYY-MM-DD` as `DD.MM.YYYY`.
fn german_day(day: &str) -> String {
    day.parse::<jiff::civil::Date>().map_or_else(|_| day.to_owned(), |date| date.strftime("%d.%m.%Y").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confidence_just_below_the_threshold_does_not_read_as_the_threshold() {
        assert_eq!(confidence_percent(0.897), "89,7 %");
        assert_eq!(confidence_percent(0.41), "41,0 %");
        assert_eq!(percent(0.9), "90 %");
    }
}
