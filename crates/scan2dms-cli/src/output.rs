//! What the CLI prints: text for people, JSON for machines, progress on a
//! terminal.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use scan2dms_model::AcceptanceReport;
use scan2dms_runtime::{Note, Observer};
use scan2dms_store::{BatchRow, StateStore};
use serde::Serialize;

fn timestamp(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|at| at.round(jiff::Unit::Second).unwrap_or(at).to_string())
        .unwrap_or_default()
}

/// A spinner on a terminal, nothing otherwise.
pub fn spinner(message: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner().with_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Shows the run: a spinner with the current step on a terminal, one plain
/// line per event otherwise.
pub struct ProgressObserver {
    bar: Option<ProgressBar>,
}

impl ProgressObserver {
    pub fn new() -> ProgressObserver {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        ProgressObserver { bar }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }
}

impl Observer for ProgressObserver {
    fn note(&self, note: &Note) {
        match note {
            Note::Registered { batch_id, source_name } => self.line(format!("registered {batch_id} ({source_name})")),
            Note::Refused { name, reason } => self.line(format!("refused {name}: {reason}")),
            Note::StageStarted { batch_id, stage } => match &self.bar {
                Some(bar) => bar.set_message(format!("{stage} {batch_id}")),
                // A log (of a worker service, say) shows what ran when.
                None => eprintln!("{batch_id}: {stage} started"),
            },
            Note::Validated { batch_id, outcome, reasons, warnings } => {
                self.line(format!("{batch_id}: {outcome} ({reasons} reasons, {warnings} warnings)"))
            }
            Note::StageFailed { batch_id, stage, error, gave_up } => {
                let then = if *gave_up { "gave up, needs an operator" } else { "will retry" };
                self.line(format!("{batch_id}: {stage} failed ({then}): {error}"))
            }
            Note::Resumed { batch_id, state } => self.line(format!("{batch_id}: resumed after an interrupted {state}")),
            Note::StageDone { batch_id, stage } => self.line(format!("{batch_id}: {stage} done")),
        }
    }
}

pub fn print_report(report: &AcceptanceReport, notes: &[String], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{report}");
        for note in notes {
            println!("note: {note}");
        }
    }
    Ok(())
}

#[derive(Serialize)]
pub struct BagJson<'a> {
    valid: bool,
    version: Option<String>,
    payload_bytes: u64,
    payload_files: u64,
    findings: &'a [scan2dms_bagit::BagFinding],
}

impl<'a> From<&'a scan2dms_bagit::BagReport> for BagJson<'a> {
    fn from(report: &'a scan2dms_bagit::BagReport) -> BagJson<'a> {
        let (payload_bytes, payload_files) = report.payload_oxum();
        BagJson {
            valid: report.is_valid(),
            version: report.version.map(|(major, minor)| format!("{major}.{minor}")),
            payload_bytes,
            payload_files,
            findings: &report.findings,
        }
    }
}

#[derive(Serialize)]
struct BatchJson<'a> {
    batch_id: &'a str,
    state: String,
    attempts: u32,
    outcome: Option<&'a str>,
    order_id: Option<&'a str>,
    source_name: &'a str,
    pages: u64,
    received_at: String,
    updated_at: String,
    last_error: Option<&'a str>,
}

impl<'a> From<&'a BatchRow> for BatchJson<'a> {
    fn from(row: &'a BatchRow) -> BatchJson<'a> {
        BatchJson {
            batch_id: &row.batch_id,
            state: row.batch.state.name(),
            attempts: row.batch.attempts,
            outcome: row.outcome.as_deref(),
            order_id: row.order_id.as_deref(),
            source_name: &row.source_name,
            pages: row.pages,
            received_at: timestamp(row.received_at_ms),
            updated_at: timestamp(row.updated_at_ms),
            last_error: row.last_error.as_deref(),
        }
    }
}

