//! PDF/A-2 rule checks for e-files: [`check_pdfa`] runs every check and
//! returns all violations found; each check is also a public function.
//!
//! Key decision: no real validator (veraPDF) can be installed on our
//! machines, so conformance is checked here, rule by rule, for every rule an
//! e-file could break: file structure (header, trailer ID, xref, object and
//! stream syntax), forbidden features (encryption, JavaScript and other
//! actions, LZW, embedded files, image alternates and interpolation), the
//! XMP packet (parses, `pdfaid` part and conformance, every property in a
//! predefined or described schema), Info/XMP agreement, the OutputIntent and
//! its ICC profile, device colour spaces against it, fonts (embedded,
//! ToUnicode, CIDToGIDMap, width consistency) and implementation limits.
//! Rules are named by their clause in ISO 19005-2.
//!
//! What it does not do: it is not a complete PDF/A validator. Not checked:
//! transparency groups, optional content, blend modes, halftones, form
//! fields, annotation appearance streams, ICC profiles inside `ICCBased`
//! colour spaces, fonts other than their embedding, ToUnicode and (for
//! CIDFontType2) widths, and anything inside inline images. A file that
//! lopdf cannot parse gets one violation and no further checks.

use std::collections::{BTreeMap, BTreeSet};

use lopdf::content::Content;
use lopdf::{Dictionary, Document, Object, ObjectId};

use crate::xmp::DateTime;

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdfaViolation {
    /// Clause of ISO 19005-2, for example `6.1.3`.
    pub rule: &'static str,
    /// What is wrong, lowercase, naming the object at fault.
    pub message: String,
}

impl std::fmt::Display for PdfaViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.rule, self.message)
    }
}

/// Runs every check on a whole file.
pub fn check_pdfa(bytes: &[u8]) -> Vec<PdfaViolation> {
    let mut violations = check_file_structure(bytes);
    let document = match Document::load_mem(bytes) {
        Ok(document) => document,
        Err(error) => {
            violations.push(violation("6.1", format!("file cannot be parsed: {error}")));
            return violations;
        }
    };
    violations.extend(check_trailer(&document));
    violations.extend(check_object_syntax(&document, bytes));
    violations.extend(check_streams(&document, bytes));
    violations.extend(check_forbidden_features(&document));
    violations.extend(check_metadata(&document));
    violations.extend(check_info_agreement(&document));
    violations.extend(check_output_intent(&document));
    violations.extend(check_device_colours(&document));
    violations.extend(check_images(&document));
    violations.extend(check_fonts(&document));
    violations.extend(check_limits(&document));
    violations
}

/// 6.1.2 header and binary comment; 6.1.3 nothing but one EOL after `%%EOF`.
pub fn check_file_structure(bytes: &[u8]) -> Vec<PdfaViolation> {
    let mut violations = Vec::new();
    let version_ok = bytes.len() > 9
        && bytes.starts_with(b"%PDF-1.")
        && (b'0'..=b'7').contains(&bytes[7])
        && matches!(bytes[8], b'\n' | b'\r');
    if !version_ok {
        violations.push(violation("6.1.2", "file does not start with %PDF-1.n (n 0 to 7) and an eol".into()));
    } else {
        let second = if bytes[8] == b'\r' && bytes.get(9) == Some(&b'\n') { 10 } else { 9 };
        let line: Vec<u8> = bytes[second..].iter().take_while(|b| !matches!(b, b'\n' | b'\r')).copied().collect();
        if line.first() != Some(&b'%') || line.iter().skip(1).take(4).filter(|b| **b > 127).count() < 4 {
            violations
                .push(violation("6.1.2", "second line is not a comment with at least four bytes above 127".into()));
        }
    }
    match find_last(bytes, b"%%EOF") {
        None => violations.push(violation("6.1.3", "file has no %%EOF marker".into())),
        Some(position) => {
            let tail = &bytes[position + 5..];
            if !matches!(tail, b"" | b"\n" | b"\r" | b"\r\n") {
                violations.push(violation("6.1.3", format!("{} bytes follow the last %%EOF marker", tail.len())));
            }
        }
    }
    violations
}

/// 6.1.3: trailer `/ID` with two strings, no `/Encrypt`.
pub fn check_trailer(document: &Document) -> Vec<PdfaViolation> {
    let mut violations = Vec::new();
    match document.trailer.get(b"ID").ok().and_then(|id| resolve(document, id).as_array().ok()) {
        Some(ids) if ids.len() == 2 && ids.iter().all(|id| id.as_str().is_ok()) => {}
        _ => violations.push(violation("6.1.3", "trailer has no /ID array of two strings".into())),
    }
    if document.trailer.has(b"Encrypt") {
        violations.push(violation("6.1.3", "trailer has /Encrypt: the file is encrypted".into()));
    }
    violations
}

/// 6.1.4 xref keyword and subsection header; 6.1.8 `N G obj` spacing and EOLs.
pub fn check_object_syntax(document: &Document, bytes: &[u8]) -> Vec<PdfaViolation> {
    let mut violations = Vec::new();
    for (number, entry) in &document.reference_table.entries {
        let lopdf::xref::XrefEntry::Normal { offset, generation } = *entry else {
            continue;
        };
        let offset = offset as usize;
        let expected = format!("{number} {generation} obj");
        let at = bytes.get(offset..).unwrap_or_default();
        let header_ok = at.starts_with(expected.as_bytes()) && matches!(at.get(expected.len()), Some(b'\n' | b'\r'));
        let preceded_by_eol = offset > 0 && matches!(bytes[offset - 1], b'\n' | b'\r');
        if !header_ok || !preceded_by_eol {
            violations.push(violation(
                "6.1.8",
                format!("object {number} {generation} does not start on its own line as \"{expected}\" and an eol"),
            ));
        }
    }
    if let Some(position) = find_last(bytes, b"startxref") {
        let digits: String = bytes[position + 9..]
            .iter()
            .skip_while(|b| b.is_ascii_whitespace())
            .take_while(|b| b.is_ascii_digit())
            .map(|b| *b as char)
            .collect();
        if let Some(xref) = digits.parse::<usize>().ok().and_then(|offset| bytes.get(offset..))
            && xref.starts_with(b"xref")
        {
            let after = &xref[4..];
            let eol = if after.starts_with(b"\r\n") {
                2
            } else if matches!(after.first(), Some(b'\n' | b'\r')) {
                1
            } else {
                0
            };
            let header: Vec<u8> = after[eol..].iter().take_while(|b| !matches!(b, b'\n' | b'\r')).copied().collect();
            let parts: Vec<&[u8]> = header.split(|b| *b == b' ').collect();
            let header_ok =
                parts.len() == 2 && parts.iter().all(|part| !part.is_empty() && part.iter().all(u8::is_ascii_digit));
            if eol == 0 || !header_ok {
                violations.push(violation(
                    "6.1.4",
                    "xref keyword is not followed by one eol and a subsection header \"first count\"".into(),
                ));
            }
        }
    }
    violations
}

