//! records.csv and index.csv: the contractor's own account of what it scanned.
//!
//! Parsing turns every row it can into a typed row and every fault into a
//! reason naming the file, line, record and page. Cross-checks between the
//! two files (records present in both, contiguous pages, page counts) happen
//! here too; checks against the payload, images and orders are in
//! [`crate::validate`].

use std::collections::{BTreeMap, BTreeSet};

use scan2dms_model::{Finding, ReasonCode, RecordId};

use crate::text::CsvTable;

pub const RECORDS_HEADER: [&str; 4] = ["record_id", "title", "box_id", "pages"];
pub const INDEX_HEADER: [&str; 5] = ["record_id", "document_no", "page_no", "file", "file_page"];

/// One row of records.csv: one paper file (Akte) in the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    pub record_id: RecordId,
    pub title: String,
    pub box_id: String,
    pub pages: u32,
    pub line: u64,
}

/// One row of index.csv: one scanned page image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRow {
    pub record_id: RecordId,
    pub document_no: Option<u32>,
    pub page_no: u32,
    /// Relative to `data/`, as written in index.csv.
    pub file: String,
    pub file_page: u32,
    pub line: u64,
}

pub(crate) const RECORDS_FILE: &str = "data/records.csv";
pub(crate) const INDEX_FILE: &str = "data/index.csv";

fn header_ok(table: &CsvTable, expected: &[&str], file: &str, reasons: &mut Vec<Finding<ReasonCode>>) -> bool {
    if table.header == expected {
        return true;
    }
    reasons.push(
        Finding::new(
            ReasonCode::BadCsvHeader,
            format!("header is {:?}, expected {:?}", table.header.join(";"), expected.join(";")),
        )
        .file(file),
    );
    false
}

/// Parses a record id; a bad one is reported once per distinct value.
fn record_id(
    text: &str,
    file: &str,
    line: u64,
    reported: &mut BTreeSet<String>,
    reasons: &mut Vec<Finding<ReasonCode>>,
) -> Option<RecordId> {
    match text.parse::<RecordId>() {
        Ok(record_id) => Some(record_id),
        Err(error) => {
            if reported.insert(text.to_owned()) {
                reasons.push(
                    Finding::new(ReasonCode::BadRecordId, format!("{file} line {line}: {error}"))
                        .record(text)
                        .file(file),
                );
            }
            None
        }
    }
}

pub(crate) fn parse_records(table: &CsvTable, reasons: &mut Vec<Finding<ReasonCode>>) -> Vec<RecordRow> {
    if !header_ok(table, &RECORDS_HEADER, RECORDS_FILE, reasons) {
        return Vec::new();
    }
    let mut bad_ids = BTreeSet::new();
    let mut seen = BTreeMap::new();
    let mut rows = Vec::new();
    for row in &table.rows {
        let Some(record_id) = record_id(&row.fields[0], RECORDS_FILE, row.line, &mut bad_ids, reasons) else {
            continue;
        };
        let pages = match row.fields[3].parse::<u32>() {
            Ok(pages) if pages > 0 => pages,
            _ => {
                reasons.push(
                    Finding::new(
                        ReasonCode::PageCountMismatch,
                        format!("line {}: pages {:?} is not a positive whole number", row.line, row.fields[3]),
                    )
                    .record(record_id.as_str())
                    .file(RECORDS_FILE),
                );
                continue;
            }
        };
        if let Some(first_line) = seen.insert(record_id.clone(), row.line) {
            reasons.push(
                Finding::new(
                    ReasonCode::DuplicateRecord,
                    format!("listed twice in records.csv, lines {first_line} and {}", row.line),
                )
                .record(record_id.as_str())
                .file(RECORDS_FILE),
            );
            continue;
        }
        rows.push(RecordRow {
            record_id,
            title: row.fields[1].clone(),
            box_id: row.fields[2].clone(),
            pages,
            line: row.line,
        });
    }
    rows
}

