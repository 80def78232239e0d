//! Text to a hashed, sparse feature vector.
//!
//! Key decision: feature hashing (no vocabulary). The model file stays small
//! and stable, unseen words cost nothing, and OCR garbage cannot grow a
//! dictionary. Collisions are softened by a sign bit per feature.
//!
//! Robustness to OCR noise comes from normalisation before anything is
//! counted: lower case, umlauts and accents folded to their base letter
//! (`ü` to `u`, as OCR often reads it anyway), `ß` to `ss`, every digit to
//! `0` (dates and amounts keep their shape, lose their value), and character
//! 3–5-grams inside words so that one wrong letter still leaves most of a
//! word's grams intact.
//!
//! Groups: word unigrams, word bigrams, character n-grams, the words of the
//! first lines of the first page (letterheads and titles), the subject of a
//! letter (its words and their character n-grams), and a few layout-free
//! cues ("Seite 1 von", record keys, counts of dates and
//! amounts, page count, share of capitals). Each feature's count becomes
//! `1 + ln(count)`, is scaled by its group's weight, and the whole vector is
//! scaled to unit length so long and short documents train alike.
//!
//! This module does not know labels or weights; see `linear` and `model`.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::rng::mix64;

/// How text becomes features. Stored in the model file: a model is only
/// valid with the parameters it was trained with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureParams {
    /// Buckets are `2^hash_bits`.
    pub hash_bits: u32,
    pub hash_seed: u64,
    pub word_bigrams: bool,
    /// Character n-grams of `char_ngram_min..=char_ngram_max` inside words
    /// (padded with word boundary marks); `0` turns them off.
    pub char_ngram_min: usize,
    pub char_ngram_max: usize,
    /// Non-empty lines at the top of the first page whose words count again
    /// as "top" features.
    pub top_lines: usize,
    pub word_weight: f32,
    pub bigram_weight: f32,
    pub char_ngram_weight: f32,
    pub top_line_weight: f32,
    pub cue_weight: f32,
    /// The words of a letter's subject: its "Betreff" line, else the short
    /// lines right above the salutation. `0` leaves the group out; model
    /// files written before the group existed read as `0`.
    #[serde(default)]
    pub subject_weight: f32,
    /// The character n-grams of the subject's words: German names a
    /// request's kind inside compounds ("Urlaubsantrag", "Ratenzahlung").
    #[serde(default)]
    pub subject_char_weight: f32,
}

impl Default for FeatureParams {
    fn default() -> Self {
        FeatureParams {
            hash_bits: 16,
            hash_seed: 0x5ca2_d125,
            word_bigrams: true,
            char_ngram_min: 3,
            char_ngram_max: 5,
            top_lines: 6,
            word_weight: 1.0,
            bigram_weight: 0.7,
            char_ngram_weight: 0.5,
            top_line_weight: 1.0,
            cue_weight: 1.0,
            subject_weight: 1.0,
            subject_char_weight: 0.5,
        }
    }
}

impl FeatureParams {
    pub(crate) fn bucket_count(&self) -> usize {
        1usize << self.hash_bits
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if !(8..=24).contains(&self.hash_bits) {
            return Err(format!("hash_bits {} is outside 8..=24", self.hash_bits));
        }
        if self.char_ngram_min > self.char_ngram_max || (self.char_ngram_min == 0) != (self.char_ngram_max == 0) {
            return Err(format!("char n-gram range {}..={} is invalid", self.char_ngram_min, self.char_ngram_max));
        }
        let weights = [
            self.word_weight,
            self.bigram_weight,
            self.char_ngram_weight,
            self.top_line_weight,
            self.cue_weight,
            self.subject_weight,
            self.subject_char_weight,
        ];
        if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return Err("a feature group weight is negative or not finite".to_owned());
        }
        Ok(())
    }
}

/// A sparse vector: bucket indices ascending, one value each.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SparseVec {
    pub(crate) indices: Vec<u32>,
    pub(crate) values: Vec<f32>,
}

impl SparseVec {
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, f32)> + '_ {
        self.indices.iter().map(|&i| i as usize).zip(self.values.iter().copied())
    }
}

/// Folds text for counting: lower case, umlauts and accents to the base
/// letter, `ß` to `ss`, digits to `0`. Line breaks and form feeds are kept.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_folded(c, &mut out);
    }
    out
}