/// 6.1.7.1: stream keyword EOLs, `/Length` exact, no external-file keys.
pub fn check_streams(document: &Document, bytes: &[u8]) -> Vec<PdfaViolation> {
    let mut violations = Vec::new();
    for (id, object) in &document.objects {
        let Object::Stream(stream) = object else { continue };
        for key in [b"F".as_slice(), b"FFilter", b"FDecodeParms"] {
            if stream.dict.has(key) {
                violations.push(violation(
                    "6.1.7.1",
                    format!("stream {} has /{}", object_name(*id), String::from_utf8_lossy(key)),
                ));
            }
        }
        // lopdf records no position for streams with a direct /Length, so
        // the keyword is found in the raw bytes after the object's offset.
        let offset = match document.reference_table.get(id.0) {
            Some(lopdf::xref::XrefEntry::Normal { offset, .. }) => *offset as usize,
            _ => continue,
        };
        let Some(keyword_end) = stream_keyword_end(bytes, offset) else {
            violations.push(violation(
                "6.1.7.1",
                format!("stream {}: no stream keyword after its dictionary", object_name(*id)),
            ));
            continue;
        };
        let start = match bytes.get(keyword_end..keyword_end + 2) {
            Some([b'\r', b'\n']) => keyword_end + 2,
            Some([b'\n', _]) => keyword_end + 1,
            _ => {
                violations.push(violation(
                    "6.1.7.1",
                    format!("stream {}: keyword stream is not followed by lf or crlf", object_name(*id)),
                ));
                continue;
            }
        };
        // lopdf replaces a wrong direct /Length by the recovered one, so the
        // value is read from the raw dictionary; an indirect one through lopdf.
        let length = match raw_direct_length(&bytes[offset..keyword_end]) {
            Some(length) => Some(length),
            None => stream
                .dict
                .get(b"Length")
                .ok()
                .map(|length| resolve(document, length))
                .and_then(|length| length.as_i64().ok()),
        };
        let Some(length) = length.and_then(|length| usize::try_from(length).ok()) else {
            violations.push(violation("6.1.7.1", format!("stream {} has no valid /Length", object_name(*id))));
            continue;
        };
        let after = bytes.get(start + length..).unwrap_or_default();
        let eol = if after.starts_with(b"\r\n") {
            2
        } else if matches!(after.first(), Some(b'\n' | b'\r')) {
            1
        } else {
            0
        };
        if eol == 0 || !after[eol..].starts_with(b"endstream") {
            violations.push(violation(
                "6.1.7.1",
                format!("stream {}: /Length {length} does not end at an eol before endstream", object_name(*id)),
            ));
        }
    }
    violations
}

/// Encryption, JavaScript and other forbidden actions (6.6.1, 6.6.2),
/// LZW and Crypt filters (6.1.7.2), embedded files (6.8), PostScript
/// XObjects (6.2.9).
pub fn check_forbidden_features(document: &Document) -> Vec<PdfaViolation> {
    const FORBIDDEN_ACTIONS: [&[u8]; 11] = [
        b"Launch",
        b"Sound",
        b"Movie",
        b"ResetForm",
        b"ImportData",
        b"JavaScript",
        b"Hide",
        b"SetOCGState",
        b"Rendition",
        b"Trans",
        b"GoTo3DView",
    ];
    let mut violations = Vec::new();
    let mut seen = BTreeSet::new();
    for (id, object) in &document.objects {
        walk(object, &mut |key, value| {
            let mut report = |rule: &'static str, message: String| {
                if seen.insert((rule, message.clone())) {
                    violations.push(violation(rule, format!("object {}: {message}", object_name(*id))));
                }
            };
            match (key, value) {
                (Some(b"JS" | b"JavaScript"), _) => report("6.6.1", "contains javascript".into()),
                (Some(b"S"), Object::Name(name)) if FORBIDDEN_ACTIONS.contains(&name.as_slice()) => {
                    report("6.6.1", format!("contains a forbidden /{} action", String::from_utf8_lossy(name)))
                }
                (Some(b"AA"), _) => report("6.6.2", "has additional actions (/AA)".into()),
                (Some(b"Filter"), filter) => {
                    let names: Vec<&[u8]> = match filter {
                        Object::Name(name) => vec![name.as_slice()],
                        Object::Array(items) => items.iter().filter_map(|item| item.as_name().ok()).collect(),
                        _ => Vec::new(),
                    };
                    for name in names {
                        if matches!(name, b"LZWDecode" | b"LZW") {
                            report("6.1.7.2", "uses the lzw filter".into());
                        }
                        if name == b"Crypt" {
                            report("6.1.7.2", "uses the crypt filter".into());
                        }
                    }
                }
                (Some(b"EmbeddedFiles" | b"EF"), _) => {
                    report("6.8", "embeds a file, which pdf/a-2 allows only for pdf/a files".into())
                }
                (Some(b"Subtype2"), Object::Name(name)) if name == b"PS" => {
                    report("6.2.9", "is a postscript xobject".into())
                }
                (Some(b"Subtype"), Object::Name(name)) if name == b"PS" => {
                    report("6.2.9", "is a postscript xobject".into())
                }
                _ => {}
            }
        });
    }
    if document.trailer.has(b"Encrypt") {
        violations.push(violation("6.1.3", "file is encrypted".into()));
    }
    for (page_no, page_id) in document.get_pages() {
        let content = document.get_page_content(page_id);
        if content.windows(4).any(|window| window == b"/LZW") {
            violations.push(violation("6.1.7.2", format!("page {page_no}: an inline image uses the lzw filter")));
        }
    }
    violations
}

