//! Manifest and fetch.txt lines: parsing, percent-decoding, path safety.
//!
//! Key decision: only the three escapes RFC 8493 §2.1.3 defines are decoded
//! (`%0A`, `%0D`, `%25`, hex in either case); any other `%xx` stays literal,
//! so a file really named `a%20b` still matches an unencoded entry. A path
//! that is absolute or has a `..` component is a path escape and is never
//! joined to the bag directory.
//!
//! This module works on decoded text only; it does not look at the disk and
//! does not know which files are payload or tag files.

use std::collections::HashMap;

use crate::{Algorithm, FindingKind};

/// One usable line of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    pub line_no: usize,
    /// Lowercase hex.
    pub digest: String,
    /// Decoded path relative to the bag root, '/' separated.
    pub path: String,
}

/// One usable line of fetch.txt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchEntry {
    pub line_no: usize,
    pub url: String,
    /// Declared length in octets; `None` for `-`.
    pub length: Option<u64>,
    /// Decoded path relative to the bag root.
    pub path: String,
}

/// Encodes a bag-relative path for a manifest or fetch.txt line: `%`, LF and
/// CR become `%25`, `%0A`, `%0D` (RFC 8493 §2.1.3); nothing else changes.
pub fn encode_manifest_path(path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for character in path.chars() {
        match character {
            '%' => encoded.push_str("%25"),
            '\n' => encoded.push_str("%0A"),
            '\r' => encoded.push_str("%0D"),
            other => encoded.push(other),
        }
    }
    encoded
}

/// Decodes `%0A`, `%0D` and `%25` (either hex case); leaves any other `%`
/// sequence as it is.
pub fn decode_manifest_path(encoded: &str) -> String {
    let mut decoded = String::with_capacity(encoded.len());
    let mut rest = encoded;
    while let Some(position) = rest.find('%') {
        decoded.push_str(&rest[..position]);
        let escape = rest.get(position..position + 3).map(str::to_ascii_uppercase);
        let replacement = match escape.as_deref() {
            Some("%0A") => Some('\n'),
            Some("%0D") => Some('\r'),
            Some("%25") => Some('%'),
            _ => None,
        };
        match replacement {
            Some(character) => {
                decoded.push(character);
                rest = &rest[position + 3..];
            }
            None => {
                decoded.push('%');
                rest = &rest[position + 1..];
            }
        }
    }
    decoded.push_str(rest);
    decoded
}

/// A manifest line in the RFC's form: digest, one or more spaces or tabs,
/// path (encoded as by [`encode_manifest_path`]).
pub fn manifest_line(digest: &str, path: &str) -> String {
    format!("{digest}  {}\n", encode_manifest_path(path))
}

/// Why a decoded path may not be used; `None` when it is a plain relative
/// path inside the bag.
pub fn path_problem(path: &str) -> Option<(FindingKind, String)> {
    if path.is_empty() {
        return Some((FindingKind::BadManifest, "empty path".to_owned()));
    }
    if path.starts_with('/') {
        return Some((FindingKind::PathEscape, format!("absolute path {:?}", path)));
    }
    if path.split('/').any(|component| component == "..") {
        return Some((FindingKind::PathEscape, format!("path {:?} leaves the bag through '..'", path)));
    }
    if path.split('/').any(|component| component.is_empty() || component == ".") {
        return Some((FindingKind::BadManifest, format!("path {:?} has an empty or '.' component", path)));
    }
    None
}

