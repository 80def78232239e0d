//! Key fields read from a document's text: record keys, dates, the document
//! date, amounts, and for tax documents the kind of tax.
//!
//! Key decision: tolerant patterns with a strict result. OCR splits and
//! bends what was printed (`PN- 123456`, `KZ 2500-1234567`, `PN-12345O`,
//! `12. 03.1998`), so the patterns allow one space around separators and
//! read `O`/`o` as `0` and `I`/`l` as `1` inside a key's digits; what comes
//! out is always canonical (`PN-123456`, a valid calendar date, cents).
//! Keys follow the record id patterns of the delivery format section 1:
//! `PN-dddddd` and `KZ-dddd-ddddddd`; a longer digit run is not a key.
//!
//! The document date is scored, not pattern-matched: a date on a
//! "place, date" line, after a `Datum` label or alone on a line wins, more
//! so on the first page and near its top; dates of birth, deadlines and
//! references to earlier letters lose.
//!
//! It does not decide what a mismatch means for a batch: [`key_mismatch`]
//! and [`record_key_mismatches`] say which printed key disagrees, the
//! pipeline turns that into the `key_mismatch` warning.

use std::sync::LazyLock;

use jiff::civil::Date;
use regex::Regex;
use scan2dms_model::{RecordId, Series};
use serde::{Deserialize, Serialize};

use crate::features::normalize;

/// What [`extract_fields`] read from one document.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Fields {
    /// Record keys in canonical form, in order of first appearance, once each.
    pub record_keys: Vec<String>,
    /// Valid calendar dates in order of first appearance, once each.
    pub dates: Vec<Date>,
    /// The date the document was written or issued, when one stands out.
    pub document_date: Option<Date>,
    /// For tax documents: the tax the document names most often.
    pub tax_kind: Option<TaxKind>,
    /// Amounts with a currency, in order of first appearance, once each.
    pub amounts: Vec<Amount>,
}

/// The municipal taxes of the tax files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxKind {
    Grundsteuer,
    Gewerbesteuer,
    Hundesteuer,
    Zweitwohnungsteuer,
    Vergnuegungssteuer,
}

impl TaxKind {
    /// The stable, ASCII name (`vergnuegungssteuer`).
    pub fn as_str(self) -> &'static str {
        match self {
            TaxKind::Grundsteuer => "grundsteuer",
            TaxKind::Gewerbesteuer => "gewerbesteuer",
            TaxKind::Hundesteuer => "hundesteuer",
            TaxKind::Zweitwohnungsteuer => "zweitwohnungsteuer",
            TaxKind::Vergnuegungssteuer => "vergnuegungssteuer",
        }
    }

    /// The name as printed on documents (`Vergnügungssteuer`).
    pub fn label(self) -> &'static str {
        match self {
            TaxKind::Grundsteuer => "Grundsteuer",
            TaxKind::Gewerbesteuer => "Gewerbesteuer",
            TaxKind::Hundesteuer => "Hundesteuer",
            TaxKind::Zweitwohnungsteuer => "Zweitwohnungsteuer",
            TaxKind::Vergnuegungssteuer => "Vergnügungssteuer",
        }
    }
}

/// An amount of money as printed (`1.234,50 DM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Amount {
    pub cents: i64,
    pub currency: Currency,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    /// Deutsche Mark, on documents before 2002.
    #[serde(rename = "DM")]
    Dm,
    #[serde(rename = "EUR")]
    Eur,
}

/// Reads the key fields of one document. `text` is the document's text,
/// pages joined by form feed; `series` decides whether a tax kind is looked for.
pub fn extract_fields(text: &str, series: Series) -> Fields {
    let dated = scan_dates(text);
    let mut dates: Vec<Date> = Vec::new();
    for found in &dated {
        if !dates.contains(&found.date) {
            dates.push(found.date);
        }
    }
    let mut amounts: Vec<Amount> = Vec::new();
    for amount in scan_amounts(text) {
        if !amounts.contains(&amount) {
            amounts.push(amount);
        }
    }
    Fields {
        record_keys: scan_keys(text),
        document_date: document_date(text, &dated),
        dates,
        tax_kind: match series {
            Series::Tax => tax_kind(text),
            Series::Personnel => None,
        },
        amounts,
    }
}