/// 6.6.2.1 the catalog's XMP packet, 6.6.4 `pdfaid`, 6.6.2.3 extension schemas.
pub fn check_metadata(document: &Document) -> Vec<PdfaViolation> {
    let mut violations = Vec::new();
    let packet = match xmp_packet(document) {
        Ok(packet) => packet,
        Err(found) => return vec![found],
    };
    if let Some(header_end) =
        packet.find("?>").filter(|_| packet.trim_start_matches('\u{FEFF}').starts_with("<?xpacket"))
    {
        let header = &packet[..header_end];
        if header.contains("bytes=") || header.contains("encoding=") {
            violations.push(violation("6.6.2.1", "xmp packet header has a bytes or encoding attribute".into()));
        }
    } else {
        violations.push(violation("6.6.2.1", "metadata stream is not an xmp packet (no <?xpacket header)".into()));
    }
    let xml = match roxmltree::Document::parse(&packet) {
        Ok(xml) => xml,
        Err(error) => {
            violations.push(violation("6.6.2.1", format!("xmp packet is not well-formed xml: {error}")));
            return violations;
        }
    };
    match xmp_value(&xml, PDFAID_NS, "part").as_deref() {
        Some("2" | "3") => {}
        Some(other) => violations.push(violation("6.6.4", format!("pdfaid:part is {other}, not 2"))),
        None => violations.push(violation("6.6.4", "xmp has no pdfaid:part".into())),
    }
    match xmp_value(&xml, PDFAID_NS, "conformance").as_deref() {
        Some("A" | "B" | "U") => {}
        Some(other) => violations.push(violation("6.6.4", format!("pdfaid:conformance is {other}, not A, B or U"))),
        None => violations.push(violation("6.6.4", "xmp has no pdfaid:conformance".into())),
    }
    violations.extend(check_extension_schemas(&xml));
    violations
}

/// 6.6.3: each Info entry has an XMP equivalent with the same value.
pub fn check_info_agreement(document: &Document) -> Vec<PdfaViolation> {
    let Some(info) =
        document.trailer.get(b"Info").ok().map(|info| resolve(document, info)).and_then(|info| info.as_dict().ok())
    else {
        return Vec::new();
    };
    let packet = xmp_packet(document).ok();
    let xml = packet.as_deref().and_then(|packet| roxmltree::Document::parse(packet).ok());
    let mut violations = Vec::new();
    let pairs: [(&[u8], &str, &str, &str); 8] = [
        (b"Title", DC_NS, "title", "dc:title"),
        (b"Author", DC_NS, "creator", "dc:creator"),
        (b"Subject", DC_NS, "description", "dc:description"),
        (b"Keywords", PDF_NS, "Keywords", "pdf:Keywords"),
        (b"Creator", XMP_NS, "CreatorTool", "xmp:CreatorTool"),
        (b"Producer", PDF_NS, "Producer", "pdf:Producer"),
        (b"CreationDate", XMP_NS, "CreateDate", "xmp:CreateDate"),
        (b"ModDate", XMP_NS, "ModifyDate", "xmp:ModifyDate"),
    ];
    for (key, namespace, local, xmp_name) in pairs {
        let Some(info_value) = info
            .get(key)
            .ok()
            .map(|value| resolve(document, value))
            .and_then(|value| value.as_str().ok())
            .map(decode_text_string)
        else {
            continue;
        };
        let key_name = String::from_utf8_lossy(key);
        let Some(xmp) = xml.as_ref().and_then(|xml| xmp_value(xml, namespace, local)) else {
            violations.push(violation("6.6.3", format!("info /{key_name} has no {xmp_name} in the xmp")));
            continue;
        };
        let agree = if key.ends_with(b"Date") {
            match (DateTime::parse_pdf(&info_value), parse_xmp_date(&xmp)) {
                (Some(info_date), Some(xmp_date)) => info_date.unix_seconds() == xmp_date.unix_seconds(),
                _ => false,
            }
        } else {
            info_value == xmp
        };
        if !agree {
            violations
                .push(violation("6.6.3", format!("info /{key_name} {info_value:?} does not match {xmp_name} {xmp:?}")));
        }
    }
    violations
}

/// 6.2.3: a GTS_PDFA1 OutputIntent whose ICC profile is an output or
/// monitor profile of ICC version 4 or lower with `/N` matching its colours.
pub fn check_output_intent(document: &Document) -> Vec<PdfaViolation> {
    let intents = output_intents(document);
    let mut violations = Vec::new();
    let mut profiles = BTreeSet::new();
    for intent in &intents {
        let Ok(reference) = intent.get(b"DestOutputProfile") else {
            violations.push(violation("6.2.3", "gts_pdfa1 output intent has no /DestOutputProfile".into()));
            continue;
        };
        if let Object::Reference(id) = reference {
            profiles.insert(*id);
        }
        let Ok(stream) = resolve(document, reference).as_stream() else {
            violations.push(violation("6.2.3", "/DestOutputProfile is not a stream".into()));
            continue;
        };
        let Ok(profile) = stream
            .decompressed_content()
            .or_else(|_| if stream.dict.has(b"Filter") { Err(()) } else { Ok(stream.content.clone()) })
        else {
            violations.push(violation("6.2.3", "icc profile stream cannot be decoded".into()));
            continue;
        };
        match icc_header(&profile) {
            Err(reason) => violations.push(violation("6.2.3", format!("output intent icc profile: {reason}"))),
            Ok(header) => {
                if header.major_version > 4 {
                    violations.push(violation(
                        "6.2.3",
                        format!("icc profile version {} is newer than 4", header.major_version),
                    ));
                }
                if !matches!(&header.class, b"mntr" | b"prtr") {
                    violations.push(violation(
                        "6.2.3",
                        format!(
                            "icc profile class {:?} is neither mntr nor prtr",
                            String::from_utf8_lossy(&header.class)
                        ),
                    ));
                }
                let n = stream.dict.get(b"N").ok().and_then(|n| resolve(document, n).as_i64().ok());
                if n != Some(i64::from(header.components)) {
                    violations.push(violation(
                        "6.2.3",
                        format!("icc stream /N {n:?} does not match the profile's {} components", header.components),
                    ));
                }
            }
        }
    }
    if profiles.len() > 1 {
        violations.push(violation("6.2.3", "output intents refer to different icc profiles".into()));
    }
    if intents.is_empty() {
        violations.push(violation("6.2.3", "catalog has no gts_pdfa1 output intent".into()));
    }
    violations
}

