//! Turns what tesseract returned for one page into a [`PageText`]: drops
//! whitespace-only words, clamps boxes to the image, numbers lines without
//! gaps, computes the mean confidence and decides the status.
//!
//! Key decision: the status rule is simple and honest. `Empty` means
//! tesseract finished and found no word with visible characters; any such
//! word makes the page `Ok`, however low its confidence (a noisy blank page
//! can therefore be `Ok`; its low `mean_confidence` tells).
//!
//! It does not call tesseract; it is pure and unit-tested.

use crate::ffi::RawWord;
use crate::{PageStatus, PageText, Word};

/// The page result of a finished recognition.
pub(crate) fn finished_page(
    text: String,
    raw_words: Vec<RawWord>,
    skew_deg: Option<f32>,
    width: u32,
    height: u32,
) -> PageText {
    let words = clean_words(raw_words, width, height);
    let mean_confidence = mean_confidence(&words);
    if words.is_empty() {
        return PageText {
            status: PageStatus::Empty,
            text: String::new(),
            words,
            mean_confidence,
            skew_deg: None,
            detail: None,
        };
    }
    PageText { status: PageStatus::Ok, text, words, mean_confidence, skew_deg, detail: None }
}

/// A page result without text: `Failed` or `Timeout` with a detail.
pub(crate) fn page_without_text(status: PageStatus, detail: String) -> PageText {
    PageText {
        status,
        text: String::new(),
        words: Vec::new(),
        mean_confidence: None,
        skew_deg: None,
        detail: Some(detail),
    }
}

fn clean_words(raw_words: Vec<RawWord>, width: u32, height: u32) -> Vec<Word> {
    let mut words = Vec::with_capacity(raw_words.len());
    let mut last_raw_line: Option<u32> = None;
    let mut line: u32 = 0;
    for raw in raw_words {
        let text = raw.text.trim();
        if text.is_empty() {
            continue;
        }
        match last_raw_line {
            Some(previous) if previous == raw.line => {}
            Some(_) => line += 1,
            None => {}
        }
        last_raw_line = Some(raw.line);
        let clamp = |value: i32, max: u32| u32::try_from(value.max(0)).unwrap_or(0).min(max);
        let left = clamp(raw.bbox[0], width);
        let top = clamp(raw.bbox[1], height);
        let right = clamp(raw.bbox[2], width).max(left);
        let bottom = clamp(raw.bbox[3], height).max(top);
        let confidence = if raw.confidence.is_finite() { raw.confidence.clamp(0.0, 100.0) } else { 0.0 };
        words.push(Word { text: text.to_owned(), bbox: [left, top, right, bottom], confidence, line });
    }
    words
}

/// Word confidences weighted by the word's character count.
fn mean_confidence(words: &[Word]) -> Option<f32> {
    let mut weighted_sum = 0.0f64;
    let mut weight = 0.0f64;
    for word in words {
        let characters = word.text.chars().count() as f64;
        weighted_sum += f64::from(word.confidence) * characters;
        weight += characters;
    }
    (weight > 0.0).then(|| (weighted_sum / weight) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str, bbox: [i32; 4], confidence: f32, line: u32) -> RawWord {
        RawWord { text: text.to_owned(), bbox, confidence, line }
    }

    #[test]
    fn whitespace_words_are_dropped_and_lines_renumbered_without_gaps() {
        let page = finished_page(
            "Stadt Braunschweig\nKassenzeichen\n".to_owned(),
            vec![
                raw("  ", [0, 0, 500, 500], 95.0, 0),
                raw("Stadt", [10, 10, 60, 30], 90.0, 1),
                raw("Braunschweig", [70, 10, 200, 30], 80.0, 1),
                raw("Kassenzeichen", [10, 40, 150, 60], 50.0, 3),
            ],
            Some(0.5),
            1000,
            1000,
        );
        assert_eq!(page.status, PageStatus::Ok);
        let lines: Vec<(&str, u32)> = page.words.iter().map(|word| (word.text.as_str(), word.line)).collect();
        assert_eq!(lines, [("Stadt", 0), ("Braunschweig", 0), ("Kassenzeichen", 1)]);
        // (5*90 + 12*80 + 13*50) / 30
        let mean = page.mean_confidence.unwrap_or_default();
        assert!((mean - 68.666_67).abs() < 0.01, "{mean}");
    }

    #[test]
    fn only_whitespace_words_make_an_empty_page() {
        let page = finished_page(" \n".to_owned(), vec![raw(" ", [0, 0, 5, 5], 95.0, 0)], Some(0.5), 10, 10);
        assert_eq!(page.status, PageStatus::Empty);
        assert!(page.text.is_empty() && page.words.is_empty() && page.mean_confidence.is_none());
        assert_eq!(page.skew_deg, None, "an empty page has nothing to measure");
    }

    #[test]
    fn boxes_are_clamped_into_the_image() {
        let page = finished_page("x".to_owned(), vec![raw("x", [-3, 5, 120, 90], f32::NAN, 0)], None, 100, 80);
        assert_eq!(page.words[0].bbox, [0, 5, 100, 80]);
        assert_eq!(page.words[0].confidence, 0.0);
    }
}
