//! Order lists: the city's `<order_id>.csv` exports (delivery format, section 1).
//!
//! Parsing is strict and all-or-nothing per file: an order list with one bad
//! row is not half imported. Every problem is reported with its line.

use std::collections::HashSet;
use std::path::Path;

use scan2dms_model::{OrderId, RecordId, Series};

use crate::text::{CsvTable, read_csv_table};

/// One record the city ordered scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRecord {
    pub record_id: RecordId,
    pub title: String,
    pub box_id: String,
}

/// A parsed order list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderList {
    pub order_id: OrderId,
    pub series: Series,
    pub records: Vec<OrderRecord>,
}

/// Why an order list cannot be imported; every problem, each with its place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: order list not imported:\n  - {}", .problems.join("\n  - "))]
pub struct OrderListError {
    pub file: String,
    pub problems: Vec<String>,
}

pub const ORDER_HEADER: [&str; 4] = ["record_id", "series", "title", "box_id"];

/// Reads `<order_id>.csv`; the order id is the file name without `.csv`.
pub fn read_order_list(path: &Path) -> Result<OrderList, OrderListError> {
    let file = path.display().to_string();
    let fail = |problem: String| OrderListError { file: file.clone(), problems: vec![problem] };
    let stem = path
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.strip_suffix(".csv"))
        .ok_or_else(|| fail("an order list is named <order_id>.csv".to_owned()))?;
    let order_id: OrderId = stem.parse().map_err(|error| fail(format!("{error}")))?;
    let bytes = std::fs::read(path).map_err(|error| fail(format!("cannot read: {error}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|error| fail(format!("not valid UTF-8 at byte {}", error.utf8_error().valid_up_to())))?;
    parse_order_list(order_id, &text).map_err(|problems| OrderListError { file, problems })
}

/// Parses the text of an order list.
pub fn parse_order_list(order_id: OrderId, text: &str) -> Result<OrderList, Vec<String>> {
    let table: CsvTable = read_csv_table(text).map_err(|problem| vec![problem])?;
    let mut problems = Vec::new();
    if table.header != ORDER_HEADER {
        return Err(vec![format!(
            "line 1: header is {:?}, expected {:?}",
            table.header.join(";"),
            ORDER_HEADER.join(";")
        )]);
    }
    let mut series: Option<Series> = None;
    let mut seen = HashSet::new();
    let mut records = Vec::with_capacity(table.rows.len());
    for row in &table.rows {
        let line = row.line;
        let [record_id, row_series, title, box_id] = [0, 1, 2, 3].map(|column| row.fields[column].as_str());
        let record_id = match record_id.parse::<RecordId>() {
            Ok(record_id) => record_id,
            Err(error) => {
                problems.push(format!("line {line}: {error}"));
                continue;
            }
        };
        match row_series.parse::<Series>() {
            Ok(parsed) => {
                if record_id.series() != parsed {
                    problems.push(format!("line {line}: record {record_id} does not belong to series {parsed}"));
                }
                match series {
                    None => series = Some(parsed),
                    Some(first) if first != parsed => problems.push(format!(
                        "line {line}: series {parsed} differs from {first} of the rows before; an order holds one series"
                    )),
                    Some(_) => {}
                }
            }
            Err(error) => problems.push(format!("line {line}: {error}")),
        }
        if !seen.insert(record_id.clone()) {
            problems.push(format!("line {line}: record {record_id} is listed twice"));
        }
        records.push(OrderRecord { record_id, title: title.to_owned(), box_id: box_id.to_owned() });
    }
    let Some(series) = series else {
        problems.push("the order list has no records".to_owned());
        return Err(problems);
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(OrderList { order_id, series, records })
}