/// 6.2.4.3: DeviceRGB only with an RGB output intent, DeviceCMYK only with
/// a CMYK one, DeviceGray only with some output intent (or the matching
/// default colour space in the page's resources).
pub fn check_device_colours(document: &Document) -> Vec<PdfaViolation> {
    let intent_components = output_intents(document)
        .iter()
        .filter_map(|intent| intent.get(b"DestOutputProfile").ok())
        .filter_map(|profile| resolve(document, profile).as_stream().ok())
        .filter_map(|stream| {
            stream.decompressed_content().ok().or_else(|| (!stream.dict.has(b"Filter")).then(|| stream.content.clone()))
        })
        .filter_map(|profile| icc_header(&profile).ok())
        .map(|header| header.components)
        .next();
    let mut violations = Vec::new();
    for (page_no, page_id) in document.get_pages() {
        let mut used: BTreeSet<&'static str> = BTreeSet::new();
        let resources = page_resources(document, page_id);
        let defaults: BTreeSet<Vec<u8>> = resources
            .iter()
            .filter_map(|resources| resources.get(b"ColorSpace").ok())
            .filter_map(|spaces| resolve(document, spaces).as_dict().ok())
            .flat_map(|spaces| spaces.iter().map(|(key, _)| key.clone()))
            .collect();
        for resources in &resources {
            if let Some(xobjects) = resources.get(b"XObject").ok().and_then(|x| resolve(document, x).as_dict().ok()) {
                for (_, xobject) in xobjects.iter() {
                    if let Ok(stream) = resolve(document, xobject).as_stream()
                        && let Ok(space) = stream.dict.get(b"ColorSpace")
                    {
                        note_colour_space(resolve(document, space), &mut used);
                    }
                }
            }
        }
        if let Ok(content) = Content::decode(&document.get_page_content(page_id)) {
            for operation in &content.operations {
                match operation.operator.as_str() {
                    "rg" | "RG" => {
                        used.insert("DeviceRGB");
                    }
                    "k" | "K" => {
                        used.insert("DeviceCMYK");
                    }
                    "g" | "G" => {
                        used.insert("DeviceGray");
                    }
                    "cs" | "CS" => {
                        if let Some(space) = operation.operands.first() {
                            note_colour_space(space, &mut used);
                        }
                    }
                    _ => {}
                }
            }
        }
        for space in used {
            let (default_key, allowed) = match space {
                "DeviceRGB" => ("DefaultRGB", intent_components == Some(3)),
                "DeviceCMYK" => ("DefaultCMYK", intent_components == Some(4)),
                _ => ("DefaultGray", intent_components.is_some()),
            };
            if !allowed && !defaults.contains(default_key.as_bytes()) {
                violations.push(violation(
                    "6.2.4.3",
                    format!("page {page_no} uses {space} without a matching output intent or {default_key}"),
                ));
            }
        }
    }
    violations
}

/// 6.2.8: image XObjects without `/Alternates`, `/OPI`, `/Interpolate true`,
/// with a valid `/BitsPerComponent`.
pub fn check_images(document: &Document) -> Vec<PdfaViolation> {
    let mut violations = Vec::new();
    for (id, object) in &document.objects {
        let Object::Stream(stream) = object else { continue };
        if stream.dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Image".as_slice()) {
            continue;
        }
        let name = object_name(*id);
        if stream.dict.has(b"Alternates") {
            violations.push(violation("6.2.8", format!("image {name} has /Alternates")));
        }
        if stream.dict.has(b"OPI") {
            violations.push(violation("6.2.8", format!("image {name} has /OPI")));
        }
        if matches!(stream.dict.get(b"Interpolate"), Ok(Object::Boolean(true))) {
            violations.push(violation("6.2.8", format!("image {name} has /Interpolate true")));
        }
        let mask = matches!(stream.dict.get(b"ImageMask"), Ok(Object::Boolean(true)));
        let bits = stream.dict.get(b"BitsPerComponent").ok().and_then(|bits| resolve(document, bits).as_i64().ok());
        let jpx =
            stream.dict.get(b"Filter").ok().and_then(|filter| filter.as_name().ok()) == Some(b"JPXDecode".as_slice());
        if !mask && !jpx && !matches!(bits, Some(1 | 2 | 4 | 8 | 16)) {
            violations
                .push(violation("6.2.8", format!("image {name} has /BitsPerComponent {bits:?}, not 1, 2, 4, 8 or 16")));
        }
    }
    violations
}

/// 6.2.11: every font used on a page is embedded, composite fonts have a
/// CIDToGIDMap (CIDFontType2) and widths that agree with the program, and
/// (scan2dms rule, PDF/A level U) every font has a ToUnicode CMap so its
/// text can be searched and copied.
pub fn check_fonts(document: &Document) -> Vec<PdfaViolation> {
    let mut violations = Vec::new();
    let mut checked = BTreeSet::new();
    for (page_no, page_id) in document.get_pages() {
        let Ok(fonts) = document.get_page_fonts(page_id) else { continue };
        for (resource_name, font) in fonts {
            let font_name = format!("page {page_no} font /{}", String::from_utf8_lossy(&resource_name));
            let key = format!("{font:?}");
            if !checked.insert(key) {
                continue;
            }
            let subtype = font.get(b"Subtype").and_then(Object::as_name).unwrap_or_default();
            if subtype == b"Type3" {
                continue;
            }
            if !font.has(b"ToUnicode") {
                violations.push(violation(
                    "6.2.11.7.2",
                    format!("{font_name} has no /ToUnicode cmap, its text cannot be extracted"),
                ));
            }
            let descriptor_owner = if subtype == b"Type0" {
                let descendant = font
                    .get(b"DescendantFonts")
                    .ok()
                    .and_then(|fonts| resolve(document, fonts).as_array().ok())
                    .and_then(|fonts| fonts.first())
                    .and_then(|font| resolve(document, font).as_dict().ok());
                let Some(descendant) = descendant else {
                    violations.push(violation(
                        "6.2.11.3.1",
                        format!("{font_name} is a type0 font without a descendant font"),
                    ));
                    continue;
                };
                if !descendant.has(b"CIDSystemInfo") {
                    violations.push(violation("6.2.11.3.1", format!("{font_name} has no /CIDSystemInfo")));
                }
                if descendant.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"CIDFontType2".as_slice()) {
                    if !descendant.has(b"CIDToGIDMap") {
                        violations.push(violation(
                            "6.2.11.3.2",
                            format!("{font_name} is a cidfonttype2 without /CIDToGIDMap"),
                        ));
                    } else {
                        violations.extend(check_cid_widths(document, descendant, &font_name));
                    }
                }
                descendant
            } else {
                font
            };
            let descriptor = descriptor_owner
                .get(b"FontDescriptor")
                .ok()
                .and_then(|descriptor| resolve(document, descriptor).as_dict().ok());
            let embedded = descriptor.is_some_and(|descriptor| {
                [b"FontFile".as_slice(), b"FontFile2", b"FontFile3"].iter().any(|key| descriptor.has(key))
            });
            if !embedded {
                violations.push(violation("6.2.11.4.1", format!("{font_name} is not embedded")));
            }
        }
    }
    violations
}

