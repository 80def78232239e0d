//! Where documents start, from the text of a record's pages, for records
//! whose delivery neither numbers documents nor separates them.
//!
//! Key decision: a small scored model of first-page and follow-up-page cues
//! with fixed, hand-set weights, not a trained one. The cues are the ones a
//! clerk uses and they hold across senders: a letterhead, an address block,
//! a salutation, a date near the top, a cover sheet, a memo's "An:"/"Von:"
//! lines and "Seite 1 von n" start a document; "- 2 -", "Seite 2 von 3",
//! the previous page's "Seite 1 von 2", a blank back side and the headings
//! of attachment pages (Merkblatt, Verfügung, Empfangsbestätigung, ...)
//! continue one. Words are matched with a few edits of tolerance, as OCR
//! bends them. A page starts a document when its score is positive. The
//! weights were set on the shared corpus and a generated training set, and
//! checked on generated deliveries with held-out templates (see the
//! `classify` bench).
//!
//! It does not use images (a separator barcode, a change of paper), nor the
//! document type model; both would help and are left to the pipeline.

use std::sync::LazyLock;

use regex::Regex;

use crate::features::normalize;

/// Indices of the pages that start a document; the first page always does.
/// `pages` are the OCR texts of one record's pages in scan order, separator
/// sheets removed.
pub fn segment(pages: &[&str]) -> Vec<usize> {
    start_scores(pages).iter().enumerate().filter(|(_, score)| **score > 0.0).map(|(i, _)| i).collect()
}

/// The start score of every page (positive: starts a document). The first
/// page scores `f64::INFINITY`.
pub fn start_scores(pages: &[&str]) -> Vec<f64> {
    let views: Vec<PageView> = pages.iter().map(|text| PageView::new(text)).collect();
    (0..views.len()).map(|i| if i == 0 { f64::INFINITY } else { score(&views[i], &views[i - 1]) }).collect()
}

macro_rules! pattern {
    ($name:ident, $re:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| {
            #[allow(clippy::unwrap_used, reason = "a constant pattern, covered by the unit tests")]
            Regex::new($re).unwrap()
        });
    };
}

pattern!(PAGE_OF, r"(?i)\b(?:seite|blatt)\s*(\d{1,2})\s*(?:von|/)\s*(\d{1,2})\b");
pattern!(DASH_NUMBER, r"^[-–]\s*(\d{1,2})\s*[-–]?$");
pattern!(POSTAL_LINE, r"\b\d{4,5}\s+[A-ZÄÖÜ][\p{L}-]+");
pattern!(DATE, r"\b\d{1,2}\.\s?(?:\d{1,2}\.|[A-ZÄÖÜ][a-zäöü]+)\s?\d{4}\b");

/// Headings of pages that are filed behind a document, normalised.
const FOLLOW_UP_HEADINGS: &[&str] = &[
    "wichtige hinweise",
    "hinweise",
    "merkblatt",
    "verfugung",
    "vermerk",
    "empfangsbestatigung",
    "erlauterungen",
    "erlauterungen zum bescheid",
    "rechtsbehelfsbelehrung",
    "lebenslauf",
    "tabellarischer werdegang",
    "vollmacht",
    "aushandigungsvermerk",
    "niederschrift uber die verpflichtung",
];

/// Opening words of follow-up pages whose heading may have been lost.
const FOLLOW_UP_PHRASES: &[&str] = &["hiermit bestatige ich den empfang", "hiermit bevollmachtige"];

/// Words of a letterhead or of a document's sender, normalised, with the
/// OCR edits tolerated in each (few: `personalamt` is one edit from
/// `personalrat`).
const SENDER_WORDS: &[(&str, usize)] = &[
    ("stadt braunschweig", 3),
    ("finanzamt", 1),
    ("studieninstitut", 2),
    ("akademie", 1),
    ("dr. med", 0),
    ("praxis", 0),
    ("rechtsanw", 1),
    ("kanzlei", 0),
    ("steuerberat", 1),
    ("volksbank", 1),
    ("sparkasse", 1),
    ("bank ag", 0),
    ("gmbh", 0),
    (" kg", 0),
    ("landkreis", 1),
    ("samtgemeinde", 1),
    ("krankenkasse", 2),
    ("personalrat", 0),
    ("stadtkasse", 1),
];