pub fn batches(store: &dyn StateStore, state: Option<&str>, json: bool) -> anyhow::Result<std::process::ExitCode> {
    let rows = store.batches(state)?;
    if json {
        let list: Vec<BatchJson<'_>> = rows.iter().map(BatchJson::from).collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(std::process::ExitCode::SUCCESS);
    }
    println!("{:<24} {:<18} {:<24} {:>6}  UPDATED", "BATCH", "STATE", "OUTCOME", "PAGES");
    for row in &rows {
        let mut state = row.batch.state.name();
        if row.batch.attempts > 1 {
            state.push_str(&format!(" ({}x)", row.batch.attempts));
        }
        println!(
            "{:<24} {:<18} {:<24} {:>6}  {}",
            row.batch_id,
            state,
            row.outcome.as_deref().unwrap_or("-"),
            if row.pages > 0 { row.pages.to_string() } else { "-".to_owned() },
            timestamp(row.updated_at_ms)
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct StatusJson {
    batches: BTreeMap<String, usize>,
    orders: Vec<OrderJson>,
}

#[derive(Serialize)]
struct OrderJson {
    order_id: String,
    series: String,
    records: u64,
    delivered: u64,
}

fn order_json(store: &dyn StateStore) -> anyhow::Result<Vec<OrderJson>> {
    Ok(store
        .order_progress()?
        .into_iter()
        .map(|order| OrderJson {
            order_id: order.order_id,
            series: order.series,
            records: order.records,
            delivered: order.delivered,
        })
        .collect())
}

pub fn status(store: &dyn StateStore, json: bool) -> anyhow::Result<std::process::ExitCode> {
    let mut counts = BTreeMap::new();
    for row in store.batches(None)? {
        *counts.entry(row.batch.state.name()).or_insert(0) += 1;
    }
    let orders = order_json(store)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&StatusJson { batches: counts, orders })?);
        return Ok(std::process::ExitCode::SUCCESS);
    }
    println!("batches:");
    if counts.is_empty() {
        println!("  none yet");
    }
    for (state, count) in &counts {
        println!("  {state:<18} {count:>6}");
    }
    print_orders(&orders);
    Ok(std::process::ExitCode::SUCCESS)
}

fn print_orders(orders: &[OrderJson]) {
    println!("orders:");
    if orders.is_empty() {
        println!("  none imported (scan2dms orders import FILE...)");
    }
    for order in orders {
        println!(
            "  {:<20} {:<10} {:>6} of {:>6} records delivered",
            order.order_id, order.series, order.delivered, order.records
        );
    }
}

pub fn orders(store: &dyn StateStore, json: bool) -> anyhow::Result<()> {
    let orders = order_json(store)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&orders)?);
    } else {
        print_orders(&orders);
    }
    Ok(())
}

#[derive(Serialize)]
struct EventJson<'a> {
    seq: i64,
    at: String,
    record_id: Option<&'a str>,
    page_no: Option<u32>,
    kind: &'a str,
    detail: &'a str,
}