/// 6.1.13: names, strings, integers, page sizes and object count within
/// the limits PDF/A-2 sets.
pub fn check_limits(document: &Document) -> Vec<PdfaViolation> {
    let mut violations = Vec::new();
    let mut seen = BTreeSet::new();
    for (id, object) in &document.objects {
        walk(object, &mut |key, value| {
            let problem = match value {
                Object::Name(name) if name.len() > 127 => Some("a name longer than 127 bytes"),
                Object::String(text, _) if text.len() > 32_767 => Some("a string longer than 32767 bytes"),
                Object::Integer(number) if i32::try_from(*number).is_err() => {
                    Some("an integer outside the 32-bit range")
                }
                Object::Real(number) if !number.is_finite() => Some("a real that is not finite"),
                _ => None,
            };
            if let Some(problem) = problem.filter(|_| key.is_none_or(|key| key != b"Length"))
                && seen.insert((*id, problem))
            {
                violations.push(violation("6.1.13", format!("object {} has {problem}", object_name(*id))));
            }
        });
    }
    if document.objects.len() > 8_388_607 {
        violations.push(violation("6.1.13", "file has more than 8388607 indirect objects".into()));
    }
    for (page_no, page_id) in document.get_pages() {
        let media_box =
            inherited(document, page_id, b"MediaBox").and_then(|media_box| media_box.as_array().ok().cloned());
        let numbers: Vec<f64> =
            media_box.unwrap_or_default().iter().filter_map(|value| number(resolve(document, value))).collect();
        if numbers.len() != 4 {
            violations.push(violation("6.1.13", format!("page {page_no} has no valid /MediaBox")));
            continue;
        }
        for side in [(numbers[2] - numbers[0]).abs(), (numbers[3] - numbers[1]).abs()] {
            if !(3.0..=14_400.0).contains(&side) {
                violations.push(violation("6.1.13", format!("page {page_no} side {side} is outside 3 to 14400 units")));
            }
        }
    }
    violations
}

const PDFAID_NS: &str = "http://www.aiim.org/pdfa/ns/id/";
const DC_NS: &str = "http://purl.org/dc/elements/1.1/";
const XMP_NS: &str = "http://ns.adobe.com/xap/1.0/";
const PDF_NS: &str = "http://ns.adobe.com/pdf/1.3/";
const RDF_NS: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
const SCHEMA_NS: &str = "http://www.aiim.org/pdfa/ns/schema#";
const PROPERTY_NS: &str = "http://www.aiim.org/pdfa/ns/property#";
const TYPE_NS: &str = "http://www.aiim.org/pdfa/ns/type#";
const FIELD_NS: &str = "http://www.aiim.org/pdfa/ns/field#";

/// Schemas PDF/A-2 predefines (XMP specification 2005, plus the PDF/A ones).
const PREDEFINED_NAMESPACES: [&str; 21] = [
    DC_NS,
    XMP_NS,
    PDF_NS,
    PDFAID_NS,
    "http://ns.adobe.com/xap/1.0/rights/",
    "http://ns.adobe.com/xap/1.0/mm/",
    "http://ns.adobe.com/xap/1.0/bj/",
    "http://ns.adobe.com/xap/1.0/t/pg/",
    "http://ns.adobe.com/xmp/1.0/DynamicMedia/",
    "http://ns.adobe.com/photoshop/1.0/",
    "http://ns.adobe.com/camera-raw-settings/1.0/",
    "http://ns.adobe.com/tiff/1.0/",
    "http://ns.adobe.com/exif/1.0/",
    "http://ns.adobe.com/exif/1.0/aux/",
    "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#",
    "http://ns.adobe.com/xap/1.0/sType/ResourceRef#",
    "http://ns.adobe.com/xap/1.0/sType/Version#",
    "http://ns.adobe.com/xap/1.0/sType/Job#",
    "http://www.aiim.org/pdfa/ns/extension/",
    "http://ns.adobe.com/xap/1.0/sType/Dimensions#",
    "http://ns.adobe.com/xap/1.0/sType/Font#",
];

/// Value types that need no description.
const BASIC_TYPES: [&str; 20] = [
    "Text",
    "Integer",
    "Real",
    "Boolean",
    "Date",
    "URI",
    "URL",
    "AgentName",
    "ProperName",
    "MIMEType",
    "Locale",
    "GUID",
    "RenditionClass",
    "ResourceRef",
    "ResourceEvent",
    "Version",
    "Rational",
    "Lang Alt",
    "XPath",
    "Choice",
];