/// What the scorer looks at on one page.
struct PageView {
    blank: bool,
    /// The first non-empty lines, trimmed, original and normalised.
    top: Vec<(String, String)>,
    /// "Seite k von n" (or "Blatt"), the first on the page.
    page_of: Option<(u32, u32)>,
    salutation: bool,
}

impl PageView {
    fn new(text: &str) -> Self {
        let top: Vec<(String, String)> = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .take(10)
            .map(|line| (line.to_owned(), normalize(line)))
            .collect();
        let word_count = text.split_whitespace().filter(|w| w.chars().any(char::is_alphanumeric)).count();
        let page_of = PAGE_OF.captures(text).and_then(|c| {
            let k = c.get(1)?.as_str().parse().ok()?;
            let n = c.get(2)?.as_str().parse().ok()?;
            (k >= 1 && k <= n).then_some((k, n))
        });
        let lower = text.to_lowercase();
        PageView {
            blank: word_count < 3,
            top,
            page_of,
            salutation: lower.contains("sehr geehrte") || lower.contains("liebe kolleg"),
        }
    }
}

fn score(page: &PageView, previous: &PageView) -> f64 {
    if page.blank {
        return -10.0; // a back side belongs to the sheet before it
    }
    let mut score = -1.0;

    // Page numbers say it outright.
    match page.page_of {
        Some((1, _)) => score += 5.0,
        Some(_) => score -= 6.0,
        None => {}
    }
    if let Some((k, n)) = previous.page_of {
        score += if k < n { -4.0 } else { 2.0 };
    }
    if let Some((first, _)) = page.top.first()
        && let Some(number) = DASH_NUMBER.captures(first).and_then(|c| c.get(1)?.as_str().parse::<u32>().ok())
    {
        score += if number >= 2 { -6.0 } else { 2.0 };
    }

    // Attachment headings and phrases near the top; OCR may have bent them.
    let follow_up = page.top.iter().take(3).any(|(_, normalized)| {
        let line = squeeze(normalized.trim_end_matches([':', '.']));
        FOLLOW_UP_HEADINGS.iter().any(|heading| {
            let heading = squeeze(heading);
            let allowed = tolerance(heading.len());
            // The whole line, or its start for longer headings ("Erläuterungen zur ...").
            edit_distance(&line, &heading) <= allowed
                || (heading.len() >= 8
                    && line.len() > heading.len()
                    && edit_distance(&line[..heading.len()], &heading) <= allowed)
        }) || line.starts_with(&['a', 'n', 'l', 'a', 'g', 'e']) // "Anlage: ..."
            || FOLLOW_UP_PHRASES.iter().any(|phrase| {
                let phrase = squeeze(phrase);
                fuzzy_contains(&line, &phrase, tolerance(phrase.len()))
            })
    });
    if follow_up {
        score -= 4.0;
    }
    // Numbered notes at the very top: printed notes on a back side.
    if page.top.iter().take(2).any(|(line, _)| line.starts_with("1. ")) {
        score -= 2.0;
    }

    // First-page cues.
    let cover = page.top.iter().take(8).any(|(_, normalized)| {
        let line = squeeze(normalized);
        ["personalakte", "steuerakte"].iter().any(|word| fuzzy_contains(&line, &squeeze(word), 1))
    });
    if cover {
        score += 6.0;
    }
    // A letterhead: a short line naming an organisation, among the first three.
    let letterhead = page.top.iter().take(3).filter(|(line, _)| line.split_whitespace().count() <= 8).any(|(_, n)| {
        let line = squeeze(n);
        SENDER_WORDS.iter().any(|(word, edits)| {
            if *edits == 0 { n.contains(word) } else { fuzzy_contains(&line, &squeeze(word), *edits) }
        })
    });
    if letterhead {
        score += 2.5;
    }
    if page.top.iter().take(8).any(|(line, _)| POSTAL_LINE.is_match(line)) {
        score += 1.5;
    }
    if page.top.iter().take(10).any(|(line, _)| DATE.is_match(line)) {
        score += 1.0;
    }
    if page.top.iter().take(8).any(|(line, _)| !crate::fields::scan_keys(line).is_empty()) {
        score += 1.0;
    }
    if page.salutation {
        score += 1.5;
    }
    // A memo's "An:" and "Von:" lines: a new internal letter, even when
    // titled like a note ("Vermerk").
    let memo_fields = page.top.iter().filter(|(_, n)| n.starts_with("an:") || n.starts_with("von:")).count();
    if memo_fields >= 2 {
        score += 4.0;
    }
    score
}