pub(crate) fn parse_index(table: &CsvTable, reasons: &mut Vec<Finding<ReasonCode>>) -> Vec<PageRow> {
    if !header_ok(table, &INDEX_HEADER, INDEX_FILE, reasons) {
        return Vec::new();
    }
    let mut bad_ids = BTreeSet::new();
    let mut rows = Vec::new();
    for row in &table.rows {
        let line = row.line;
        let Some(record_id) = record_id(&row.fields[0], INDEX_FILE, line, &mut bad_ids, reasons) else {
            continue;
        };
        let fault = |code: ReasonCode, detail: String| {
            Finding::new(code, format!("index.csv line {line}: {detail}")).record(record_id.as_str()).file(INDEX_FILE)
        };
        let document_no = match row.fields[1].as_str() {
            "" => None,
            text => match text.parse::<u32>() {
                Ok(number) if number > 0 => Some(number),
                _ => {
                    reasons.push(fault(
                        ReasonCode::BadCsvHeader,
                        format!("document_no {text:?} is neither empty nor a positive whole number"),
                    ));
                    continue;
                }
            },
        };
        let page_no = match row.fields[2].parse::<u32>() {
            Ok(page_no) if page_no > 0 => page_no,
            _ => {
                reasons.push(fault(
                    ReasonCode::PageGap,
                    format!("page_no {:?} is not a positive whole number", row.fields[2]),
                ));
                continue;
            }
        };
        let file_page = match row.fields[4].parse::<u32>() {
            Ok(file_page) if file_page > 0 => file_page,
            _ => {
                reasons.push(
                    fault(
                        ReasonCode::FilePageOutOfRange,
                        format!("file_page {:?} is not a positive whole number", row.fields[4]),
                    )
                    .page(page_no),
                );
                continue;
            }
        };
        rows.push(PageRow { record_id, document_no, page_no, file: row.fields[3].clone(), file_page, line });
    }
    rows
}

/// Records in both files, contiguous page numbers, page counts.
pub(crate) fn cross_check(
    records: &[RecordRow],
    pages: &[PageRow],
    index_complete: bool,
    reasons: &mut Vec<Finding<ReasonCode>>,
) {
    let mut pages_by_record: BTreeMap<&RecordId, Vec<&PageRow>> = BTreeMap::new();
    for page in pages {
        pages_by_record.entry(&page.record_id).or_default().push(page);
    }
    let listed: BTreeSet<&RecordId> = records.iter().map(|record| &record.record_id).collect();
    for record_id in pages_by_record.keys() {
        if !listed.contains(record_id) {
            reasons.push(
                Finding::new(ReasonCode::RecordMismatch, "in index.csv but not in records.csv")
                    .record(record_id.as_str())
                    .file(INDEX_FILE),
            );
        }
    }
    if !index_complete {
        // Rows of index.csv were unreadable; counting what is left would only
        // add noise to the reasons already given.
        return;
    }
    for record in records {
        let Some(rows) = pages_by_record.get(&record.record_id) else {
            reasons.push(
                Finding::new(ReasonCode::RecordMismatch, "in records.csv but has no page in index.csv")
                    .record(record.record_id.as_str())
                    .file(RECORDS_FILE),
            );
            continue;
        };
        let mut numbers: Vec<u32> = rows.iter().map(|row| row.page_no).collect();
        numbers.sort_unstable();
        for (expected, &number) in (1..).zip(&numbers) {
            if number != expected {
                let detail = if number < expected {
                    format!("page_no {number} appears more than once")
                } else {
                    format!("page_no {expected} is missing (next is {number})")
                };
                reasons.push(
                    Finding::new(ReasonCode::PageGap, detail)
                        .record(record.record_id.as_str())
                        .page(expected)
                        .file(INDEX_FILE),
                );
                break;
            }
        }
        let rows_len = u32::try_from(rows.len()).unwrap_or(u32::MAX);
        if rows_len != record.pages {
            reasons.push(
                Finding::new(
                    ReasonCode::PageCountMismatch,
                    format!("records.csv says {} pages, index.csv lists {rows_len}", record.pages),
                )
                .record(record.record_id.as_str())
                .file(RECORDS_FILE),
            );
        }
    }
}