pub(crate) fn push_folded(c: char, out: &mut String) {
    match c {
        '0'..='9' => out.push('0'),
        'a'..='z' | '\n' | '\u{c}' | ' ' => out.push(c),
        'A'..='Z' => out.push(c.to_ascii_lowercase()),
        'ä' | 'Ä' | 'à' | 'á' | 'â' | 'À' | 'Á' | 'Â' => out.push('a'),
        'ö' | 'Ö' | 'ò' | 'ó' | 'ô' | 'Ò' | 'Ó' | 'Ô' => out.push('o'),
        'ü' | 'Ü' | 'ù' | 'ú' | 'û' | 'Ù' | 'Ú' | 'Û' => out.push('u'),
        'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => out.push('e'),
        'í' | 'ì' | 'î' | 'ï' | 'ı' | 'Í' | 'Ì' | 'Î' | 'Ï' | 'İ' => out.push('i'),
        'ß' | 'ẞ' => out.push_str("ss"),
        'ç' | 'Ç' => out.push('c'),
        'ñ' | 'Ñ' => out.push('n'),
        _ if c.is_alphabetic() => out.extend(c.to_lowercase()),
        _ if c.is_numeric() => out.push('0'),
        _ => out.push(c),
    }
}

/// The words of a normalised line: maximal runs of letters and digits.
pub(crate) fn words(line: &str) -> impl Iterator<Item = &str> {
    line.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
}

// Group tags keep, say, the word "von" and the top-line word "von" apart.
const TAG_WORD: u8 = b'w';
const TAG_BIGRAM: u8 = b'b';
const TAG_CHAR: u8 = b'c';
const TAG_TOP: u8 = b't';
const TAG_CUE: u8 = b'q';
const TAG_SUBJECT: u8 = b's';
const TAG_SUBJECT_CHAR: u8 = b'u';

/// Turns a document's text (pages joined by form feed) into its features.
pub(crate) fn extract(text: &str, params: &FeatureParams) -> SparseVec {
    let mut counts = Counts::new(params);
    let normalized = normalize(text);

    let mut previous_word: Option<&str> = None;
    for line in normalized.split(['\n', '\u{c}']) {
        for word in words(line) {
            counts.add(TAG_WORD, &[word.as_bytes()], params.word_weight);
            if params.word_bigrams
                && let Some(previous) = previous_word
            {
                counts.add(TAG_BIGRAM, &[previous.as_bytes(), b" ", word.as_bytes()], params.bigram_weight);
            }
            if params.char_ngram_max > 0 && word.chars().any(char::is_alphabetic) {
                add_char_ngrams(&mut counts, word, TAG_CHAR, params.char_ngram_weight, params);
            }
            previous_word = Some(word);
        }
    }

    let first_page = normalized.split('\u{c}').next().unwrap_or("");
    for line in first_page.lines().filter(|l| words(l).next().is_some()).take(params.top_lines) {
        for word in words(line) {
            counts.add(TAG_TOP, &[word.as_bytes()], params.top_line_weight);
        }
    }

    if params.subject_weight > 0.0 || params.subject_char_weight > 0.0 {
        for line in subject_lines(first_page) {
            for word in words(line).filter(|word| word.chars().any(char::is_alphabetic)) {
                counts.add(TAG_SUBJECT, &[word.as_bytes()], params.subject_weight);
                if params.char_ngram_max > 0 {
                    add_char_ngrams(&mut counts, word, TAG_SUBJECT_CHAR, params.subject_char_weight, params);
                }
            }
        }
    }

    for cue in cues(text, &normalized) {
        counts.add(TAG_CUE, &[cue.as_bytes()], params.cue_weight);
    }
    counts.finish()
}

/// A letter's subject on its (normalised) first page: the rest of a line
/// that starts with "Betreff", "Betr." or "Betrifft"; else the one or two
/// lines right above the salutation, where DIN 5008 puts the subject
/// without a label. Lines of more than a dozen words are body text, not a
/// subject. Nothing when the page has neither.
pub(crate) fn subject_lines(first_page: &str) -> Vec<&str> {
    const MAX_WORDS: usize = 12;
    const LABELS: [&str; 3] = ["betreff", "betrifft", "betr"];
    const SALUTATIONS: [&str; 5] = ["sehr geehrte", "guten tag", "liebe ", "lieber ", "hallo "];
    let short = |line: &&str| words(line).count() <= MAX_WORDS;
    let lines: Vec<&str> = first_page.lines().map(str::trim).filter(|line| words(line).next().is_some()).collect();
    for line in &lines {
        if let Some(first) = words(line).next()
            && LABELS.contains(&first)
            && line.starts_with(first)
        {
            return Some(&line[first.len()..]).filter(short).into_iter().collect();
        }
    }
    let Some(salutation) = lines.iter().position(|line| SALUTATIONS.iter().any(|s| line.starts_with(s))) else {
        return Vec::new();
    };
    lines[salutation.saturating_sub(2)..salutation].iter().copied().filter(short).collect()
}