/// Parses a manifest's text (already decoded from the tag file encoding).
/// Returns usable entries and `(kind, detail)` problems; a problem line gives
/// no entry. Before BagIt 1.0 a `*` before the path (md5sum's binary marker)
/// is dropped.
pub fn parse_manifest(
    text: &str,
    algorithm: Algorithm,
    version: (u32, u32),
) -> (Vec<ManifestEntry>, Vec<(FindingKind, String)>) {
    let mut entries: Vec<ManifestEntry> = Vec::new();
    let mut problems = Vec::new();
    let mut first_line_of_path: HashMap<String, usize> = HashMap::new();
    for (index, line) in crate::tagfile::split_lines(text).into_iter().enumerate() {
        let line_no = index + 1;
        if line.is_empty() {
            continue;
        }
        let Some((digest, raw_path)) = split_field(line) else {
            problems.push((FindingKind::BadManifest, format!("line {line_no}: expected '<digest> <path>'")));
            continue;
        };
        if digest.len() != algorithm.hex_len() || !digest.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            problems
                .push((FindingKind::BadManifest, format!("line {line_no}: {digest:?} is not a {algorithm} digest")));
            continue;
        }
        let raw_path = if version < (1, 0) { raw_path.strip_prefix('*').unwrap_or(raw_path) } else { raw_path };
        let path = decode_manifest_path(raw_path);
        if let Some((kind, detail)) = path_problem(&path) {
            problems.push((kind, format!("line {line_no}: {detail}")));
            continue;
        }
        if let Some(first_line_no) = first_line_of_path.get(&path) {
            problems.push((
                FindingKind::BadManifest,
                format!("line {line_no}: {path:?} listed again (first on line {first_line_no})"),
            ));
            continue;
        }
        first_line_of_path.insert(path.clone(), line_no);
        entries.push(ManifestEntry { line_no, digest: digest.to_ascii_lowercase(), path });
    }
    (entries, problems)
}

/// Parses fetch.txt (RFC 8493 §2.2.3): `url length path`, fields separated by
/// one or more spaces or tabs, `length` decimal or `-`.
pub fn parse_fetch(text: &str) -> (Vec<FetchEntry>, Vec<(FindingKind, String)>) {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for (index, line) in crate::tagfile::split_lines(text).into_iter().enumerate() {
        let line_no = index + 1;
        if line.is_empty() {
            continue;
        }
        let Some((url, rest)) = split_field(line) else {
            problems.push((FindingKind::BadFetch, format!("line {line_no}: expected '<url> <length> <path>'")));
            continue;
        };
        let Some((length, raw_path)) = split_field(rest) else {
            problems.push((FindingKind::BadFetch, format!("line {line_no}: expected '<url> <length> <path>'")));
            continue;
        };
        let length = match length {
            "-" => None,
            digits if digits.bytes().all(|byte| byte.is_ascii_digit()) => match digits.parse() {
                Ok(length) => Some(length),
                Err(_) => {
                    problems.push((FindingKind::BadFetch, format!("line {line_no}: length {digits:?} too large")));
                    continue;
                }
            },
            other => {
                problems
                    .push((FindingKind::BadFetch, format!("line {line_no}: length {other:?} is not a number or '-'")));
                continue;
            }
        };
        if !url_looks_valid(url) {
            problems.push((FindingKind::BadFetch, format!("line {line_no}: malformed url {url:?}")));
            continue;
        }
        let path = decode_manifest_path(raw_path);
        if let Some((kind, detail)) = path_problem(&path) {
            let kind = if kind == FindingKind::BadManifest { FindingKind::BadFetch } else { kind };
            problems.push((kind, format!("line {line_no}: {detail}")));
            continue;
        }
        entries.push(FetchEntry { line_no, url: url.to_owned(), length, path });
    }
    (entries, problems)
}

/// Splits `first<whitespace>rest`: `first` is non-empty and has no space or
/// tab, `rest` is non-empty and taken verbatim (a path may contain or end in
/// spaces).
fn split_field(line: &str) -> Option<(&str, &str)> {
    let separator = line.find([' ', '\t'])?;
    let first = &line[..separator];
    let rest = line[separator..].trim_start_matches([' ', '\t']);
    if first.is_empty() || rest.is_empty() {
        return None;
    }
    Some((first, rest))
}