/// 6.6.2.3: properties outside predefined schemas are described in
/// `pdfaExtension:schemas`, with value types that are basic or described.
pub fn check_extension_schemas(xml: &roxmltree::Document<'_>) -> Vec<PdfaViolation> {
    let mut violations = Vec::new();
    // Described properties and value types per namespace.
    let mut properties: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut types: BTreeMap<String, BTreeSet<String>> = BTreeMap::new(); // field namespace -> field names
    let mut type_names: BTreeSet<String> = BTreeSet::new();
    for schema in xml.descendants().filter(|node| node.has_tag_name((SCHEMA_NS, "namespaceURI"))) {
        let namespace = schema.text().unwrap_or_default().trim().to_string();
        let Some(parent) = schema.parent() else { continue };
        let described = properties.entry(namespace).or_default();
        if parent.children().all(|child| !child.has_tag_name((SCHEMA_NS, "prefix"))) {
            violations.push(violation("6.6.2.3", "an extension schema has no pdfaSchema:prefix".into()));
        }
        for property in parent.descendants().filter(|node| node.has_tag_name((PROPERTY_NS, "name"))) {
            let value_type = property
                .parent()
                .and_then(|node| node.children().find(|child| child.has_tag_name((PROPERTY_NS, "valueType"))))
                .and_then(|node| node.text())
                .unwrap_or_default();
            described.insert(property.text().unwrap_or_default().trim().to_string(), value_type.trim().to_string());
        }
        for value_type in parent.descendants().filter(|node| node.has_tag_name((TYPE_NS, "type"))) {
            type_names.insert(value_type.text().unwrap_or_default().trim().to_string());
            let Some(type_node) = value_type.parent() else { continue };
            let field_namespace = type_node
                .children()
                .find(|child| child.has_tag_name((TYPE_NS, "namespaceURI")))
                .and_then(|node| node.text())
                .unwrap_or_default()
                .trim()
                .to_string();
            let fields = types.entry(field_namespace).or_default();
            for field in type_node.descendants().filter(|node| node.has_tag_name((FIELD_NS, "name"))) {
                fields.insert(field.text().unwrap_or_default().trim().to_string());
            }
        }
    }
    for (namespace, described) in &properties {
        for (name, value_type) in described {
            let base = value_type.trim_start_matches("Seq ").trim_start_matches("Bag ").trim_start_matches("Alt ");
            if !BASIC_TYPES.contains(&value_type.as_str()) && !BASIC_TYPES.contains(&base) && !type_names.contains(base)
            {
                violations.push(violation(
                    "6.6.2.3",
                    format!("property {namespace}{name} has undescribed value type {value_type:?}"),
                ));
            }
        }
    }
    for description in xml.descendants().filter(|node| node.has_tag_name((RDF_NS, "Description"))) {
        // Only top-level descriptions carry properties; nested ones are structures.
        if description.parent().is_none_or(|parent| !parent.has_tag_name((RDF_NS, "RDF"))) {
            continue;
        }
        let mut used: Vec<(String, String)> = description
            .attributes()
            .filter_map(|attribute| attribute.namespace().map(|ns| (ns.to_string(), attribute.name().to_string())))
            .filter(|(namespace, _)| namespace != RDF_NS && namespace != XML_NS)
            .collect();
        used.extend(description.children().filter(|child| child.is_element()).map(|child| {
            (child.tag_name().namespace().unwrap_or_default().to_string(), child.tag_name().name().to_string())
        }));
        for (namespace, name) in used {
            if PREDEFINED_NAMESPACES.contains(&namespace.as_str()) {
                continue;
            }
            if !properties.get(&namespace).is_some_and(|described| described.contains_key(&name)) {
                violations.push(violation(
                    "6.6.2.3",
                    format!("xmp property {namespace}{name} is in no predefined schema and not described"),
                ));
            }
        }
        // Fields of structured values of described properties.
        let described_properties = description.children().filter(|child| {
            child.is_element() && !PREDEFINED_NAMESPACES.contains(&child.tag_name().namespace().unwrap_or_default())
        });
        for property in described_properties {
            for field in property.descendants().skip(1).filter(|node| node.is_element()) {
                let namespace = field.tag_name().namespace().unwrap_or_default();
                if namespace == RDF_NS || PREDEFINED_NAMESPACES.contains(&namespace) {
                    continue;
                }
                if !types.get(namespace).is_some_and(|fields| fields.contains(field.tag_name().name())) {
                    violations.push(violation(
                        "6.6.2.3",
                        format!("xmp field {namespace}{} is in no described value type", field.tag_name().name()),
                    ));
                }
            }
        }
    }
    violations
}

/// The value of a simple XMP property: element text, attribute, or the
/// first (`x-default` for Alt) item of an array.
pub fn xmp_value(xml: &roxmltree::Document<'_>, namespace: &str, local: &str) -> Option<String> {
    for description in xml.descendants().filter(|node| node.has_tag_name((RDF_NS, "Description"))) {
        if let Some(value) = description.attribute((namespace, local)) {
            return Some(value.to_string());
        }
        let Some(property) = description.children().find(|child| child.has_tag_name((namespace, local))) else {
            continue;
        };
        let container = property.children().find(|child| child.is_element());
        return Some(match container {
            None => property.text().unwrap_or_default().to_string(),
            Some(container) => {
                let items: Vec<_> = container.children().filter(|child| child.has_tag_name((RDF_NS, "li"))).collect();
                let chosen =
                    items.iter().find(|item| item.attribute((XML_NS, "lang")) == Some("x-default")).or(items.first());
                chosen.and_then(|item| item.text()).unwrap_or_default().to_string()
            }
        });
    }
    None
}

/// The catalog's XMP packet as text.
pub fn xmp_packet(document: &Document) -> Result<String, PdfaViolation> {
    let catalog = document.catalog().map_err(|error| violation("6.6.2.1", format!("no catalog: {error}")))?;
    let metadata =
        catalog.get(b"Metadata").map_err(|_| violation("6.6.2.1", "catalog has no /Metadata stream".into()))?;
    let stream = resolve(document, metadata)
        .as_stream()
        .map_err(|_| violation("6.6.2.1", "catalog /Metadata is not a stream".into()))?;
    let is_name = |key: &[u8], expected: &[u8]| stream.dict.get(key).and_then(Object::as_name).ok() == Some(expected);
    if !is_name(b"Type", b"Metadata") || !is_name(b"Subtype", b"XML") {
        return Err(violation("6.6.2.1", "metadata stream lacks /Type /Metadata /Subtype /XML".into()));
    }
    let bytes = if stream.dict.has(b"Filter") {
        stream
            .decompressed_content()
            .map_err(|error| violation("6.6.2.1", format!("metadata stream cannot be decoded: {error}")))?
    } else {
        stream.content.clone()
    };
    String::from_utf8(bytes).map_err(|_| violation("6.6.2.1", "xmp packet is not utf-8".into()))
}

