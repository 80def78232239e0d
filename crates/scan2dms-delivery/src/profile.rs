//! Our bag-info.txt profile (delivery format, section 2): which fields must be
//! there and what their values must look like. Order-dependent checks
//! (unknown order, series) live in [`crate::validate`].

use scan2dms_model::{BatchId, Finding, OrderId, ReasonCode, Series};

use crate::text::IndexEncoding;

/// The bag-info fields scan2dms uses, parsed as far as they are valid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BagProfile {
    pub source_organization: Option<String>,
    pub external_identifier: Option<String>,
    pub order_id: Option<OrderId>,
    pub series: Option<Series>,
    pub bagging_date: Option<String>,
    pub scan_dpi: Option<u32>,
    pub replaces_batch: Option<BatchId>,
    pub index_encoding: Option<IndexEncoding>,
    pub scanner_model: Option<String>,
    pub scan_operator: Option<String>,
}

const REQUIRED: [&str; 7] = [
    "Source-Organization",
    "External-Identifier",
    "Order-Identifier",
    "Record-Series",
    "Bagging-Date",
    "Payload-Oxum",
    "Scan-Resolution-DPI",
];

/// Fields that may appear once only (RFC 8493 allows repeats in general).
const SINGLE: [&str; 10] = [
    "Source-Organization",
    "External-Identifier",
    "Order-Identifier",
    "Record-Series",
    "Bagging-Date",
    "Payload-Oxum",
    "Scan-Resolution-DPI",
    "Replaces-Batch",
    "Index-Encoding",
    "Bag-Size",
];

pub const MIN_SCAN_DPI: u32 = 300;

/// Checks the profile; pushes a reason for every field at fault.
pub fn check_profile(bag_info: &[(String, String)], reasons: &mut Vec<Finding<ReasonCode>>) -> BagProfile {
    let values = |label: &str| -> Vec<&str> {
        bag_info.iter().filter(|(name, _)| name.eq_ignore_ascii_case(label)).map(|(_, value)| value.trim()).collect()
    };
    let invalid = |label: &str, detail: String| {
        Finding::new(ReasonCode::InvalidBagInfoField, format!("{label}: {detail}")).file("bag-info.txt")
    };

    for label in REQUIRED {
        if values(label).iter().all(|value| value.is_empty()) {
            reasons.push(
                Finding::new(ReasonCode::MissingBagInfoField, format!("{label} is required")).file("bag-info.txt"),
            );
        }
    }
    for label in SINGLE {
        let count = values(label).len();
        if count > 1 {
            reasons.push(invalid(label, format!("given {count} times, allowed once")));
        }
    }

    let first = |label: &str| values(label).into_iter().next().filter(|value| !value.is_empty()).map(str::to_owned);
    let mut profile = BagProfile {
        source_organization: first("Source-Organization"),
        external_identifier: first("External-Identifier"),
        scanner_model: first("Scanner-Model"),
        scan_operator: first("Scan-Operator"),
        ..BagProfile::default()
    };
    if let Some(value) = first("Order-Identifier") {
        match value.parse::<OrderId>() {
            Ok(order_id) => profile.order_id = Some(order_id),
            Err(error) => reasons.push(invalid("Order-Identifier", error.to_string())),
        }
    }
    if let Some(value) = first("Record-Series") {
        match value.parse::<Series>() {
            Ok(series) => profile.series = Some(series),
            Err(error) => reasons.push(invalid("Record-Series", error.to_string())),
        }
    }
    if let Some(value) = first("Bagging-Date") {
        if is_iso_date(&value) {
            profile.bagging_date = Some(value);
        } else {
            reasons.push(invalid("Bagging-Date", format!("{value:?} is not a date as YYYY-MM-DD")));
        }
    }
    if let Some(value) = first("Scan-Resolution-DPI") {
        match value.parse::<u32>() {
            Ok(dpi) if dpi >= MIN_SCAN_DPI => profile.scan_dpi = Some(dpi),
            Ok(dpi) => {
                reasons.push(invalid("Scan-Resolution-DPI", format!("{dpi} is below the minimum of {MIN_SCAN_DPI}")))
            }
            Err(_) => reasons.push(invalid("Scan-Resolution-DPI", format!("{value:?} is not a whole number of dpi"))),
        }
    }
    if let Some(value) = first("Payload-Oxum") {
        let valid = value
            .split_once('.')
            .is_some_and(|(octets, count)| octets.parse::<u64>().is_ok() && count.parse::<u64>().is_ok());
        if !valid {
            reasons.push(invalid("Payload-Oxum", format!("{value:?} is not <octets>.<file count>")));
        }
    }
    if let Some(value) = first("Replaces-Batch") {
        match value.parse::<BatchId>() {
            Ok(batch_id) => profile.replaces_batch = Some(batch_id),
            Err(error) => reasons.push(invalid("Replaces-Batch", error.to_string())),
        }
    }
    if let Some(value) = first("Index-Encoding") {
        match IndexEncoding::from_label(&value) {
            Some(encoding) => profile.index_encoding = Some(encoding),
            None => reasons.push(invalid("Index-Encoding", format!("{value:?} is neither UTF-8 nor windows-1252"))),
        }
    }
    profile
}

/// `YYYY-MM-DD` naming a real day of the Gregorian calendar.
fn is_iso_date(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = &value[range];
        part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok()).flatten()
    };
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day) && year >= 1900
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
    }

    #[test]
    fn dates_must_be_real_days() {
        for good in ["2024-03-06", "2024-02-29", "2000-02-29"] {
            assert!(is_iso_date(good), "{good}");
        }
        for bad in ["12.03.2024", "2023-02-29", "1900-02-29", "2024-13-01", "2024-3-6", "2024-03-06x"] {
            assert!(!is_iso_date(bad), "{bad}");
        }
    }

    #[test]
    fn every_bad_field_is_reported() {
        let mut reasons = Vec::new();
        let profile = check_profile(
            &info(&[
                ("External-Identifier", "B-1"),
                ("Record-Series", "steuer"),
                ("Bagging-Date", "12.03.2024"),
                ("Scan-Resolution-DPI", "300dpi"),
                ("Payload-Oxum", "12.3"),
                ("Index-Encoding", "latin1"),
                ("Order-Identifier", "ORD-1"),
                ("Order-Identifier", "ORD-2"),
            ]),
            &mut reasons,
        );
        let lines: Vec<String> = reasons.iter().map(|r| format!("{}: {}", r.code, r.detail)).collect();
        assert_eq!(
            lines,
            [
                "missing_bag_info_field: Source-Organization is required",
                "invalid_bag_info_field: Order-Identifier: given 2 times, allowed once",
                "invalid_bag_info_field: Record-Series: series \"steuer\" is neither `personnel` nor `tax`",
                "invalid_bag_info_field: Bagging-Date: \"12.03.2024\" is not a date as YYYY-MM-DD",
                "invalid_bag_info_field: Scan-Resolution-DPI: \"300dpi\" is not a whole number of dpi",
                "invalid_bag_info_field: Index-Encoding: \"latin1\" is neither UTF-8 nor windows-1252",
            ]
        );
        assert_eq!(profile.external_identifier.as_deref(), Some("B-1"));
    }
}
