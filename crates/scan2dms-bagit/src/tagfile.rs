//! Tag files as text: line splitting, decoding, bagit.txt and bag-info.txt.
//!
//! Key decision: RFC 8493 allows LF, CR and CRLF line ends, mixed even, so all
//! tag files are split by [`split_lines`] and never with `str::lines` (which
//! misses a lone CR). Tag files are decoded with the encoding bagit.txt
//! declares (`Tag-File-Character-Encoding`, via encoding_rs); bytes that are
//! invalid in that encoding are a finding, not replaced silently.
//!
//! This module parses text and reports problems as strings; it does not touch
//! the file system, and it does not check the meaning of bag-info values other
//! than `Payload-Oxum`'s syntax (that is the delivery crate's job).

use encoding_rs::Encoding;

/// The bag declaration read from bagit.txt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BagDeclaration {
    /// `BagIt-Version`, when it parses as `M.N`.
    pub version: Option<(u32, u32)>,
    /// `Tag-File-Character-Encoding`; UTF-8 when absent or unknown.
    pub encoding: &'static Encoding,
}

/// Versions this validator knows the rules of.
pub const SUPPORTED_VERSIONS: [(u32, u32); 2] = [(0, 97), (1, 0)];

/// The UTF-8 byte-order mark.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Splits text into lines at LF, CRLF or CR; a final line end does not start
/// another (empty) line.
pub fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'\n' => {
                lines.push(&text[start..index]);
                index += 1;
                start = index;
            }
            b'\r' => {
                lines.push(&text[start..index]);
                index += if bytes.get(index + 1) == Some(&b'\n') { 2 } else { 1 };
                start = index;
            }
            _ => index += 1,
        }
    }
    if start < bytes.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// Decodes a tag file. A leading UTF-8 byte-order mark is dropped (only
/// bagit.txt forbids it); bytes invalid in `encoding` are an error.
pub fn decode_tag_file(bytes: &[u8], encoding: &'static Encoding) -> Result<String, String> {
    let bytes = if encoding == encoding_rs::UTF_8 { bytes.strip_prefix(BOM).unwrap_or(bytes) } else { bytes };
    encoding
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|text| text.into_owned())
        .ok_or_else(|| format!("not valid {}", encoding.name().to_lowercase()))
}

/// Parses bagit.txt (RFC 8493 §2.1.1): exactly `BagIt-Version: M.N` and
/// `Tag-File-Character-Encoding: ENCODING`, in that order, nothing else. A
/// BOM is an error for version 1.0 and tolerated for 0.97. Returns what could
/// be read and every problem found.
pub fn parse_bagit_txt(bytes: &[u8]) -> (BagDeclaration, Vec<String>) {
    let mut problems = Vec::new();
    let mut declaration = BagDeclaration { version: None, encoding: encoding_rs::UTF_8 };
    let has_bom = bytes.starts_with(BOM);
    let Ok(text) = std::str::from_utf8(bytes.strip_prefix(BOM).unwrap_or(bytes)) else {
        problems.push("not valid utf-8".to_owned());
        return (declaration, problems);
    };
    let lines = split_lines(text);
    if lines.len() != 2 {
        problems.push(format!("has {} lines, expected exactly 2", lines.len()));
    }
    match lines.first().and_then(|line| line.strip_prefix("BagIt-Version: ")) {
        None => problems.push("line 1 is not 'BagIt-Version: M.N'".to_owned()),
        Some(value) => match parse_version(value) {
            None => problems.push(format!("bagit-version {value:?} is not M.N")),
            Some(version) => {
                declaration.version = Some(version);
                if !SUPPORTED_VERSIONS.contains(&version) {
                    problems.push(format!("bagit-version {}.{} is not supported (0.97 or 1.0)", version.0, version.1));
                }
            }
        },
    }
    match lines.get(1).and_then(|line| line.strip_prefix("Tag-File-Character-Encoding: ")) {
        None => problems.push("line 2 is not 'Tag-File-Character-Encoding: ENCODING'".to_owned()),
        Some(label) => match Encoding::for_label(label.trim().as_bytes()) {
            Some(encoding) => declaration.encoding = encoding,
            None => problems.push(format!("tag-file-character-encoding {label:?} is unknown")),
        },
    }
    if has_bom && declaration.version.is_none_or(|version| version >= (1, 0)) {
        problems.push("starts with a byte-order mark, not allowed in bagit 1.0".to_owned());
    }
    (declaration, problems)
}