fn add_char_ngrams(counts: &mut Counts<'_>, word: &str, tag: u8, weight: f32, params: &FeatureParams) {
    let mut padded: Vec<char> = Vec::with_capacity(word.len() + 2);
    padded.push('<');
    padded.extend(word.chars());
    padded.push('>');
    let mut buffer = [0u8; 4 * 8];
    for n in params.char_ngram_min..=params.char_ngram_max {
        if padded.len() < n {
            break;
        }
        for window in padded.windows(n) {
            let mut length = 0;
            for c in window {
                length += c.encode_utf8(&mut buffer[length..]).len();
            }
            counts.add(tag, &[&buffer[..length]], weight);
        }
    }
}

static SEITE_VON: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used, reason = "a constant pattern")]
    Regex::new(r"(?:seite|blatt)\s*(\d+)\s*(?:von|/)\s*\d+").unwrap()
});
static DASH_PAGE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used, reason = "a constant pattern")]
    Regex::new(r"(?m)^\s*-\s*\d{1,2}\s*-\s*$").unwrap()
});

/// Layout-free cues, as short names. `text` is the original, `normalized`
/// its folded form.
fn cues(text: &str, normalized: &str) -> Vec<String> {
    let mut cues = Vec::new();
    // Page cues are found in the original text: normalisation turns digits to 0.
    let lower = text.to_lowercase();
    for capture in SEITE_VON.captures_iter(&lower) {
        let first = capture.get(1).is_some_and(|m| m.as_str() == "1");
        cues.push(if first { "page-1-of-n" } else { "page-k-of-n" }.to_owned());
    }
    if DASH_PAGE.is_match(text) {
        cues.push("dash-page-number".to_owned());
    }
    let fields = crate::fields::scan_keys(text);
    if fields.iter().any(|k| k.starts_with("PN-")) {
        cues.push("key-pn".to_owned());
    }
    if fields.iter().any(|k| k.starts_with("KZ-")) {
        cues.push("key-kz".to_owned());
    }
    let date_count = crate::fields::count_dates(text);
    cues.push(format!("dates-{}", bucket(date_count)));
    let amount_count = crate::fields::count_amounts(text);
    cues.push(format!("amounts-{}", bucket(amount_count)));
    let pages = normalized.split('\u{c}').count();
    cues.push(format!("pages-{}", pages.min(5)));
    let (upper, letters) = text
        .chars()
        .filter(|c| c.is_alphabetic())
        .fold((0usize, 0usize), |(u, l), c| (u + usize::from(c.is_uppercase()), l + 1));
    if letters > 40 && upper * 10 > letters * 6 {
        cues.push("mostly-capitals".to_owned());
    }
    let word_count = words(normalized).count();
    cues.push(format!("length-{}", (usize::BITS - word_count.leading_zeros()).min(12)));
    cues
}

fn bucket(count: usize) -> &'static str {
    match count {
        0 => "0",
        1 => "1",
        2..=3 => "2-3",
        4..=7 => "4-7",
        _ => "8+",
    }
}

struct Counts<'p> {
    params: &'p FeatureParams,
    // Full 64-bit feature hash -> (count, group weight).
    counts: HashMap<u64, (f32, f32)>,
}

impl<'p> Counts<'p> {
    fn new(params: &'p FeatureParams) -> Self {
        Counts { params, counts: HashMap::new() }
    }

    fn add(&mut self, tag: u8, parts: &[&[u8]], weight: f32) {
        if weight == 0.0 {
            return;
        }
        let hash = feature_hash(self.params.hash_seed, tag, parts);
        let entry = self.counts.entry(hash).or_insert((0.0, weight));
        entry.0 += 1.0;
    }

    fn finish(self) -> SparseVec {
        let mask = (1u64 << self.params.hash_bits) - 1;
        let mut by_bucket: HashMap<u32, f32> = HashMap::with_capacity(self.counts.len());
        for (hash, (count, weight)) in self.counts {
            let sign = if hash >> 63 == 1 { -1.0 } else { 1.0 };
            let bucket = (hash & mask) as u32;
            *by_bucket.entry(bucket).or_insert(0.0) += sign * weight * (1.0 + count.ln());
        }
        let mut entries: Vec<(u32, f32)> = by_bucket.into_iter().filter(|(_, v)| *v != 0.0).collect();
        entries.sort_unstable_by_key(|(bucket, _)| *bucket);
        let norm = entries.iter().map(|(_, v)| f64::from(*v) * f64::from(*v)).sum::<f64>().sqrt();
        let scale = if norm > 0.0 { (1.0 / norm) as f32 } else { 0.0 };
        SparseVec {
            indices: entries.iter().map(|(b, _)| *b).collect(),
            values: entries.iter().map(|(_, v)| v * scale).collect(),
        }
    }
}