pub fn events(store: &dyn StateStore, batch_id: &str, json: bool) -> anyhow::Result<std::process::ExitCode> {
    if store.batch(batch_id)?.is_none() {
        anyhow::bail!("batch {batch_id} is not registered");
    }
    let events = store.events(batch_id)?;
    let list: Vec<EventJson<'_>> = events
        .iter()
        .map(|event| EventJson {
            seq: event.seq,
            at: timestamp(event.at_ms),
            record_id: event.record_id.as_deref(),
            page_no: event.page_no,
            kind: &event.kind,
            detail: &event.detail,
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        for event in &list {
            println!("{} {:<16} {}", event.at, event.kind, event.detail);
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct DocumentJson {
    batch_id: String,
    record_id: String,
    document_no: u32,
    state: String,
    pages: Vec<DocumentPageJson>,
    /// Page texts joined by form feeds.
    text: String,
    efile: Option<EfileJson>,
    /// The document's object in the DMS, from the push on.
    dms: Option<DmsJson>,
    /// The type it is filed under: a reviewer's decision, else the classifier's.
    doc_type: Option<String>,
    /// The classifier's calibrated confidence in its own guess.
    doc_type_confidence: Option<f32>,
    /// Waiting for a reviewer's decision; not filed until then.
    needs_review: bool,
    fields: std::collections::BTreeMap<String, String>,
}

#[derive(Serialize)]
struct DmsJson {
    object_id: String,
    verified: bool,
}

#[derive(Serialize)]
struct DocumentPageJson {
    page_no: u32,
    file: String,
    file_page: u32,
    status: Option<String>,
    confidence: Option<f32>,
    blank: bool,
    /// Clockwise degrees the page was turned to make it upright.
    rotation: u16,
    /// Measured skew in degrees (anticlockwise turn that levels the page),
    /// undone in the e-file from 0.1° on.
    skew: Option<f32>,
    separator: bool,
}

#[derive(Serialize)]
struct EfileJson {
    path: String,
    sha256: String,
    bytes: u64,
}

pub fn documents(store: &dyn StateStore, batch_id: Option<&str>, json: bool) -> anyhow::Result<std::process::ExitCode> {
    if let Some(batch_id) = batch_id
        && store.batch(batch_id)?.is_none()
    {
        anyhow::bail!("batch {batch_id} is not registered");
    }
    let documents = store.documents(batch_id)?;
    // Pages of each batch, by record and page number, read once per batch.
    let mut pages_by_batch: std::collections::HashMap<
        String,
        std::collections::HashMap<(String, u32), scan2dms_store::PageRecord>,
    > = std::collections::HashMap::new();
    let mut list = Vec::with_capacity(documents.len());
    for document in documents {
        if !pages_by_batch.contains_key(&document.batch_id) {
            let pages = store.pages(&document.batch_id)?;
            let by_key = pages.into_iter().map(|page| ((page.record_id.clone(), page.page_no), page)).collect();
            pages_by_batch.insert(document.batch_id.clone(), by_key);
        }
        let pages = &pages_by_batch[&document.batch_id];
        let document_pages: Vec<&scan2dms_store::PageRecord> =
            document.page_nos.iter().filter_map(|page_no| pages.get(&(document.record_id.clone(), *page_no))).collect();
        let text = document_pages
            .iter()
            .map(|page| page.result.as_ref().map_or("", |result| result.text.as_str()))
            .collect::<Vec<_>>()
            .join("\u{c}");
        let doc_type = document.doc_type().map(str::to_owned);
        let needs_review = document.awaits_review();
        let doc_type_confidence = document.classification.as_ref().map(|classification| classification.confidence);
        let fields =
            document.classification.as_ref().map(|classification| classification.fields.clone()).unwrap_or_default();
        list.push(DocumentJson {
            doc_type,
            doc_type_confidence,
            needs_review,
            fields,
            batch_id: document.batch_id,
            record_id: document.record_id,
            document_no: document.document_no,
            state: document.state,
            pages: document_pages
                .iter()
                .map(|page| DocumentPageJson {
                    page_no: page.page_no,
                    file: page.file.clone(),
                    file_page: page.file_page,
                    status: page.result.as_ref().map(|result| result.status.clone()),
                    confidence: page.result.as_ref().and_then(|result| result.confidence),
                    blank: page.result.as_ref().is_some_and(|result| result.blank),
                    rotation: page.result.as_ref().map_or(0, |result| result.rotation),
                    skew: page.result.as_ref().and_then(|result| result.skew),
                    separator: page.result.as_ref().is_some_and(|result| result.separator),
                })
                .collect(),
            text,
            efile: document.efile.map(|efile| EfileJson { path: efile.path, sha256: efile.sha256, bytes: efile.bytes }),
            dms: document.dms.map(|dms| DmsJson { object_id: dms.object_id, verified: dms.verified }),
        });
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        println!("{:<16} {:<18} {:>4} {:>6}  {:<12} EFILE", "BATCH", "RECORD", "DOC", "PAGES", "STATE");
        for document in &list {
            println!(
                "{:<16} {:<18} {:>4} {:>6}  {:<12} {}",
                document.batch_id,
                document.record_id,
                document.document_no,
                document.pages.len(),
                document.state,
                document.efile.as_ref().map_or("-", |efile| efile.path.as_str())
            );
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