/// Characters of a normalised line without white space.
fn squeeze(text: &str) -> Vec<char> {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Edits OCR may plausibly have made in a word of `length` characters.
fn tolerance(length: usize) -> usize {
    match length {
        0..=5 => 0,
        6..=9 => 1,
        10..=14 => 2,
        _ => 3,
    }
}

/// Levenshtein distance.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// Whether `pattern` occurs in `text` with at most `max_edits` edits
/// (Sellers' approximate substring search).
fn fuzzy_contains(text: &[char], pattern: &[char], max_edits: usize) -> bool {
    if pattern.is_empty() {
        return true;
    }
    // Column over the pattern, one per text position; a match may start anywhere.
    let mut column: Vec<usize> = (0..=pattern.len()).collect();
    if column[pattern.len()] <= max_edits {
        return true;
    }
    for c in text {
        let mut diagonal = column[0];
        column[0] = 0;
        for (i, p) in pattern.iter().enumerate() {
            let above = column[i + 1];
            column[i + 1] = (diagonal + usize::from(p != c)).min(above + 1).min(column[i] + 1);
            diagonal = above;
        }
        if column[pattern.len()] <= max_edits {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_and_their_attachments() {
        let pages = [
            "Stadt Braunschweig\nSteueramt\nStadt Braunschweig · Postfach 3309 · 38023 Braunschweig\nHerrn\nMax Muster\n\nSehr geehrter Herr Muster,",
            "- 2 -\n\nErläuterungen zum Bescheid\n1. Die Steuer ist zu entrichten.",
            "",
            "Verfügung\n1. Zur Akte.\nBraunschweig, 12.03.1998",
            "Max Muster\nKreuzstraße 68\n38110 Braunschweig\nBraunschweig, 14.08.2000\n\nWiderspruch\nSehr geehrte Damen und Herren,",
            "Empfangsbestätigung\nHiermit bestätige ich den Empfang",
            "Stadt Braunschweig – Personalakte\nName, Vorname Görtz, Andreas",
            "Bericht\nText der ersten Seite\nSeite 1 von 2",
            "weiterer Text\nSeite 2 von 2",
        ];
        assert_eq!(segment(&pages), [0, 4, 6, 7]);
    }

    #[test]
    fn fuzzy_matching_counts_edits() {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(edit_distance(&chars("empfagsbestatigung"), &chars("empfangsbestatigung")), 1);
        assert!(fuzzy_contains(&chars("derstaclbraunschweiqvom"), &chars("stadtbraunschweig"), 3));
        assert!(!fuzzy_contains(&chars("landkreiswolfenbuttel"), &chars("stadtbraunschweig"), 3));
    }

    #[test]
    fn no_pages_no_documents() {
        assert!(segment(&[]).is_empty());
        assert_eq!(segment(&["", ""]), [0]);
    }
}