/// FNV-1a over the seed, the group tag and the parts, then an avalanche so
/// low bits (the bucket) and the top bit (the sign) are independent.
fn feature_hash(seed: u64, tag: u8, parts: &[&[u8]]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01B3;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    hash = (hash ^ u64::from(tag)).wrapping_mul(PRIME);
    for part in parts {
        for &byte in *part {
            hash = (hash ^ u64::from(byte)).wrapping_mul(PRIME);
        }
    }
    mix64(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_folds_ocr_variants_together() {
        assert_eq!(normalize("Bezügemitteilung FÜR 03/2004"), "bezugemitteilung fur 00/0000");
        assert_eq!(normalize("Straße"), normalize("STRASSE"));
        assert_eq!(normalize("Yılmaz"), "yilmaz");
    }

    #[test]
    fn vectors_are_unit_length_sorted_and_deterministic() {
        let params = FeatureParams::default();
        let text = "Stadt Braunschweig\nSteueramt\n\nGrundsteuerbescheid 2004\u{c}Seite 2 von 2";
        let a = extract(text, &params);
        let b = extract(text, &params);
        assert_eq!(a, b);
        assert!(a.indices.windows(2).all(|w| w[0] < w[1]));
        let norm: f32 = a.values.iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
        assert!(a.indices.iter().all(|&i| (i as usize) < params.bucket_count()));
    }

    #[test]
    fn one_wrong_letter_keeps_most_features() {
        let params = FeatureParams { word_bigrams: false, cue_weight: 0.0, top_line_weight: 0.0, ..Default::default() };
        let clean = extract("Gewerbesteuermessbescheid", &params);
        let noisy = extract("Gewerbesteuermcssbescheid", &params);
        let dot: f32 = clean.iter().filter_map(|(i, v)| noisy.iter().find(|(j, _)| *j == i).map(|(_, w)| v * w)).sum();
        assert!(dot > 0.6, "cosine {dot}");
    }

    #[test]
    fn subject_is_the_labelled_line_or_the_lines_above_the_salutation() {
        let labelled = normalize("Von: Eva Roth\nBetreff: Bitte um Ratenzahlung\n\nSehr geehrte Damen und Herren,");
        assert_eq!(subject_lines(&labelled), [": bitte um ratenzahlung"]);
        let din = normalize(
            "Stadt Braunschweig\nPersonalamt\n\nBraunschweig, 03.05.2004\n\nAntrag auf Elternzeit\n\n\
             Sehr geehrte Damen und Herren,\nhiermit beantrage ich",
        );
        assert_eq!(subject_lines(&din), ["braunschweig, 00.00.0000", "antrag auf elternzeit"]);
        let long_line = format!("{}\nSehr geehrter Herr Roth,", "wort ".repeat(20));
        assert!(subject_lines(&normalize(&long_line)).is_empty());
        assert!(subject_lines(&normalize("Grundsteuerbescheid 2004\nfestgesetzt wird")).is_empty());
        assert!(subject_lines(&normalize("Betrag: 300,00 EUR\nfällig am 01.02.2004")).is_empty());
    }

    #[test]
    fn subject_group_is_off_when_its_weights_are_zero() {
        let text = "Absender\nAntrag auf Elternzeit\nSehr geehrte Damen und Herren,\nhiermit";
        let with = extract(text, &FeatureParams::default());
        let without =
            extract(text, &FeatureParams { subject_weight: 0.0, subject_char_weight: 0.0, ..Default::default() });
        assert!(with.indices.len() > without.indices.len());
        let old_file = r#"{"hash_bits":16,"hash_seed":1,"word_bigrams":true,"char_ngram_min":3,"char_ngram_max":5,
            "top_lines":6,"word_weight":1,"bigram_weight":0.7,"char_ngram_weight":0.5,"top_line_weight":1,"cue_weight":1}"#;
        let params: FeatureParams = serde_json::from_str(old_file).expect("a model file of before the subject group");
        assert_eq!((params.subject_weight, params.subject_char_weight), (0.0, 0.0));
    }

    #[test]
    fn empty_text_gives_only_cues() {
        let params = FeatureParams::default();
        let vector = extract("", &params);
        assert!(vector.indices.len() <= 6);
    }
}
