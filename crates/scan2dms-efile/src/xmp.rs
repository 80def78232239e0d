//! The e-file's XMP packet: PDF/A identification, Dublin Core and XMP basic
//! properties that mirror the Info dictionary, and the scan2dms provenance
//! in a custom schema that the packet itself describes (PDF/A extension
//! schema, ISO 19005-2 6.6.2.3).
//!
//! Key decisions:
//! - The provenance schema lives in namespace [`PROVENANCE_NS`] (prefix
//!   `s2d`), its source-file structure in [`SOURCE_NS`] (prefix `s2dsrc`).
//!   They are URNs: scan2dms owns no web domain to put them under, and a URN
//!   promises nothing that resolves. Changing them is a format change.
//! - The processing log is the property `s2d:ProcessingLog`, a `Seq Text`
//!   (see the crate docs for why not a PDF/A-3 attachment).
//! - Dates are written once, normalised from RFC 3339 to whole seconds with
//!   the caller's offset, in XMP form here and PDF form in the Info
//!   dictionary, so the two always agree.
//! - The packet is written unfiltered, with no `bytes` or `encoding`
//!   attribute in its header, as PDF/A wants.
//!
//! What it does not do: read XMP (the checks use roxmltree) or keep any
//! property it is not given.

use crate::{Provenance, SourceFile};

/// Namespace of the scan2dms provenance properties.
pub const PROVENANCE_NS: &str = "urn:scan2dms:ns:efile:1.0/";
/// Prefix of [`PROVENANCE_NS`].
pub const PROVENANCE_PREFIX: &str = "s2d";
/// Namespace of the fields of one source file.
pub const SOURCE_NS: &str = "urn:scan2dms:ns:source:1.0/";
/// Prefix of [`SOURCE_NS`].
pub const SOURCE_PREFIX: &str = "s2dsrc";

/// A date-time with whole seconds and a UTC offset in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// Minutes east of UTC; `Z` is 0.
    pub offset_minutes: i16,
}