/// An XMP date (`YYYY[-MM[-DD[Thh:mm[:ss[.s]]TZD]]]`), missing parts defaulted.
pub fn parse_xmp_date(text: &str) -> Option<DateTime> {
    let text = text.trim();
    let normalised = match text.len() {
        4 => format!("{text}-01-01T00:00:00Z"),
        7 => format!("{text}-01T00:00:00Z"),
        10 => format!("{text}T00:00:00Z"),
        _ => {
            let time_start = text.find('T')? + 1;
            let time = &text[time_start..];
            let zone_start = time.find(['Z', 'z', '+', '-']).unwrap_or(time.len());
            let (clock, zone) = time.split_at(zone_start);
            let clock = if clock.len() == 5 { format!("{clock}:00") } else { clock.to_string() };
            let zone = if zone.is_empty() { "Z" } else { zone };
            format!("{}{clock}{zone}", &text[..time_start])
        }
    };
    DateTime::parse_rfc3339(&normalised)
}

fn violation(rule: &'static str, message: String) -> PdfaViolation {
    PdfaViolation { rule, message }
}

fn object_name(id: ObjectId) -> String {
    format!("{} {}", id.0, id.1)
}

fn resolve<'a>(document: &'a Document, object: &'a Object) -> &'a Object {
    document.dereference(object).map(|(_, object)| object).unwrap_or(object)
}

fn number(object: &Object) -> Option<f64> {
    match object {
        Object::Integer(value) => Some(*value as f64),
        Object::Real(value) => Some(f64::from(*value)),
        _ => None,
    }
}

/// The integer after `/Length` in raw dictionary bytes, unless it is the
/// start of an indirect reference `N G R`.
fn raw_direct_length(dictionary: &[u8]) -> Option<i64> {
    let mut from = 0;
    while let Some(relative) = dictionary.get(from..)?.windows(7).position(|window| window == b"/Length") {
        let after = &dictionary[from + relative + 7..];
        from += relative + 7;
        if after.first().is_some_and(|b| b.is_ascii_alphanumeric()) {
            continue; // /Length1, /Length2, ...
        }
        let mut tokens = after.split(|b| b.is_ascii_whitespace()).filter(|token| !token.is_empty());
        let first = tokens.next()?;
        let digits: Vec<u8> = first.iter().take_while(|b| b.is_ascii_digit()).copied().collect();
        let value = std::str::from_utf8(&digits).ok()?.parse().ok()?;
        let is_reference = digits.len() == first.len()
            && tokens.next().is_some_and(|g| g.iter().all(u8::is_ascii_digit))
            && tokens.next().is_some_and(|r| r.starts_with(b"R"));
        return if is_reference { None } else { Some(value) };
    }
    None
}

/// End of the `stream` keyword that follows the dictionary of the object at
/// `offset`: the first `stream` preceded by `>>` and optional white space.
fn stream_keyword_end(bytes: &[u8], offset: usize) -> Option<usize> {
    let mut from = offset;
    loop {
        let relative = bytes.get(from..)?.windows(6).position(|window| window == b"stream")?;
        let position = from + relative;
        let before = bytes[offset..position].trim_ascii_end();
        if before.ends_with(b">>") && !bytes[offset..position].ends_with(b"end") {
            return Some(position + 6);
        }
        from = position + 6;
    }
}

fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|window| window == needle)
}

/// Calls `visit(key, value)` for the object and everything nested in it
/// (not following references); `key` is the dictionary key a value sits under.
fn walk(object: &Object, visit: &mut impl FnMut(Option<&[u8]>, &Object)) {
    fn inner(key: Option<&[u8]>, object: &Object, visit: &mut impl FnMut(Option<&[u8]>, &Object)) {
        visit(key, object);
        match object {
            Object::Array(items) => items.iter().for_each(|item| inner(None, item, visit)),
            Object::Dictionary(dictionary) => dictionary.iter().for_each(|(key, value)| inner(Some(key), value, visit)),
            Object::Stream(stream) => stream.dict.iter().for_each(|(key, value)| inner(Some(key), value, visit)),
            _ => {}
        }
    }
    inner(None, object, visit);
}

/// Decodes a PDF text string: UTF-16BE with BOM, UTF-8 with BOM, or PDFDocEncoding
/// (taken as Latin-1, which agrees with it for letters).
fn decode_text_string(bytes: &[u8]) -> String {
    if let Some(utf16) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        let units: Vec<u16> = utf16.chunks_exact(2).map(|pair| u16::from_be_bytes([pair[0], pair[1]])).collect();
        String::from_utf16_lossy(&units)
    } else if let Some(utf8) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        String::from_utf8_lossy(utf8).into_owned()
    } else {
        bytes.iter().map(|b| char::from(*b)).collect()
    }
}

fn output_intents(document: &Document) -> Vec<&Dictionary> {
    let Ok(catalog) = document.catalog() else { return Vec::new() };
    let Some(intents) =
        catalog.get(b"OutputIntents").ok().and_then(|intents| resolve(document, intents).as_array().ok())
    else {
        return Vec::new();
    };
    intents
        .iter()
        .filter_map(|intent| resolve(document, intent).as_dict().ok())
        .filter(|intent| intent.get(b"S").and_then(Object::as_name).ok() == Some(b"GTS_PDFA1".as_slice()))
        .collect()
}

struct IccHeader {
    major_version: u8,
    class: [u8; 4],
    components: u8,
}

fn icc_header(profile: &[u8]) -> Result<IccHeader, String> {
    if profile.len() < 132 || &profile[36..40] != b"acsp" {
        return Err("not an icc profile (no acsp signature)".into());
    }
    let declared = u32::from_be_bytes([profile[0], profile[1], profile[2], profile[3]]) as usize;
    if declared != profile.len() {
        return Err(format!("header says {declared} bytes, the stream has {}", profile.len()));
    }
    let components = match &profile[16..20] {
        b"RGB " => 3,
        b"GRAY" => 1,
        b"CMYK" => 4,
        other => return Err(format!("colour space {:?} is not rgb, gray or cmyk", String::from_utf8_lossy(other))),
    };
    let mut class = [0; 4];
    class.copy_from_slice(&profile[12..16]);
    Ok(IccHeader { major_version: profile[8], class, components })
}

