//! Text of the delivery's CSV files: decoding in the declared encoding and
//! splitting into rows, with line numbers kept for the report.
//!
//! The `csv` crate does the RFC 4180 parsing (quotes, CRLF); this module only
//! fixes the dialect (`;`, header row, no ragged rows) and turns its errors
//! into sentences that name the line.

use encoding_rs::WINDOWS_1252;

/// The encodings the contract allows for records.csv and index.csv.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexEncoding {
    Utf8,
    Windows1252,
}

impl IndexEncoding {
    /// The `Index-Encoding` bag-info value, case-insensitive.
    pub fn from_label(label: &str) -> Option<IndexEncoding> {
        match label.trim().to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Some(IndexEncoding::Utf8),
            "windows-1252" | "cp1252" => Some(IndexEncoding::Windows1252),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            IndexEncoding::Utf8 => "UTF-8",
            IndexEncoding::Windows1252 => "windows-1252",
        }
    }
}

/// Decodes CSV bytes; the error says where the text stops being valid.
pub fn decode(bytes: &[u8], encoding: IndexEncoding) -> Result<String, String> {
    match encoding {
        IndexEncoding::Utf8 => {
            let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            std::str::from_utf8(bytes).map(str::to_owned).map_err(|error| {
                let offset = error.valid_up_to();
                let line = bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
                format!(
                    "not valid UTF-8 at line {line} (byte {offset}); declare Index-Encoding if the file is windows-1252"
                )
            })
        }
        IndexEncoding::Windows1252 => {
            let (text, _, _) = WINDOWS_1252.decode(bytes);
            // WHATWG maps the five bytes windows-1252 leaves undefined to C1
            // controls; no real text holds those, so they mark a wrong encoding.
            if let Some((index, _)) = text.char_indices().find(|(_, c)| ('\u{80}'..='\u{9f}').contains(c)) {
                let line = text[..index].matches('\n').count() + 1;
                return Err(format!("line {line} holds a byte that windows-1252 does not define"));
            }
            Ok(text.into_owned())
        }
    }
}

/// One data row and the line it starts on (the header is line 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRow {
    pub line: u64,
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvTable {
    pub header: Vec<String>,
    pub rows: Vec<CsvRow>,
}

/// Longest field accepted; an endless line ends as an error, not a huge string.
const MAX_FIELD_BYTES: usize = 64 * 1024;

/// Splits `;`-separated text with a header row. Every row must have as many
/// fields as the header; empty lines are skipped.
pub fn read_csv_table(text: &str) -> Result<CsvTable, String> {
    let mut reader =
        csv::ReaderBuilder::new().delimiter(b';').has_headers(false).flexible(true).from_reader(text.as_bytes());
    // Line numbers come from byte offsets: the reader's position before a
    // record, moved past the line breaks it skips. Positions only grow, so
    // line breaks are counted on from where the last count stopped; counting
    // from the start for every row made a long file quadratic.
    let mut counted_to = (0usize, 1u64);
    let mut line_at = |byte: u64| {
        let start = usize::try_from(byte).unwrap_or(usize::MAX).min(text.len());
        let skipped = text.as_bytes()[start..].iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
        let end = start + skipped;
        let (from, line) = if end >= counted_to.0 { counted_to } else { (0, 1) };
        let line = line + text.as_bytes()[from..end].iter().filter(|&&b| b == b'\n').count() as u64;
        counted_to = (end, line);
        line
    };
    let mut record = csv::StringRecord::new();
    let mut header = None;
    let mut rows = Vec::new();
    loop {
        let line = line_at(reader.position().byte());
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => return Err(format!("line {line}: {error}")),
        }
        let fields: Vec<String> = record.iter().map(|field| field.trim().to_owned()).collect();
        let Some(header) = &header else {
            header = Some(fields);
            continue;
        };
        if fields.iter().all(String::is_empty) {
            continue;
        }
        if fields.len() != header.len() {
            return Err(format!("line {line}: {} fields, the header has {}", fields.len(), header.len()));
        }
        if let Some(field) = fields.iter().find(|field| field.len() > MAX_FIELD_BYTES) {
            return Err(format!("line {line}: a field of {} bytes is longer than {MAX_FIELD_BYTES}", field.len()));
        }
        rows.push(CsvRow { line, fields });
    }
    let Some(header) = header else { return Err("the file is empty: no header row".to_owned()) };
    Ok(CsvTable { header, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1252_decodes_umlauts_and_refuses_undefined_bytes() {
        assert_eq!(decode(b"M\xfcller", IndexEncoding::Windows1252).unwrap(), "Müller");
        assert!(decode(b"a\nb\x81", IndexEncoding::Windows1252).unwrap_err().starts_with("line 2"));
        assert!(decode(b"x;y\nM\xfcller", IndexEncoding::Utf8).unwrap_err().starts_with("not valid UTF-8 at line 2"));
    }

    #[test]
    fn rows_keep_their_line_numbers_and_quotes_work() {
        let table = read_csv_table("a;b\r\n1;\"x;y\"\r\n\r\n2;z\r\n").unwrap();
        assert_eq!(table.header, ["a", "b"]);
        assert_eq!(
            table.rows,
            [
                CsvRow { line: 2, fields: vec!["1".into(), "x;y".into()] },
                CsvRow { line: 4, fields: vec!["2".into(), "z".into()] },
            ]
        );
        assert_eq!(read_csv_table("a;b\n1;2;3\n").unwrap_err(), "line 2: 3 fields, the header has 2");
    }

    /// Line numbers used to be counted from the start of the text for every
    /// row, quadratic in the size of index.csv. They are counted
    /// incrementally now; this checks they are still right across blank
    /// lines, CR, CRLF and quoted fields with line breaks.
    #[test]
    fn line_numbers_of_a_long_file_are_counted_incrementally() {
        let mut text = String::from("a;b\n");
        let mut expected = Vec::new();
        let mut line = 2;
        for row in 0..3000u64 {
            expected.push(line);
            match row % 4 {
                0 => text.push_str(&format!("{row};x\n")),
                1 => text.push_str(&format!("{row};\"two\nlines\"\r\n")),
                2 => text.push_str(&format!("{row};x\n\n\r\n")),
                // A lone CR ends a record for the csv crate, but not a line.
                _ => text.push_str(&format!("{row};x\r")),
            }
            line += [1, 2, 3, 0][row as usize % 4];
        }
        let table = read_csv_table(&text).unwrap();
        let lines: Vec<u64> = table.rows.iter().map(|row| row.line).collect();
        assert_eq!(lines.len(), expected.len());
        assert_eq!(lines, expected);
    }
}