/// A URL with a scheme and an authority (`https://host/...`), or a `file:`
/// URL, like bagit-python accepts.
fn url_looks_valid(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme.chars().next().is_some_and(|first| first.is_ascii_alphabetic())
        && scheme.chars().all(|character| character.is_ascii_alphanumeric() || "+-.".contains(character));
    scheme_ok && (scheme.eq_ignore_ascii_case("file") || rest.strip_prefix("//").is_some_and(|rest| !rest.is_empty()))
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    #[test]
    fn percent_decoding_only_touches_the_three_rfc_escapes() {
        assert_eq!(decode_manifest_path("data/a%0Ab%0dc%25d"), "data/a\nb\rc%d");
        assert_eq!(decode_manifest_path("data/a%20b%2"), "data/a%20b%2");
        assert_eq!(decode_manifest_path("data/%2525"), "data/%25");
        assert_eq!(decode_manifest_path("data/ü%"), "data/ü%");
        for path in ["data/100%", "data/a\nb", "data/x\r\ny %25"] {
            assert_eq!(decode_manifest_path(&encode_manifest_path(path)), path);
        }
    }

    #[test]
    fn manifest_lines() {
        let sha1_of_nothing = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
        let text = format!(
            "{sha1_of_nothing}  data/a b.txt\r\n\
             {upper}\t\t data/b%0A.txt\n\
             {sha1_of_nothing}\n\
             abc data/short\n\
             {sha1_of_nothing} ../etc/passwd\n\
             {sha1_of_nothing} /etc/passwd\n\
             {sha1_of_nothing} data//x\n\
             {sha1_of_nothing} data/a b.txt\n\
             {sha1_of_nothing} *data/star\n\
             \n",
            upper = sha1_of_nothing.to_uppercase()
        );
        let parsed = parse_manifest(&text, Algorithm::Sha1, (1, 0));
        expect![[r#"
            (
                [
                    ManifestEntry {
                        line_no: 1,
                        digest: "da39a3ee5e6b4b0d3255bfef95601890afd80709",
                        path: "data/a b.txt",
                    },
                    ManifestEntry {
                        line_no: 2,
                        digest: "da39a3ee5e6b4b0d3255bfef95601890afd80709",
                        path: "data/b\n.txt",
                    },
                    ManifestEntry {
                        line_no: 9,
                        digest: "da39a3ee5e6b4b0d3255bfef95601890afd80709",
                        path: "*data/star",
                    },
                ],
                [
                    (
                        BadManifest,
                        "line 3: expected '<digest> <path>'",
                    ),
                    (
                        BadManifest,
                        "line 4: \"abc\" is not a sha1 digest",
                    ),
                    (
                        PathEscape,
                        "line 5: path \"../etc/passwd\" leaves the bag through '..'",
                    ),
                    (
                        PathEscape,
                        "line 6: absolute path \"/etc/passwd\"",
                    ),
                    (
                        BadManifest,
                        "line 7: path \"data//x\" has an empty or '.' component",
                    ),
                    (
                        BadManifest,
                        "line 8: \"data/a b.txt\" listed again (first on line 1)",
                    ),
                ],
            )
        "#]]
        .assert_debug_eq(&parsed);
        let (entries, _) = parse_manifest(&text, Algorithm::Sha1, (0, 97));
        assert_eq!(entries[2].path, "data/star");
    }

    #[test]
    fn fetch_lines() {
        let text = "https://example.org/a 12 data/a\n\
                    file:///tmp/b - data/b%25\n\
                    nourl 12 data/c\n\
                    https://example.org/d twelve data/d\n\
                    https://example.org/e 1 data/../e\n\
                    https://example.org/f 1\n";
        expect![[r#"
            (
                [
                    FetchEntry {
                        line_no: 1,
                        url: "https://example.org/a",
                        length: Some(
                            12,
                        ),
                        path: "data/a",
                    },
                    FetchEntry {
                        line_no: 2,
                        url: "file:///tmp/b",
                        length: None,
                        path: "data/b%",
                    },
                ],
                [
                    (
                        BadFetch,
                        "line 3: malformed url \"nourl\"",
                    ),
                    (
                        BadFetch,
                        "line 4: length \"twelve\" is not a number or '-'",
                    ),
                    (
                        PathEscape,
                        "line 5: path \"data/../e\" leaves the bag through '..'",
                    ),
                    (
                        BadFetch,
                        "line 6: expected '<url> <length> <path>'",
                    ),
                ],
            )
        "#]]
        .assert_debug_eq(&parse_fetch(text));
    }
}