fn note_colour_space(space: &Object, used: &mut BTreeSet<&'static str>) {
    let name = match space {
        Object::Name(name) => name.as_slice(),
        Object::Array(items) => match items.first() {
            // [/Indexed /DeviceRGB ...] uses its base.
            Some(Object::Name(first)) if first == b"Indexed" || first == b"I" => match items.get(1) {
                Some(Object::Name(base)) => base.as_slice(),
                _ => return,
            },
            _ => return,
        },
        _ => return,
    };
    match name {
        b"DeviceRGB" | b"RGB" => used.insert("DeviceRGB"),
        b"DeviceCMYK" | b"CMYK" => used.insert("DeviceCMYK"),
        b"DeviceGray" | b"G" => used.insert("DeviceGray"),
        _ => false,
    };
}

/// Resource dictionaries of a page, its own or inherited.
fn page_resources(document: &Document, page_id: ObjectId) -> Vec<&Dictionary> {
    match document.get_page_resources(page_id) {
        Ok((own, inherited)) => {
            own.into_iter().chain(inherited.iter().filter_map(|id| document.get_dictionary(*id).ok())).collect()
        }
        Err(_) => Vec::new(),
    }
}

fn inherited<'a>(document: &'a Document, page_id: ObjectId, key: &[u8]) -> Option<&'a Object> {
    let mut node = document.get_dictionary(page_id).ok()?;
    for _ in 0..32 {
        if let Ok(value) = node.get(key) {
            return Some(resolve(document, value));
        }
        node = node.get(b"Parent").ok().and_then(|parent| resolve(document, parent).as_dict().ok())?;
    }
    None
}

/// 6.2.11.5 for a CIDFontType2 with a CIDToGIDMap stream and an embedded
/// TrueType program: each mapped CID's `/W` (or `/DW`) width equals the
/// glyph's advance in the program, within one unit.
fn check_cid_widths(document: &Document, cid_font: &Dictionary, font_name: &str) -> Vec<PdfaViolation> {
    let Some(map) = cid_font
        .get(b"CIDToGIDMap")
        .ok()
        .and_then(|map| resolve(document, map).as_stream().ok())
        .and_then(|map| map.decompressed_content().ok())
    else {
        return Vec::new();
    };
    let program = cid_font
        .get(b"FontDescriptor")
        .ok()
        .and_then(|descriptor| resolve(document, descriptor).as_dict().ok())
        .and_then(|descriptor| descriptor.get(b"FontFile2").ok())
        .and_then(|file| resolve(document, file).as_stream().ok())
        .and_then(|file| {
            file.decompressed_content().ok().or_else(|| (!file.dict.has(b"Filter")).then(|| file.content.clone()))
        });
    let Some(advances) = program.as_deref().and_then(truetype_advances) else {
        return vec![violation("6.2.11.4.1", format!("{font_name}: embedded truetype program cannot be read"))];
    };
    let default_width = cid_font.get(b"DW").ok().and_then(|width| number(resolve(document, width))).unwrap_or(1000.0);
    let widths = cid_widths(document, cid_font);
    let mut violations = Vec::new();
    for (cid, pair) in map.chunks_exact(2).enumerate() {
        let gid = usize::from(u16::from_be_bytes([pair[0], pair[1]]));
        if gid == 0 && cid != 0 {
            continue;
        }
        let pdf_width = widths.get(&(cid as u32)).copied().unwrap_or(default_width);
        let program_width = advances.get(gid).or(advances.last()).copied().unwrap_or(0.0);
        if (pdf_width - program_width).abs() > 1.0 {
            violations.push(violation(
                "6.2.11.5",
                format!(
                    "{font_name}: cid {cid} is {pdf_width} wide in the pdf but {program_width} in the font program"
                ),
            ));
            break;
        }
    }
    violations
}

/// Glyph advances in 1/1000 em from a TrueType program's head, hhea, hmtx.
fn truetype_advances(font: &[u8]) -> Option<Vec<f64>> {
    let u16_at = |offset: usize| font.get(offset..offset + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let u32_at = |offset: usize| font.get(offset..offset + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let table_count = usize::from(u16_at(4)?);
    let table = |tag: &[u8]| {
        (0..table_count).find_map(|index| {
            let record = 12 + 16 * index;
            (font.get(record..record + 4)? == tag).then(|| u32_at(record + 8).map(|offset| offset as usize)).flatten()
        })
    };
    let units_per_em = f64::from(u16_at(table(b"head")? + 18)?);
    let metrics = usize::from(u16_at(table(b"hhea")? + 34)?);
    let hmtx = table(b"hmtx")?;
    if units_per_em == 0.0 || metrics == 0 {
        return None;
    }
    (0..metrics)
        .map(|index| u16_at(hmtx + 4 * index).map(|advance| f64::from(advance) * 1000.0 / units_per_em))
        .collect()
}

/// The `/W` array of a CIDFont as CID -> width.
fn cid_widths(document: &Document, cid_font: &Dictionary) -> BTreeMap<u32, f64> {
    let mut widths = BTreeMap::new();
    let Some(items) = cid_font.get(b"W").ok().and_then(|w| resolve(document, w).as_array().ok()) else {
        return widths;
    };
    let mut index = 0;
    while index < items.len() {
        let Some(first) = number(resolve(document, &items[index])) else { break };
        match items.get(index + 1).map(|item| resolve(document, item)) {
            Some(Object::Array(list)) => {
                for (offset, width) in list.iter().enumerate() {
                    if let Some(width) = number(resolve(document, width)) {
                        widths.insert(first as u32 + offset as u32, width);
                    }
                }
                index += 2;
            }
            Some(last) => {
                let (Some(last), Some(width)) =
                    (number(last), items.get(index + 2).and_then(|w| number(resolve(document, w))))
                else {
                    break;
                };
                for cid in first as u32..=last as u32 {
                    widths.insert(cid, width);
                }
                index += 3;
            }
            None => break,
        }
    }
    widths
}