fn parse_version(value: &str) -> Option<(u32, u32)> {
    let (major, minor) = value.split_once('.')?;
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit());
    if !all_digits(major) || !all_digits(minor) {
        return None;
    }
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Parses bag-info.txt text (RFC 8493 §2.2.2) into `(label, value)` pairs in
/// file order, repeated labels kept, plus every problem found.
///
/// - A tag is `label: value`: the label has no colon and does not start or
///   end with whitespace, and one space or tab follows the colon. Bags older
///   than 1.0 may put any whitespace around the colon.
/// - A line starting with a space or tab continues the previous value. The
///   RFC says "except for linebreaks, such padding does not form part of the
///   value": the indentation is dropped and the line break is kept, as `\n`.
/// - Whitespace at either end of each value line is dropped; blank lines are
///   skipped (as bagit-python does).
pub fn parse_bag_info(text: &str, version: (u32, u32)) -> (Vec<(String, String)>, Vec<String>) {
    let strict = version >= (1, 0);
    let mut tags: Vec<(String, String)> = Vec::new();
    let mut problems = Vec::new();
    let mut can_continue = false;
    for (index, line) in split_lines(text).into_iter().enumerate() {
        let line_no = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match tags.last_mut() {
                Some((_, value)) if can_continue => {
                    value.push('\n');
                    value.push_str(line.trim_matches([' ', '\t']));
                }
                _ => problems.push(format!("line {line_no}: continuation line without a tag before it")),
            }
            continue;
        }
        let Some((raw_label, raw_value)) = line.split_once(':') else {
            problems.push(format!("line {line_no}: no ':' after the label"));
            can_continue = false;
            continue;
        };
        let label = raw_label.trim_matches([' ', '\t']);
        if label.is_empty() {
            problems.push(format!("line {line_no}: empty label"));
            can_continue = false;
            continue;
        }
        if strict && label.len() != raw_label.len() {
            problems.push(format!("line {line_no}: label {label:?} has whitespace before the ':'"));
        }
        if strict && !raw_value.is_empty() && !raw_value.starts_with([' ', '\t']) {
            problems.push(format!("line {line_no}: no space after the ':' of {label:?}"));
        }
        tags.push((label.to_owned(), raw_value.trim_matches([' ', '\t']).to_owned()));
        can_continue = true;
    }
    (tags, problems)
}

