//! Seeded OCR-like noise for clean training text.
//!
//! The generator's truth text is what was printed; the pipeline classifies
//! what the OCR engine read. Training on both clean text and noisy copies
//! makes the model rely on features that survive OCR. The noise imitates the
//! usual errors of an OCR engine on degraded scans: glyph confusions (`rn`
//! for `m`, `l`/`1`/`I`, `0`/`O`, `e`/`c`, `h`/`b`, `cl`/`d`), umlauts losing
//! their dots, `ß` read as `B`, dropped and doubled characters, words run
//! together or split, and now and then a whole line missed (faint text).
//!
//! It is an imitation, not a model of any engine: the figures it yields are
//! a proxy until the classifier is measured on real OCR text.

use serde::{Deserialize, Serialize};

use crate::rng::SplitMix64;

/// How much noise. The defaults give about 7 % character errors (edit
/// distance over length, lost lines included), a degraded scan's OCR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseOptions {
    /// Probability per character of a glyph confusion (where one applies).
    pub confusion_rate: f64,
    /// Probability per character of dropping it.
    pub drop_rate: f64,
    /// Probability per character of doubling it.
    pub duplicate_rate: f64,
    /// Probability per space of dropping it, and per letter of inserting one.
    pub space_rate: f64,
    /// Probability per line of losing the whole line.
    pub line_drop_rate: f64,
}

impl Default for NoiseOptions {
    fn default() -> Self {
        NoiseOptions {
            confusion_rate: 0.05,
            drop_rate: 0.01,
            duplicate_rate: 0.004,
            space_rate: 0.01,
            line_drop_rate: 0.02,
        }
    }
}

/// Glyph confusions: what OCR may read instead of a printed sequence.
const CONFUSIONS: &[(&str, &[&str])] = &[
    ("m", &["rn", "nn"]),
    ("rn", &["m"]),
    ("d", &["cl"]),
    ("l", &["1", "I", "|"]),
    ("1", &["l", "I"]),
    ("I", &["l", "1"]),
    ("i", &["í", "l"]),
    ("O", &["0"]),
    ("0", &["O", "o"]),
    ("o", &["0"]),
    ("e", &["c", "é"]),
    ("c", &["e"]),
    ("h", &["b", "li"]),
    ("n", &["u", "ri"]),
    ("u", &["n", "ü"]),
    ("ü", &["u", "ii"]),
    ("ä", &["a", "à"]),
    ("ö", &["o", "ò"]),
    ("Ü", &["U"]),
    ("Ä", &["A"]),
    ("Ö", &["O"]),
    ("ß", &["B", "ss", "13"]),
    ("S", &["5", "$"]),
    ("5", &["S"]),
    ("B", &["8"]),
    ("8", &["B"]),
    ("g", &["q"]),
    ("t", &["f"]),
    ("f", &["t"]),
    ("v", &["y"]),
    (",", &["."]),
    (".", &[",", ""]),
    ("-", &["–", ""]),
];

/// A noisy copy of `text`; the same text, options and seed give the same copy.
pub fn ocr_noise(text: &str, options: &NoiseOptions, seed: u64) -> String {
    let mut rng = SplitMix64::new(seed);
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let mut pages = text.split('\u{c}').peekable();
    while let Some(page) = pages.next() {
        let mut lines = page.split('\n').peekable();
        while let Some(line) = lines.next() {
            if line.trim().is_empty() || !rng.chance(options.line_drop_rate) {
                noisy_line(line, options, &mut rng, &mut out);
            }
            if lines.peek().is_some() {
                out.push('\n');
            }
        }
        if pages.peek().is_some() {
            out.push('\u{c}');
        }
    }
    out
}

fn noisy_line(line: &str, options: &NoiseOptions, rng: &mut SplitMix64, out: &mut String) {
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if rng.chance(options.confusion_rate)
            && let Some((printed, readings)) = CONFUSIONS.iter().find(|(printed, _)| rest.starts_with(printed))
        {
            out.push_str(readings[rng.below(readings.len())]);
            rest = &rest[printed.len()..];
            continue;
        }
        rest = &rest[c.len_utf8()..];
        if c == ' ' {
            if !rng.chance(options.space_rate) {
                out.push(' ');
            }
            continue;
        }
        if rng.chance(options.drop_rate) {
            continue;
        }
        out.push(c);
        if rng.chance(options.duplicate_rate) {
            out.push(c);
        }
        if c.is_alphabetic() && rng.chance(options.space_rate / 2.0) {
            out.push(' ');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Stadt Braunschweig\nSteueramt\n\nGrundsteuerbescheid für das Kalenderjahr 2004\n\
                        Sehr geehrte Frau Müller,\u{c}Seite 2 von 2\nMit freundlichen Grüßen";

    #[test]
    fn noise_is_seeded_and_keeps_pages() {
        let options = NoiseOptions::default();
        assert_eq!(ocr_noise(TEXT, &options, 1), ocr_noise(TEXT, &options, 1));
        assert_ne!(ocr_noise(TEXT, &options, 1), ocr_noise(TEXT, &options, 2));
        assert_eq!(ocr_noise(TEXT, &options, 3).matches('\u{c}').count(), 1);
    }

    #[test]
    fn zero_rates_change_nothing() {
        let none = NoiseOptions {
            confusion_rate: 0.0,
            drop_rate: 0.0,
            duplicate_rate: 0.0,
            space_rate: 0.0,
            line_drop_rate: 0.0,
        };
        assert_eq!(ocr_noise(TEXT, &none, 9), TEXT);
    }

    fn edit_distance(a: &[char], b: &[char]) -> usize {
        let mut previous: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.iter().enumerate() {
            let mut current = vec![i + 1; b.len() + 1];
            for (j, cb) in b.iter().enumerate() {
                current[j + 1] = (previous[j] + usize::from(ca != cb)).min(previous[j + 1] + 1).min(current[j] + 1);
            }
            previous = current;
        }
        previous[b.len()]
    }

    #[test]
    fn default_noise_is_a_few_percent_character_errors() {
        let long: Vec<char> = TEXT.repeat(8).chars().collect();
        let text: String = long.iter().collect();
        let mut rates = Vec::new();
        for seed in 0..4 {
            let noisy: Vec<char> = ocr_noise(&text, &NoiseOptions::default(), seed).chars().collect();
            rates.push(edit_distance(&long, &noisy) as f64 / long.len() as f64);
        }
        let mean = rates.iter().sum::<f64>() / rates.len() as f64;
        assert!((0.02..0.08).contains(&mean), "character error rate {mean}, per seed {rates:?}");
    }
}