/// The first printed key of a document that disagrees with its record, if
/// the document prints keys and none of them is the record's own.
///
/// A document that names its record and, besides, another key (a
/// cross-reference) does not disagree. A document that prints no key says
/// nothing.
pub fn key_mismatch(record_id: &RecordId, fields: &Fields) -> Option<String> {
    if fields.record_keys.iter().any(|key| key == record_id.as_str()) {
        return None;
    }
    fields.record_keys.first().cloned()
}

/// One document of a record, as [`record_key_mismatches`] needs it.
#[derive(Debug, Clone, Copy)]
pub struct DocumentKeys<'a> {
    /// Whether the document is the record's cover sheet (`deckblatt`).
    pub is_cover: bool,
    pub fields: &'a Fields,
}

/// A document whose printed key disagrees with its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyMismatch {
    /// Index into the documents passed in.
    pub document_index: usize,
    pub is_cover: bool,
    pub printed_key: String,
}

/// Every document of a record whose printed key disagrees with `record_id`,
/// cover sheets first (the spec checks the cover's key first), then the
/// others in record order.
pub fn record_key_mismatches(record_id: &RecordId, documents: &[DocumentKeys<'_>]) -> Vec<KeyMismatch> {
    let mut order: Vec<usize> = (0..documents.len()).collect();
    order.sort_by_key(|&i| !documents[i].is_cover);
    order
        .into_iter()
        .filter_map(|i| {
            key_mismatch(record_id, documents[i].fields).map(|printed_key| KeyMismatch {
                document_index: i,
                is_cover: documents[i].is_cover,
                printed_key,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Patterns
// ---------------------------------------------------------------------------

macro_rules! pattern {
    ($name:ident, $re:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| {
            #[allow(clippy::unwrap_used, reason = "a constant pattern, covered by the unit tests")]
            Regex::new($re).unwrap()
        });
    };
}

// A key's digits may carry OCR letter-for-digit confusions; see `key_digits`.
pattern!(PN_KEY, r"\bPN[ \t]?[-–—]?[ \t]?([0-9OoIl]{6})\b");
pattern!(KZ_KEY, r"\bKZ[ \t]?[-–—]?[ \t]?([0-9OoIl]{4})[ \t]?[-–—]?[ \t]?([0-9OoIl]{7})\b");
pattern!(NUMERIC_DATE, r"\b(\d{1,2})[ ]?\.[ ]?(\d{1,2})[ ]?\.[ ]?(\d{4})\b");
pattern!(
    LONG_DATE,
    r"(?i)\b(\d{1,2})\.[ ]?(januar|februar|märz|maerz|marz|april|mai|juni|juli|august|september|oktober|november|dezember)[ ]?(\d{4})\b"
);
pattern!(AMOUNT, r"(-?)\b(\d{1,3}(?:\.\d{3})*),(\d{2})[ ]?(€|DM|EUR)");
pattern!(TAX_KIND, r"(grund|gewerbe|hunde|zweitwohnungs?|vergnugungs)steuer");
pattern!(PLACE_DATE_PREFIX, r"^[A-ZÄÖÜ][\p{L}\-. ]{1,40},[ ]*(?:den[ ]+)?$");

/// Canonical keys in order of first appearance.
pub(crate) fn scan_keys(text: &str) -> Vec<String> {
    let mut found: Vec<(usize, String)> = Vec::new();
    for capture in PN_KEY.captures_iter(text) {
        if let (Some(all), Some(digits)) = (capture.get(0), capture.get(1))
            && let Some(digits) = key_digits(digits.as_str())
        {
            found.push((all.start(), format!("PN-{digits}")));
        }
    }
    for capture in KZ_KEY.captures_iter(text) {
        if let (Some(all), Some(office), Some(account)) = (capture.get(0), capture.get(1), capture.get(2))
            && let (Some(office), Some(account)) = (key_digits(office.as_str()), key_digits(account.as_str()))
        {
            found.push((all.start(), format!("KZ-{office}-{account}")));
        }
    }
    found.sort_by_key(|(position, _)| *position);
    let mut keys: Vec<String> = Vec::new();
    for (_, key) in found {
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// Reads OCR's letters-for-digits back as digits; more than one letter in a
/// group is too much guessing and rejects the group.
fn key_digits(group: &str) -> Option<String> {
    let letters = group.chars().filter(|c| !c.is_ascii_digit()).count();
    if letters > 1 {
        return None;
    }
    Some(
        group
            .chars()
            .map(|c| match c {
                'O' | 'o' => '0',
                'I' | 'l' => '1',
                _ => c,
            })
            .collect(),
    )
}

#[derive(Debug, Clone)]
struct FoundDate {
    date: Date,
    start: usize,
    end: usize,
}

fn scan_dates(text: &str) -> Vec<FoundDate> {
    let mut found = Vec::new();
    for capture in NUMERIC_DATE.captures_iter(text) {
        let number = |i: usize| capture.get(i).and_then(|m| m.as_str().parse::<i16>().ok());
        if let (Some(all), Some(day), Some(month), Some(year)) = (capture.get(0), number(1), number(2), number(3))
            && let Some(date) = valid_date(year, month, day)
        {
            found.push(FoundDate { date, start: all.start(), end: all.end() });
        }
    }
    for capture in LONG_DATE.captures_iter(text) {
        let number = |i: usize| capture.get(i).and_then(|m| m.as_str().parse::<i16>().ok());
        let month = capture.get(2).and_then(|m| month_number(m.as_str()));
        if let (Some(all), Some(day), Some(month), Some(year)) = (capture.get(0), number(1), month, number(3))
            && let Some(date) = valid_date(year, month, day)
        {
            found.push(FoundDate { date, start: all.start(), end: all.end() });
        }
    }
    found.sort_by_key(|d| d.start);
    found
}

fn valid_date(year: i16, month: i16, day: i16) -> Option<Date> {
    if !(1900..=2100).contains(&year) {
        return None;
    }
    let month = i8::try_from(month).ok()?;
    let day = i8::try_from(day).ok()?;
    Date::new(year, month, day).ok()
}

fn month_number(name: &str) -> Option<i16> {
    let folded = normalize(name);
    const MONTHS: [&str; 12] = [
        "januar",
        "februar",
        "marz",
        "april",
        "mai",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "dezember",
    ];
    let folded = if folded == "maerz" { "marz".to_owned() } else { folded };
    MONTHS.iter().position(|m| *m == folded).and_then(|i| i16::try_from(i + 1).ok())
}

pub(crate) fn count_dates(text: &str) -> usize {
    NUMERIC_DATE.find_iter(text).count() + LONG_DATE.find_iter(text).count()
}

pub(crate) fn count_amounts(text: &str) -> usize {
    AMOUNT.find_iter(text).count()
}

fn scan_amounts(text: &str) -> Vec<Amount> {
    let mut amounts = Vec::new();
    for capture in AMOUNT.captures_iter(text) {
        let negative = capture.get(1).is_some_and(|m| !m.as_str().is_empty());
        let whole: Option<i64> = capture.get(2).and_then(|m| m.as_str().replace('.', "").parse().ok());
        let cents: Option<i64> = capture.get(3).and_then(|m| m.as_str().parse().ok());
        let currency = match capture.get(4).map(|m| m.as_str()) {
            Some("DM") => Currency::Dm,
            _ => Currency::Eur,
        };
        if let (Some(whole), Some(cents)) = (whole, cents)
            && let Some(total) = whole.checked_mul(100).and_then(|w| w.checked_add(cents))
        {
            amounts.push(Amount { cents: if negative { -total } else { total }, currency });
        }
    }
    amounts
}

fn tax_kind(text: &str) -> Option<TaxKind> {
    let folded = normalize(text);
    // (count, first position) per kind.
    let mut tally: Vec<(TaxKind, usize, usize)> = Vec::new();
    for capture in TAX_KIND.captures_iter(&folded) {
        let (Some(all), Some(stem)) = (capture.get(0), capture.get(1)) else { continue };
        let kind = match stem.as_str() {
            "grund" => TaxKind::Grundsteuer,
            "gewerbe" => TaxKind::Gewerbesteuer,
            "hunde" => TaxKind::Hundesteuer,
            "vergnugungs" => TaxKind::Vergnuegungssteuer,
            _ => TaxKind::Zweitwohnungsteuer,
        };
        match tally.iter_mut().find(|(k, _, _)| *k == kind) {
            Some(entry) => entry.1 += 1,
            None => tally.push((kind, 1, all.start())),
        }
    }
    tally.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2))).map(|(kind, _, _)| kind)
}

// ---------------------------------------------------------------------------
// The document date
// ---------------------------------------------------------------------------

/// Words right before a date that make it the document's own date.
const DATE_LABELS: &[&str] = &["datum", "bescheiddatum", "druckdatum", "ausgestellt am", "erstellt am"];
/// Words right before a date that make it the start of a record (covers).
const START_LABELS: &[&str] = &["eintritt", "angelegt", "beginn", "eingestellt am"];
/// Words right before a date that make it some other date.
const OTHER_LABELS: &[&str] = &[
    "geboren am",
    "geb. am",
    "geb.",
    "geburtsdatum",
    "stichtag",
    "wiedervorlage am",
    "bis",
    "bis zum",
    "vom",
    "seit",
    "ab",
    "ab dem",
    "zum",
    "am",
    "fällig am",
    "bis einschließlich",
    "schreibens vom",
];

fn document_date(text: &str, dates: &[FoundDate]) -> Option<Date> {
    let first_page_end = text.find('\u{c}').unwrap_or(text.len());
    let mut best: Option<(f64, &FoundDate)> = None;
    for found in dates {
        let score = date_score(text, found, found.start < first_page_end);
        if best.is_none_or(|(best_score, _)| score > best_score) {
            best = Some((score, found));
        }
    }
    best.map(|(_, found)| found.date)
}

fn date_score(text: &str, found: &FoundDate, on_first_page: bool) -> f64 {
    let line_start = text[..found.start].rfind(['\n', '\u{c}']).map_or(0, |i| i + 1);
    let line_end = text[found.end..].find(['\n', '\u{c}']).map_or(text.len(), |i| found.end + i);
    let before = text[line_start..found.start].trim_start();
    let after = text[found.end..line_end].trim();
    let before_lower = before.to_lowercase();
    let before_trimmed = before_lower.trim_end().trim_end_matches(':').trim_end();
    let page_start = text[..found.start].rfind('\u{c}').map_or(0, |i| i + 1);
    let line_index = text[page_start..line_start].matches('\n').count();

    let mut score = 0.0;
    if before.is_empty() && (after.is_empty() || after.len() > 20) {
        // Alone on its line, or at the start of a long line of a table.
        score += if after.is_empty() { 4.0 } else { 0.5 };
    }
    if PLACE_DATE_PREFIX.is_match(before) {
        score += 5.0;
    }
    if DATE_LABELS.iter().any(|label| before_trimmed.ends_with(label)) {
        score += 5.0;
    }
    if START_LABELS.iter().any(|label| before_trimmed.ends_with(label)) {
        score += 3.0;
    }
    if OTHER_LABELS.iter().any(|label| before_trimmed.ends_with(label)) {
        score -= 3.0;
    }
    if after.starts_with('–') || after.starts_with('-') || after.starts_with("bis") {
        score -= 1.0; // the start of a period
    }
    if on_first_page {
        // Letters are dated on their first page; the top of it is where.
        score += if line_index < 15 { 3.0 } else { 2.0 };
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i16, m: i8, d: i8) -> Date {
        Date::new(y, m, d).unwrap()
    }

    #[test]
    fn keys_tolerate_ocr_spacing_and_letters_but_not_wrong_lengths() {
        let text =
            "Pers.-Nr.: PN- 123456, KZ 2500-1234567, KZ-2300 - 0012345\nPN-12345O PN-1234567 PN-12345 KZ-230-1234567";
        assert_eq!(scan_keys(text), ["PN-123456", "KZ-2500-1234567", "KZ-2300-0012345", "PN-123450"]);
        assert_eq!(scan_keys("PN PN-376478"), ["PN-376478"]);
        assert!(scan_keys("PN-OlOlOl").is_empty());
    }

    #[test]
    fn dates_in_both_spellings_and_only_valid_ones() {
        let fields = extract_fields(
            "Braunschweig, den 23.02.2004\nBAT vom 23. Februar 1961, am 1. März 1999, 12. MAERZ 1998\n31.02.2004 1.2.2003 12. 03.1998",
            Series::Personnel,
        );
        assert_eq!(
            fields.dates,
            [date(2004, 2, 23), date(1961, 2, 23), date(1999, 3, 1), date(1998, 3, 12), date(2003, 2, 1)]
        );
        assert_eq!(fields.document_date, Some(date(2004, 2, 23)));
    }

    #[test]
    fn amounts_become_cents() {
        let fields = extract_fields("Betrag 2.455,00 DM, Rest -12,50 € und 3,5 DM", Series::Tax);
        assert_eq!(
            fields.amounts,
            [Amount { cents: 245_500, currency: Currency::Dm }, Amount { cents: -1250, currency: Currency::Eur }]
        );
    }

    #[test]
    fn the_tax_kind_is_the_one_named_most_and_only_for_tax() {
        let text = "Gewerbesteuermessbescheid\nVERGNÜGUNGSSTEUER\nGewerbesteuer";
        assert_eq!(extract_fields(text, Series::Tax).tax_kind, Some(TaxKind::Gewerbesteuer));
        assert_eq!(extract_fields("Vergnügungssteuer", Series::Tax).tax_kind, Some(TaxKind::Vergnuegungssteuer));
        assert_eq!(extract_fields(text, Series::Personnel).tax_kind, None);
        assert_eq!(extract_fields("Zweitwohnungssteuer", Series::Tax).tax_kind, Some(TaxKind::Zweitwohnungsteuer));
    }

    #[test]
    fn the_document_date_prefers_place_and_label_lines() {
        let text = "Herr Max Muster, geboren am 14.07.1978\nDatum 30.11.2000\nHöhergruppierung zum 01.12.2000";
        assert_eq!(extract_fields(text, Series::Personnel).document_date, Some(date(2000, 11, 30)));
        let cover = "PERSONALAKTE\nGeburtsdatum 23.04.1940\nEintritt 01.12.1983";
        assert_eq!(extract_fields(cover, Series::Personnel).document_date, Some(date(1983, 12, 1)));
    }

    #[test]
    fn a_mismatch_needs_a_printed_key_that_is_not_the_records() {
        let record: RecordId = "PN-485281".parse().unwrap();
        let fields =
            |keys: &[&str]| Fields { record_keys: keys.iter().map(|k| k.to_string()).collect(), ..Default::default() };
        assert_eq!(key_mismatch(&record, &fields(&[])), None);
        assert_eq!(key_mismatch(&record, &fields(&["PN-485281"])), None);
        assert_eq!(key_mismatch(&record, &fields(&["PN-000001", "PN-485281"])), None);
        assert_eq!(key_mismatch(&record, &fields(&["PN-485282"])), Some("PN-485282".to_owned()));

        let cover = fields(&["PN-485282"]);
        let letter = fields(&["PN-999999"]);
        let good = fields(&["PN-485281"]);
        let documents = [
            DocumentKeys { is_cover: false, fields: &letter },
            DocumentKeys { is_cover: true, fields: &cover },
            DocumentKeys { is_cover: false, fields: &good },
        ];
        let found = record_key_mismatches(&record, &documents);
        assert_eq!(
            found.iter().map(|m| (m.document_index, m.printed_key.as_str())).collect::<Vec<_>>(),
            [(1, "PN-485282"), (0, "PN-999999")]
        );
    }
}