/// Parses a `Payload-Oxum` value, `<octets>.<file count>`, both decimal.
pub fn parse_oxum(value: &str) -> Option<(u64, u64)> {
    let (octets, count) = value.split_once('.')?;
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit());
    if !all_digits(octets) || !all_digits(count) {
        return None;
    }
    Some((octets.parse().ok()?, count.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    #[test]
    fn split_lines_handles_lf_crlf_cr_and_mixed() {
        assert_eq!(split_lines("a\nb\r\nc\rd"), ["a", "b", "c", "d"]);
        assert_eq!(split_lines("a\r\n"), ["a"]);
        assert_eq!(split_lines("a\n\nb\n"), ["a", "", "b"]);
        assert_eq!(split_lines("\r\r\n"), ["", ""]);
        assert!(split_lines("").is_empty());
    }

    fn check_bagit_txt(input: &[u8], expect: Expect) {
        let (declaration, problems) = parse_bagit_txt(input);
        let rendered = format!("{:?} {} {:?}", declaration.version, declaration.encoding.name(), problems);
        expect.assert_eq(&rendered);
    }

    #[test]
    fn bagit_txt() {
        check_bagit_txt(
            b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
            expect![[r#"Some((1, 0)) UTF-8 []"#]],
        );
        check_bagit_txt(
            b"BagIt-Version: 0.97\r\nTag-File-Character-Encoding: ISO-8859-1\r\n",
            expect![[r#"Some((0, 97)) windows-1252 []"#]],
        );
        check_bagit_txt(
            b"\xEF\xBB\xBFBagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8",
            expect![[r#"Some((0, 97)) UTF-8 []"#]],
        );
        check_bagit_txt(
            b"\xEF\xBB\xBFBagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
            expect![[r#"Some((1, 0)) UTF-8 ["starts with a byte-order mark, not allowed in bagit 1.0"]"#]],
        );
        check_bagit_txt(
            b"BagIt-Version: 1.0\n",
            expect![[
                r#"Some((1, 0)) UTF-8 ["has 1 lines, expected exactly 2", "line 2 is not 'Tag-File-Character-Encoding: ENCODING'"]"#
            ]],
        );
        check_bagit_txt(
            b"Tag-File-Character-Encoding: UTF-8\nBagIt-Version: 1.0\n",
            expect![[
                r#"None UTF-8 ["line 1 is not 'BagIt-Version: M.N'", "line 2 is not 'Tag-File-Character-Encoding: ENCODING'"]"#
            ]],
        );
        check_bagit_txt(
            b"BagIt-Version: 2.x\nTag-File-Character-Encoding: klingon\n",
            expect![[
                r#"None UTF-8 ["bagit-version \"2.x\" is not M.N", "tag-file-character-encoding \"klingon\" is unknown"]"#
            ]],
        );
        check_bagit_txt(
            b"BagIt-Version: 0.96\nTag-File-Character-Encoding: UTF-8\n\n",
            expect![[
                r#"Some((0, 96)) UTF-8 ["has 3 lines, expected exactly 2", "bagit-version 0.96 is not supported (0.97 or 1.0)"]"#
            ]],
        );
    }

    fn check_bag_info(input: &str, version: (u32, u32), expect: Expect) {
        let (tags, problems) = parse_bag_info(input, version);
        expect.assert_debug_eq(&(tags, problems));
    }

    #[test]
    fn bag_info_continuation_lines_repeated_labels_and_line_ends() {
        check_bag_info(
            "Source-Organization: Scan-Service\r\n  Nord GmbH\r\nContact-Name: A\rContact-Name: B\n\tand C\nPayload-Oxum: 5.1 \n\n",
            (1, 0),
            expect![[r#"
                (
                    [
                        (
                            "Source-Organization",
                            "Scan-Service\nNord GmbH",
                        ),
                        (
                            "Contact-Name",
                            "A",
                        ),
                        (
                            "Contact-Name",
                            "B\nand C",
                        ),
                        (
                            "Payload-Oxum",
                            "5.1",
                        ),
                    ],
                    [],
                )
            "#]],
        );
    }

    #[test]
    fn bag_info_garbled_lines() {
        check_bag_info(
            "  starts indented\nno colon here\n: no label\nLabel :spaced\nEmpty:\n",
            (1, 0),
            expect![[r#"
                (
                    [
                        (
                            "Label",
                            "spaced",
                        ),
                        (
                            "Empty",
                            "",
                        ),
                    ],
                    [
                        "line 1: continuation line without a tag before it",
                        "line 2: no ':' after the label",
                        "line 3: empty label",
                        "line 4: label \"Label\" has whitespace before the ':'",
                        "line 4: no space after the ':' of \"Label\"",
                    ],
                )
            "#]],
        );
        // Bags before 1.0 may pad the colon.
        check_bag_info(
            "Label :spaced\n",
            (0, 97),
            expect![[r#"
                (
                    [
                        (
                            "Label",
                            "spaced",
                        ),
                    ],
                    [],
                )
            "#]],
        );
    }

    #[test]
    fn oxum() {
        assert_eq!(parse_oxum("1357660.43"), Some((1357660, 43)));
        assert_eq!(parse_oxum("0.0"), Some((0, 0)));
        assert_eq!(parse_oxum("12"), None);
        assert_eq!(parse_oxum("12.x"), None);
        assert_eq!(parse_oxum(" 1.2"), None);
        assert_eq!(parse_oxum("1.2.3"), None);
    }

    #[test]
    fn decode_rejects_invalid_utf8_and_drops_bom() {
        assert_eq!(decode_tag_file(b"\xEF\xBB\xBFa", encoding_rs::UTF_8), Ok("a".to_owned()));
        assert_eq!(decode_tag_file(b"a\xFF", encoding_rs::UTF_8), Err("not valid utf-8".to_owned()));
        assert_eq!(decode_tag_file(b"\xE4", encoding_rs::WINDOWS_1252), Ok("ä".to_owned()));
    }
}