impl DateTime {
    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`; the
    /// fraction is dropped.
    pub fn parse_rfc3339(text: &str) -> Option<DateTime> {
        let bytes = text.as_bytes();
        if bytes.len() < 20
            || bytes[4] != b'-'
            || bytes[7] != b'-'
            || !matches!(bytes[10], b'T' | b't' | b' ')
            || bytes[13] != b':'
            || bytes[16] != b':'
        {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> Option<u16> {
            let part = text.get(range)?;
            if part.bytes().all(|b| b.is_ascii_digit()) { part.parse().ok() } else { None }
        };
        let mut rest = &text[19..];
        if let Some(fraction) = rest.strip_prefix('.') {
            let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            rest = &fraction[digits..];
        }
        let offset_minutes = match rest {
            "Z" | "z" => 0,
            _ => {
                let sign = match rest.as_bytes().first() {
                    Some(b'+') => 1,
                    Some(b'-') => -1,
                    _ => return None,
                };
                let offset = rest.get(1..)?;
                if offset.len() != 5 || offset.as_bytes()[2] != b':' {
                    return None;
                }
                let hours: i16 = offset[..2].parse().ok()?;
                let minutes: i16 = offset[3..].parse().ok()?;
                if hours > 23 || minutes > 59 {
                    return None;
                }
                sign * (hours * 60 + minutes)
            }
        };
        let date = DateTime {
            year: number(0..4)?,
            month: u8::try_from(number(5..7)?).ok()?,
            day: u8::try_from(number(8..10)?).ok()?,
            hour: u8::try_from(number(11..13)?).ok()?,
            minute: u8::try_from(number(14..16)?).ok()?,
            second: u8::try_from(number(17..19)?).ok()?,
            offset_minutes,
        };
        date.is_valid().then_some(date)
    }

    /// Parses a PDF date `D:YYYYMMDDHHmmSSOHH'mm'`; missing trailing fields
    /// take their defaults (PDF 32000-1 7.9.4), a missing offset counts as UTC.
    pub fn parse_pdf(text: &str) -> Option<DateTime> {
        let text = text.strip_prefix("D:").unwrap_or(text);
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        if digits < 4 || digits % 2 != 0 || digits > 14 {
            return None;
        }
        let field = |start: usize, default: u16| -> Option<u16> {
            if start + 2 <= digits.max(4) && start < digits {
                text.get(start..start + 2)?.parse().ok()
            } else {
                Some(default)
            }
        };
        let year: u16 = text[..4].parse().ok()?;
        let (month, day, hour, minute, second) =
            (field(4, 1)?, field(6, 1)?, field(8, 0)?, field(10, 0)?, field(12, 0)?);
        let rest = &text[digits..];
        let offset_minutes = match rest.as_bytes().first() {
            None | Some(b'Z') => 0,
            Some(&sign @ (b'+' | b'-')) => {
                let parts: Vec<&str> = rest[1..].split('\'').filter(|part| !part.is_empty()).collect();
                let hours: i16 = parts.first().map_or(Some(0), |part| part.parse().ok())?;
                let minutes: i16 = parts.get(1).map_or(Some(0), |part| part.parse().ok())?;
                (if sign == b'-' { -1 } else { 1 }) * (hours * 60 + minutes)
            }
            Some(_) => return None,
        };
        let date = DateTime {
            year,
            month: u8::try_from(month).ok()?,
            day: u8::try_from(day).ok()?,
            hour: u8::try_from(hour).ok()?,
            minute: u8::try_from(minute).ok()?,
            second: u8::try_from(second).ok()?,
            offset_minutes,
        };
        date.is_valid().then_some(date)
    }

    fn is_valid(&self) -> bool {
        (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second < 61
    }

    /// Seconds since 1970-01-01T00:00:00Z, for comparing instants.
    pub fn unix_seconds(&self) -> i64 {
        // Days from civil (Howard Hinnant's algorithm).
        let (year, month) = (i64::from(self.year), i64::from(self.month));
        let year = if month <= 2 { year - 1 } else { year };
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + i64::from(self.day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        let days = era * 146_097 + day_of_era - 719_468;
        days * 86_400 + i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second)
            - i64::from(self.offset_minutes) * 60
    }

    /// `2026-03-01T10:00:00+01:00` or `...Z`.
    pub fn to_xmp(&self) -> String {
        let offset = if self.offset_minutes == 0 {
            "Z".to_string()
        } else {
            let sign = if self.offset_minutes < 0 { '-' } else { '+' };
            let minutes = self.offset_minutes.unsigned_abs();
            format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
        };
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{offset}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `D:20260301100000+01'00'` or `...Z`.
    pub fn to_pdf(&self) -> String {
        let offset = if self.offset_minutes == 0 {
            "Z".to_string()
        } else {
            let sign = if self.offset_minutes < 0 { '-' } else { '+' };
            let minutes = self.offset_minutes.unsigned_abs();
            format!("{sign}{:02}'{:02}'", minutes / 60, minutes % 60)
        };
        format!(
            "D:{:04}{:02}{:02}{:02}{:02}{:02}{offset}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Everything the packet says besides the provenance itself.
#[derive(Debug, Clone)]
pub(crate) struct XmpFields<'a> {
    pub provenance: &'a Provenance,
    pub created: DateTime,
    /// `uuid:...`, also the trailer ID.
    pub document_id: String,
}

/// Builds the XMP packet.
pub(crate) fn build_packet(fields: &XmpFields<'_>) -> String {
    let provenance = fields.provenance;
    let date = fields.created.to_xmp();
    let mut x = String::new();
    x.push_str("<?xpacket begin=\"\u{FEFF}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n");
    x.push_str(
        "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n",
    );

    x.push_str("<rdf:Description rdf:about=\"\" xmlns:pdfaid=\"http://www.aiim.org/pdfa/ns/id/\">\n");
    x.push_str("<pdfaid:part>2</pdfaid:part>\n<pdfaid:conformance>B</pdfaid:conformance>\n</rdf:Description>\n");

    x.push_str("<rdf:Description rdf:about=\"\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n");
    x.push_str("<dc:format>application/pdf</dc:format>\n");
    if let Some(title) = &provenance.title {
        x.push_str(&format!(
            "<dc:title><rdf:Alt><rdf:li xml:lang=\"x-default\">{}</rdf:li></rdf:Alt></dc:title>\n",
            escape(title)
        ));
    }
    x.push_str("</rdf:Description>\n");

    x.push_str("<rdf:Description rdf:about=\"\" xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\">\n");
    x.push_str(&format!("<xmp:CreateDate>{date}</xmp:CreateDate>\n<xmp:ModifyDate>{date}</xmp:ModifyDate>\n<xmp:MetadataDate>{date}</xmp:MetadataDate>\n"));
    x.push_str(&format!("<xmp:CreatorTool>{}</xmp:CreatorTool>\n</rdf:Description>\n", escape(&provenance.producer)));

    x.push_str("<rdf:Description rdf:about=\"\" xmlns:pdf=\"http://ns.adobe.com/pdf/1.3/\">\n");
    x.push_str(&format!("<pdf:Producer>{}</pdf:Producer>\n</rdf:Description>\n", escape(&provenance.producer)));

    x.push_str("<rdf:Description rdf:about=\"\" xmlns:xmpMM=\"http://ns.adobe.com/xap/1.0/mm/\">\n");
    x.push_str(&format!(
        "<xmpMM:DocumentID>{id}</xmpMM:DocumentID>\n<xmpMM:InstanceID>{id}</xmpMM:InstanceID>\n</rdf:Description>\n",
        id = fields.document_id
    ));

    x.push_str(&extension_schema_description());
    x.push_str(&provenance_description(provenance));

    x.push_str("</rdf:RDF>\n</x:xmpmeta>\n");
    // Padding lets tools update the packet in place.
    for _ in 0..20 {
        x.push_str(&" ".repeat(99));
        x.push('\n');
    }
    x.push_str("<?xpacket end=\"w\"?>");
    x
}

fn provenance_description(provenance: &Provenance) -> String {
    let (p, s) = (PROVENANCE_PREFIX, SOURCE_PREFIX);
    let mut x = format!("<rdf:Description rdf:about=\"\" xmlns:{p}=\"{PROVENANCE_NS}\" xmlns:{s}=\"{SOURCE_NS}\">\n");
    x.push_str(&format!("<{p}:BatchId>{}</{p}:BatchId>\n", escape(&provenance.batch_id)));
    x.push_str(&format!("<{p}:RecordId>{}</{p}:RecordId>\n", escape(&provenance.record_id)));
    x.push_str(&format!("<{p}:DocumentNo>{}</{p}:DocumentNo>\n", provenance.document_no));
    x.push_str(&format!("<{p}:Software>{}</{p}:Software>\n", escape(&provenance.producer)));
    x.push_str(&format!("<{p}:Sources>\n<rdf:Seq>\n"));
    for SourceFile { path, sha256, pages } in &provenance.sources {
        x.push_str("<rdf:li rdf:parseType=\"Resource\">\n");
        x.push_str(&format!("<{s}:Path>{}</{s}:Path>\n<{s}:Sha256>{}</{s}:Sha256>\n", escape(path), escape(sha256)));
        x.push_str(&format!("<{s}:Pages><rdf:Seq>"));
        for page in pages {
            x.push_str(&format!("<rdf:li>{page}</rdf:li>"));
        }
        x.push_str(&format!("</rdf:Seq></{s}:Pages>\n</rdf:li>\n"));
    }
    x.push_str(&format!("</rdf:Seq>\n</{p}:Sources>\n"));
    x.push_str(&format!("<{p}:ProcessingLog>\n<rdf:Seq>\n"));
    for line in &provenance.processing_log {
        x.push_str(&format!("<rdf:li>{}</rdf:li>\n", escape(line)));
    }
    x.push_str(&format!("</rdf:Seq>\n</{p}:ProcessingLog>\n</rdf:Description>\n"));
    x
}

/// The provenance properties: (name, value type, description).
pub(crate) const PROVENANCE_PROPERTIES: [(&str, &str, &str); 6] = [
    ("BatchId", "Text", "Identifier of the contractor delivery (batch) the document came in"),
    ("RecordId", "Text", "Identifier of the file record (Akte) the document belongs to"),
    ("DocumentNo", "Integer", "Number of the document within its record, from 1"),
    ("Software", "Text", "Name and version of the software that wrote the e-file"),
    ("Sources", "Seq SourceFile", "Delivered files the pages come from, in page order"),
    ("ProcessingLog", "Seq Text", "Processing log of the document, one entry per line"),
];

/// The fields of the `SourceFile` value type: (name, value type, description).
pub(crate) const SOURCE_FIELDS: [(&str, &str, &str); 3] = [
    ("Path", "Text", "Path of the file inside the delivery"),
    ("Sha256", "Text", "SHA-256 of the delivered file, lowercase hex"),
    ("Pages", "Seq Integer", "Pages of the file that belong to the document, from 1"),
];

fn extension_schema_description() -> String {
    let mut x = String::from(
        "<rdf:Description rdf:about=\"\" xmlns:pdfaExtension=\"http://www.aiim.org/pdfa/ns/extension/\" \
         xmlns:pdfaSchema=\"http://www.aiim.org/pdfa/ns/schema#\" xmlns:pdfaProperty=\"http://www.aiim.org/pdfa/ns/property#\" \
         xmlns:pdfaType=\"http://www.aiim.org/pdfa/ns/type#\" xmlns:pdfaField=\"http://www.aiim.org/pdfa/ns/field#\">\n",
    );
    x.push_str("<pdfaExtension:schemas>\n<rdf:Bag>\n<rdf:li rdf:parseType=\"Resource\">\n");
    x.push_str("<pdfaSchema:schema>scan2dms e-file provenance</pdfaSchema:schema>\n");
    x.push_str(&format!("<pdfaSchema:namespaceURI>{PROVENANCE_NS}</pdfaSchema:namespaceURI>\n"));
    x.push_str(&format!("<pdfaSchema:prefix>{PROVENANCE_PREFIX}</pdfaSchema:prefix>\n"));
    x.push_str("<pdfaSchema:property>\n<rdf:Seq>\n");
    for (name, value_type, description) in PROVENANCE_PROPERTIES {
        x.push_str(&format!(
            "<rdf:li rdf:parseType=\"Resource\">\n<pdfaProperty:name>{name}</pdfaProperty:name>\n\
             <pdfaProperty:valueType>{value_type}</pdfaProperty:valueType>\n\
             <pdfaProperty:category>external</pdfaProperty:category>\n\
             <pdfaProperty:description>{description}</pdfaProperty:description>\n</rdf:li>\n"
        ));
    }
    x.push_str("</rdf:Seq>\n</pdfaSchema:property>\n");
    x.push_str("<pdfaSchema:valueType>\n<rdf:Seq>\n<rdf:li rdf:parseType=\"Resource\">\n");
    x.push_str("<pdfaType:type>SourceFile</pdfaType:type>\n");
    x.push_str(&format!("<pdfaType:namespaceURI>{SOURCE_NS}</pdfaType:namespaceURI>\n"));
    x.push_str(&format!("<pdfaType:prefix>{SOURCE_PREFIX}</pdfaType:prefix>\n"));
    x.push_str("<pdfaType:description>A delivered file and the pages taken from it</pdfaType:description>\n");
    x.push_str("<pdfaType:field>\n<rdf:Seq>\n");
    for (name, value_type, description) in SOURCE_FIELDS {
        x.push_str(&format!(
            "<rdf:li rdf:parseType=\"Resource\">\n<pdfaField:name>{name}</pdfaField:name>\n\
             <pdfaField:valueType>{value_type}</pdfaField:valueType>\n\
             <pdfaField:description>{description}</pdfaField:description>\n</rdf:li>\n"
        ));
    }
    x.push_str("</rdf:Seq>\n</pdfaType:field>\n</rdf:li>\n</rdf:Seq>\n</pdfaSchema:valueType>\n");
    x.push_str("</rdf:li>\n</rdf:Bag>\n</pdfaExtension:schemas>\n</rdf:Description>\n");
    x
}

/// XML text escaping; characters XML 1.0 cannot hold become U+FFFD.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\t' | '\n' | '\r' => escaped.push(character),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => escaped.push('\u{FFFD}'),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_convert_between_rfc3339_xmp_and_pdf() {
        let date = DateTime::parse_rfc3339("2026-03-01T10:00:00.123+01:00").expect("valid");
        assert_eq!(date.to_xmp(), "2026-03-01T10:00:00+01:00");
        assert_eq!(date.to_pdf(), "D:20260301100000+01'00'");
        assert_eq!(DateTime::parse_pdf(&date.to_pdf()), Some(date));
        let utc = DateTime::parse_rfc3339("2026-03-01T09:00:00Z").expect("valid");
        assert_eq!(utc.unix_seconds(), date.unix_seconds());
        assert_eq!(utc.to_pdf(), "D:20260301090000Z");
        assert_eq!(
            DateTime::parse_pdf("D:2026").map(|d| d.unix_seconds()),
            DateTime::parse_rfc3339("2026-01-01T00:00:00Z").map(|d| d.unix_seconds())
        );
        assert_eq!(DateTime::parse_rfc3339("2026-03-01 10:00"), None);
        assert_eq!(DateTime::parse_rfc3339("2026-13-01T10:00:00Z"), None);
    }
}
