//! How far recognised text is from the true text of a page: the two error
//! measures that the integration tests and the `ocr_quality` bench share, so
//! a figure in a test failure and one in the bench report mean the same.
//!
//! Key decisions:
//! - [`character_error_rate`] counts reading order: it is the edit distance
//!   between the two texts, so side-by-side blocks read in another order cost.
//!   Whitespace runs (line breaks, indentation, blank lines) are collapsed to
//!   one space first, as layout is not what is measured.
//! - [`order_free_word_error`] ignores order: it compares the two texts as
//!   bags of words, lowercased and with surrounding punctuation trimmed, so
//!   it says whether the words are there to be found by a full-text search.
//! - Both are divided by the size of the truth (characters or words) and are
//!   not capped at 1: text found on a page whose truth is short or empty can
//!   give an error above 1.
//!
//! What it does not do: read files, run OCR, normalise Unicode (an `ä` as
//! one code point and as `a` plus a combining mark differ), or weigh errors
//! by how much they matter (a wrong digit in a file number counts like a
//! wrong letter in a heading).

use std::collections::BTreeMap;

/// Character error rate: the edit distance (insertions, deletions and
/// substitutions of single characters) from `truth` to `found`, divided by
/// the number of truth characters, after every whitespace run on both sides
/// is collapsed to one space and leading and trailing whitespace removed.
///
/// An empty truth divides by 1, so the rate is then the number of characters
/// found.
pub fn character_error_rate(truth: &str, found: &str) -> f64 {
    let truth_chars = collapsed_chars(truth);
    let found_chars = collapsed_chars(found);
    // One row of the edit-distance table at a time: `previous` holds the
    // distances from the first `i` truth characters to every prefix of
    // `found`.
    let mut previous: Vec<usize> = (0..=found_chars.len()).collect();
    let mut current = vec![0; found_chars.len() + 1];
    for (i, truth_char) in truth_chars.iter().enumerate() {
        current[0] = i + 1;
        for (j, found_char) in found_chars.iter().enumerate() {
            let substitution = previous[j] + usize::from(truth_char != found_char);
            let deletion = previous[j + 1] + 1;
            let insertion = current[j] + 1;
            current[j + 1] = substitution.min(deletion).min(insertion);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[found_chars.len()] as f64 / truth_chars.len().max(1) as f64
}

/// Order-free word error: (words of the truth missing from `found` + words
/// of `found` not in the truth) / words of the truth, counting repeated
/// words as often as they occur. Words are whitespace-separated, lowercased,
/// with non-alphanumeric characters trimmed from both ends; what is left
/// empty (a lone dash) is not a word.
///
/// An empty truth divides by 1, so the error is then the number of words
/// found.
pub fn order_free_word_error(truth: &str, found: &str) -> f64 {
    let expected = word_counts(truth);
    let seen = word_counts(found);
    let truth_word_count: i64 = expected.values().sum();
    let missing: i64 =
        expected.iter().map(|(word, &count)| (count - seen.get(word).copied().unwrap_or(0)).max(0)).sum();
    let extra: i64 = seen.iter().map(|(word, &count)| (count - expected.get(word).copied().unwrap_or(0)).max(0)).sum();
    (missing + extra) as f64 / truth_word_count.max(1) as f64
}

/// The characters of `text` with whitespace runs collapsed to one space and
/// no whitespace at either end.
fn collapsed_chars(text: &str) -> Vec<char> {
    let mut chars = Vec::with_capacity(text.len());
    for (index, word) in text.split_whitespace().enumerate() {
        if index > 0 {
            chars.push(' ');
        }
        chars.extend(word.chars());
    }
    chars
}

/// How often each word occurs in `text`.
fn word_counts(text: &str) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for word in words(text) {
        *counts.entry(word).or_default() += 1;
    }
    counts
}

/// Lowercase words with the punctuation around them trimmed.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split_whitespace()
        .map(|word| word.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase())
        .filter(|word| !word.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks both measures on one pair of texts.
    fn check(truth: &str, found: &str, expected_character_error: f64, expected_word_error: f64) {
        let character_error = character_error_rate(truth, found);
        let word_error = order_free_word_error(truth, found);
        assert!(
            (character_error - expected_character_error).abs() < 1e-9,
            "character error of {found:?} against {truth:?}: {character_error}, expected {expected_character_error}"
        );
        assert!(
            (word_error - expected_word_error).abs() < 1e-9,
            "word error of {found:?} against {truth:?}: {word_error}, expected {expected_word_error}"
        );
    }

    #[test]
    fn identical_text_has_no_error() {
        check("Stadt Braunschweig", "Stadt Braunschweig", 0.0, 0.0);
    }

    #[test]
    fn whitespace_runs_and_ends_do_not_count() {
        check("Pers.-Nr.: PN-788368\n\nArbeitsvertrag", "  Pers.-Nr.:   PN-788368 Arbeitsvertrag\n\n", 0.0, 0.0);
    }

    #[test]
    fn one_wrong_letter_costs_one_character_and_two_words() {
        // 13 characters; the misread word is missing once and extra once.
        check("Kassenzeichen", "Kassenzeicben", 1.0 / 13.0, 2.0);
        check("der Vertrag gilt", "der Vertrag gi1t", 1.0 / 16.0, 2.0 / 3.0);
    }

    #[test]
    fn insertions_and_deletions_count_as_one_each() {
        check("abc", "abxc", 1.0 / 3.0, 2.0);
        check("abcd", "abd", 1.0 / 4.0, 2.0);
    }

    #[test]
    fn word_order_costs_characters_but_not_words() {
        check("links rechts", "rechts links", 10.0 / 12.0, 0.0);
    }

    #[test]
    fn words_ignore_case_and_surrounding_punctuation_but_count_repeats() {
        // Four case changes, the colon dropped, a full stop added.
        check("Betrag: 1.200,00 EUR", "betrag 1.200,00 eur.", 6.0 / 20.0, 0.0);
        check("- 2 -", "2", 4.0 / 5.0, 0.0);
        check("ja ja nein", "ja nein", 3.0 / 10.0, 1.0 / 3.0);
    }

    #[test]
    fn missing_and_extra_text_are_errors() {
        check("Stadt Braunschweig", "", 1.0, 1.0);
        check("Stadt", "Stadt Braunschweig", 13.0 / 5.0, 1.0);
    }

    #[test]
    fn an_empty_truth_divides_by_one() {
        check("", "", 0.0, 0.0);
        check(" \n ", "ab c", 4.0, 2.0);
    }
}
