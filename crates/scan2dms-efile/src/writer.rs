//! The PDF/A-2b writer: validates the pages and provenance, lays out each
//! page (image placement and text layer), and writes the objects, xref and
//! trailer straight to the output while hashing it.
//!
//! Key decisions:
//! - Everything is validated before the first byte is written, so a bad page
//!   or provenance never leaves half a file behind (only I/O errors can).
//! - The object graph is fixed: 1 catalog, 2 page tree, 3 XMP, 4 ICC
//!   profile, 5 Info, then the font objects when the document has text, then
//!   for each page: page, content stream and its image (one image per strip
//!   for [`PageImage::CcittStrips`], drawn as bands of the page).
//! - Text layer: words of one OCR line share a font size (the line's height)
//!   and a baseline (the line's bottom, less the font's descent), so text
//!   extraction sees one line; each word is stretched with `Tz` to span its
//!   box, and a stretched space fills the gap to the next word so copied
//!   text has real spaces.
//!
//! What it does not do: recompress images, write incremental updates or
//! object streams, or split words into glyph positions (one box per word).

use std::borrow::Cow;
use std::io::{self, Write};

use flate2::Compression;
use flate2::write::ZlibEncoder;
use sha2::{Digest, Sha256};

use crate::font::{self, CharMap};
use crate::icc;
use crate::xmp::{self, DateTime, XmpFields};
use crate::{EfileError, EfilePage, EfileSummary, PageImage, Provenance, RawColor};

/// Smallest and largest page side PDF allows, in points (ISO 32000-1 annex C).
const MIN_PAGE_SIDE: f64 = 3.0;
const MAX_PAGE_SIDE: f64 = 14_400.0;

/// Writes one e-file to `out` and says how big it is and its SHA-256.
pub fn write_efile(
    pages: &[EfilePage],
    provenance: &Provenance,
    out: &mut impl Write,
) -> Result<EfileSummary, EfileError> {
    if pages.is_empty() {
        return Err(EfileError::NoPages);
    }
    let created = validate_provenance(provenance)?;
    let layouts =
        pages.iter().enumerate().map(|(index, page)| layout_page(index + 1, page)).collect::<Result<Vec<_>, _>>()?;
    let chars = CharMap::new(
        layouts
            .iter()
            .flat_map(|layout| layout.lines.iter())
            .flat_map(|line| line.runs.iter())
            .flat_map(|run| run.text.chars()),
    )
    .ok_or_else(|| EfileError::InvalidPage {
        page_no: 1,
        reason: "the document uses more than 65534 distinct characters".into(),
    })?;
    let id = document_id(provenance, pages.len());
    let document_id = format!("uuid:{}", uuid_text(&id));

    let mut sink = Sink::new(out);
    // The binary comment line marks the file as binary (PDF/A 6.1.2).
    sink.raw(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n")?;

    const CATALOG: usize = 1;
    const PAGES: usize = 2;
    const METADATA: usize = 3;
    const ICC: usize = 4;
    const INFO: usize = 5;
    let font_ids = (!chars.is_empty()).then_some(FontIds {
        type0: 6,
        cid_font: 7,
        descriptor: 8,
        program: 9,
        to_unicode: 10,
        cid_to_gid: 11,
    });
    let first_page_id = if font_ids.is_some() { 12 } else { 6 };
    // Each page is a page object, a content stream and one or more images.
    let mut page_ids = Vec::with_capacity(pages.len());
    let mut next_id = first_page_id;
    for page in pages {
        page_ids.push(next_id);
        next_id += 2 + page.image.part_count();
    }

    sink.object(
        CATALOG,
        &format!(
            "<< /Type /Catalog /Pages {PAGES} 0 R /Metadata {METADATA} 0 R /OutputIntents [<< /Type /OutputIntent /S /GTS_PDFA1 \
             /OutputConditionIdentifier {cond} /RegistryName (http://www.color.org) /Info {cond} /DestOutputProfile {ICC} 0 R >>] >>",
            cond = literal_string(icc::OUTPUT_CONDITION)
        ),
    )?;
    let kids: Vec<String> = page_ids.iter().map(|id| format!("{id} 0 R")).collect();
    sink.object(PAGES, &format!("<< /Type /Pages /Kids [{}] /Count {} >>", kids.join(" "), page_ids.len()))?;

    let packet = xmp::build_packet(&XmpFields { provenance, created, document_id });
    sink.stream(METADATA, "/Type /Metadata /Subtype /XML", packet.as_bytes())?;
    sink.stream(ICC, "/N 3 /Filter /FlateDecode", &deflate(&icc::srgb_profile()))?;

    let mut info = String::from("<< ");
    if let Some(title) = &provenance.title {
        info.push_str(&format!("/Title {} ", text_string(title)));
    }
    info.push_str(&format!(
        "/Creator {producer} /Producer {producer} /CreationDate {date} /ModDate {date} >>",
        producer = text_string(&provenance.producer),
        date = literal_string(&created.to_pdf())
    ));
    sink.object(INFO, &info)?;

    if let Some(ids) = &font_ids {
        write_font(&mut sink, ids, &chars)?;
    }

    for (index, (layout, page)) in layouts.iter().zip(pages).enumerate() {
        let page_id = page_ids[index];
        let contents_id = page_id + 1;
        let parts = image_parts(&page.image);
        let xobjects: Vec<String> =
            (0..parts.len()).map(|part| format!("/Im{part} {} 0 R", contents_id + 1 + part)).collect();
        let font_resource = font_ids
            .as_ref()
            .filter(|_| !layout.lines.is_empty())
            .map(|ids| format!(" /Font << /F0 {} 0 R >>", ids.type0))
            .unwrap_or_default();
        sink.object(
            page_id,
            &format!(
                "<< /Type /Page /Parent {PAGES} 0 R /MediaBox [0 0 {} {}] /Resources << /XObject << {} >>{font_resource} >> /Contents {contents_id} 0 R >>",
                number(layout.width_pt),
                number(layout.height_pt),
                xobjects.join(" ")
            ),
        )?;
        let image_height = f64::from(page.image.size().1);
        let bands: Vec<(f64, f64)> = parts
            .iter()
            .map(|part| (f64::from(part.top_row) / image_height, f64::from(part.rows) / image_height))
            .collect();
        sink.stream(contents_id, "/Filter /FlateDecode", &deflate(content_stream(layout, &bands, &chars).as_bytes()))?;
        for (index, part) in parts.into_iter().enumerate() {
            sink.stream(contents_id + 1 + index, &part.dict, &part.data)?;
        }
    }

    let object_count = sink.offsets.len();
    let xref_offset = sink.written;
    let mut xref = format!("xref\n0 {object_count}\n0000000000 65535 f \n");
    for offset in sink.offsets.iter().skip(1) {
        xref.push_str(&format!("{offset:010} 00000 n \n"));
    }
    let id_hex = hex::encode_upper(id);
    xref.push_str(&format!(
        "trailer\n<< /Size {object_count} /Root {CATALOG} 0 R /Info {INFO} 0 R /ID [<{id_hex}> <{id_hex}>] >>\nstartxref\n{xref_offset}\n%%EOF\n"
    ));
    sink.raw(xref.as_bytes())?;
    sink.out.flush()?;
    Ok(EfileSummary { bytes: sink.written, sha256: hex::encode(sink.hasher.finalize()), pages: pages.len() })
}

struct FontIds {
    type0: usize,
    cid_font: usize,
    descriptor: usize,
    program: usize,
    to_unicode: usize,
    cid_to_gid: usize,
}

fn write_font<W: Write>(sink: &mut Sink<W>, ids: &FontIds, chars: &CharMap) -> io::Result<()> {
    let name = font::FONT_NAME;
    sink.object(
        ids.type0,
        &format!(
            "<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H /DescendantFonts [{} 0 R] /ToUnicode {} 0 R >>",
            ids.cid_font, ids.to_unicode
        ),
    )?;
    sink.object(
        ids.cid_font,
        &format!(
            "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> \
             /FontDescriptor {} 0 R /DW {} /CIDToGIDMap {} 0 R >>",
            ids.descriptor,
            font::GLYPH_WIDTH,
            ids.cid_to_gid
        ),
    )?;
    sink.object(
        ids.descriptor,
        &format!(
            "<< /Type /FontDescriptor /FontName /{name} /Flags 4 /FontBBox [0 {descent} {width} {ascent}] /ItalicAngle 0 \
             /Ascent {ascent} /Descent {descent} /CapHeight 700 /StemV 80 /FontFile2 {} 0 R >>",
            ids.program,
            ascent = font::ASCENT,
            descent = font::DESCENT,
            width = font::GLYPH_WIDTH,
        ),
    )?;
    let program = font::glyphless_truetype();
    sink.stream(ids.program, &format!("/Length1 {} /Filter /FlateDecode", program.len()), &deflate(&program))?;
    sink.stream(ids.to_unicode, "/Filter /FlateDecode", &deflate(&chars.to_unicode_cmap()))?;
    sink.stream(ids.cid_to_gid, "/Filter /FlateDecode", &deflate(&chars.cid_to_gid_map()))
}

/// One page, ready to write.
#[derive(Debug)]
struct PageLayout {
    width_pt: f64,
    height_pt: f64,
    /// `cm` operands that draw the stored image's unit square upright.
    image_matrix: [f64; 6],
    /// `cm` operands that then level it: a small turn about the page centre.
    deskew_matrix: Option<[f64; 6]>,
    lines: Vec<LineLayout>,
}

#[derive(Debug)]
struct LineLayout {
    font_size: f64,
    baseline: f64,
    runs: Vec<TextRun>,
}

/// Text stretched over `[x, x + width]` on the line's baseline.
#[derive(Debug)]
struct TextRun {
    x: f64,
    width: f64,
    text: String,
}

fn layout_page(page_no: usize, page: &EfilePage) -> Result<PageLayout, EfileError> {
    let invalid = |reason: String| EfileError::InvalidPage { page_no, reason };
    check_image(&page.image).map_err(invalid)?;
    let (width_px, height_px) = page.image.size();
    if !(page.dpi.is_finite() && page.dpi > 0.0) {
        return Err(invalid(format!("resolution {} dpi is not a positive number", page.dpi)));
    }
    let scale = 72.0 / f64::from(page.dpi);
    let (w, h) = (f64::from(width_px) * scale, f64::from(height_px) * scale);
    // Upright page size and the matrix that maps the image's unit square
    // (u right, v up) onto it after turning the image clockwise.
    let (width_pt, height_pt, image_matrix, upright_px) = match page.rotate_clockwise_deg {
        0 => (w, h, [w, 0.0, 0.0, h, 0.0, 0.0], (width_px, height_px)),
        90 => (h, w, [0.0, -w, h, 0.0, 0.0, w], (height_px, width_px)),
        180 => (w, h, [-w, 0.0, 0.0, -h, w, h], (width_px, height_px)),
        270 => (h, w, [0.0, w, -h, 0.0, h, 0.0], (height_px, width_px)),
        other => return Err(invalid(format!("rotation {other} is not 0, 90, 180 or 270 degrees"))),
    };
    if !(page.deskew_deg.is_finite() && page.deskew_deg.abs() <= 45.0) {
        return Err(invalid(format!("deskew of {}° is not within ±45°", page.deskew_deg)));
    }
    let deskew = (page.deskew_deg != 0.0).then(|| f64::from(page.deskew_deg).to_radians());
    let deskew_matrix = deskew.map(|theta| {
        // Anticlockwise about (cx, cy) in pdf space (y up).
        let (sin, cos) = theta.sin_cos();
        let (cx, cy) = (width_pt / 2.0, height_pt / 2.0);
        [cos, sin, -sin, cos, cx - cx * cos + cy * sin, cy - cx * sin - cy * cos]
    });
    for side in [width_pt, height_pt] {
        if !(MIN_PAGE_SIDE..=MAX_PAGE_SIDE).contains(&side) {
            return Err(invalid(format!(
                "page side of {side:.1} pt ({width_px}x{height_px} pixels at {} dpi) is outside the pdf range of 3 to 14400 pt",
                page.dpi
            )));
        }
    }

    // Group words by line, lines in order of first appearance.
    let mut line_numbers: Vec<u32> = Vec::new();
    let mut line_words: Vec<Vec<([u32; 4], String)>> = Vec::new();
    for (word_index, word) in page.words.iter().enumerate() {
        let [left, top, right, bottom] = word.bbox;
        if left >= right || top >= bottom {
            return Err(invalid(format!("word {} has an empty or inverted box {:?}", word_index + 1, word.bbox)));
        }
        let bbox = [left.min(upright_px.0), top.min(upright_px.1), right.min(upright_px.0), bottom.min(upright_px.1)];
        let bbox = match deskew {
            Some(theta) => level_box(bbox, theta, upright_px),
            None => bbox,
        };
        let text: String = word.text.chars().filter(|c| !c.is_control()).collect();
        if text.trim().is_empty() || bbox[0] >= bbox[2] || bbox[1] >= bbox[3] {
            continue;
        }
        match line_numbers.iter().position(|line| *line == word.line) {
            Some(position) => line_words[position].push((bbox, text)),
            None => {
                line_numbers.push(word.line);
                line_words.push(vec![(bbox, text)]);
            }
        }
    }
    let descent = -f64::from(font::DESCENT) / 1000.0;
    let lines = line_words
        .into_iter()
        .map(|words| {
            let top = words.iter().map(|(bbox, _)| bbox[1]).min().unwrap_or(0);
            let bottom = words.iter().map(|(bbox, _)| bbox[3]).max().unwrap_or(0);
            let font_size = f64::from(bottom - top) * scale;
            let baseline = height_pt - f64::from(bottom) * scale + descent * font_size;
            // Each word but the last carries its following space and is
            // stretched to where the next word starts, so text extraction
            // sees the space inside the run in every mode, even where the
            // OCR boxes of two words touch.
            let mut runs = Vec::with_capacity(words.len());
            for (index, (bbox, text)) in words.iter().enumerate() {
                let x = f64::from(bbox[0]) * scale;
                let word_width = f64::from(bbox[2] - bbox[0]) * scale;
                let run = match words.get(index + 1) {
                    Some((next, _)) => {
                        // Ending the run where the next word starts keeps the
                        // space from overlapping it (extraction drops a space
                        // that does), even where the boxes touch or overlap;
                        // the invisible glyphs are squeezed a little instead.
                        let to_next = f64::from(next[0]) * scale - x;
                        let width = if to_next > 0.5 * word_width { to_next } else { word_width };
                        TextRun { x, width, text: format!("{text} ") }
                    }
                    None => TextRun { x, width: word_width, text: text.clone() },
                };
                runs.push(run);
            }
            LineLayout { font_size, baseline, runs }
        })
        .collect();
    Ok(PageLayout { width_pt, height_pt, image_matrix, deskew_matrix, lines })
}

/// Where a word's box lands when the page image is turned anticlockwise by
/// `theta` (radians) about its centre: its centre turns with the page, and
/// its size becomes that of the level word whose slanted outline the OCR
/// boxed. Pixel coordinates, y down; clamped to the page.
fn level_box(bbox: [u32; 4], theta: f64, (width, height): (u32, u32)) -> [u32; 4] {
    let [left, top, right, bottom] = bbox.map(f64::from);
    let (cx, cy) = (f64::from(width) / 2.0, f64::from(height) / 2.0);
    let (dx, dy) = ((left + right) / 2.0 - cx, (top + bottom) / 2.0 - cy);
    let (sin, cos) = theta.sin_cos();
    // Turning anticlockwise on screen is clockwise in y-down coordinates.
    let (x, y) = (cx + dx * cos + dy * sin, cy - dx * sin + dy * cos);
    let (boxed_w, boxed_h) = (right - left, bottom - top);
    let (s, c) = (sin.abs(), cos);
    let denominator = c * c - s * s;
    let w = ((boxed_w * c - boxed_h * s) / denominator).max(boxed_w / 2.0);
    let h = ((boxed_h * c - boxed_w * s) / denominator).max(boxed_h / 2.0);
    let clamp = |value: f64, max: u32| value.round().clamp(0.0, f64::from(max)) as u32;
    [clamp(x - w / 2.0, width), clamp(y - h / 2.0, height), clamp(x + w / 2.0, width), clamp(y + h / 2.0, height)]
}

/// `bands` are the image parts as (top, height), fractions of the image height.
fn content_stream(layout: &PageLayout, bands: &[(f64, f64)], chars: &CharMap) -> String {
    let mut content = String::from("q\n");
    if let Some(deskew) = layout.deskew_matrix {
        let d = deskew.map(number_fine);
        content.push_str(&format!("{} {} {} {} {} {} cm\n", d[0], d[1], d[2], d[3], d[4], d[5]));
    }
    let m = layout.image_matrix.map(number);
    content.push_str(&format!("{} {} {} {} {} {} cm\n", m[0], m[1], m[2], m[3], m[4], m[5]));
    if let [(0.0, 1.0)] = bands {
        content.push_str("/Im0 Do\n");
    } else {
        // Each band's unit square goes to its rows of the image's unit square (v up).
        for (index, (top, height)) in bands.iter().enumerate() {
            content.push_str(&format!(
                "q 1 0 0 {} 0 {} cm /Im{index} Do Q\n",
                number_fine(*height),
                number_fine(1.0 - top - height)
            ));
        }
    }
    content.push_str("Q\n");
    if layout.lines.is_empty() {
        return content;
    }
    content.push_str("BT\n3 Tr\n");
    let glyph_em = f64::from(font::GLYPH_WIDTH) / 1000.0;
    for line in &layout.lines {
        content.push_str(&format!("/F0 {} Tf\n", number(line.font_size)));
        for run in &line.runs {
            let natural = run.text.chars().count() as f64 * glyph_em * line.font_size;
            let stretch = if natural > 0.0 { 100.0 * run.width / natural } else { 100.0 };
            content.push_str(&format!(
                "{} Tz\n1 0 0 1 {} {} Tm\n{} Tj\n",
                number(stretch),
                number(run.x),
                number(line.baseline),
                chars.hex_string(&run.text)
            ));
        }
    }
    content.push_str("ET\n");
    content
}

impl PageImage {
    fn size(&self) -> (u32, u32) {
        match self {
            PageImage::Ccitt { width, height, .. }
            | PageImage::CcittStrips { width, height, .. }
            | PageImage::Jpeg { width, height, .. }
            | PageImage::Raw { width, height, .. } => (*width, *height),
        }
    }

    /// How many image XObjects the page needs.
    fn part_count(&self) -> usize {
        match self {
            PageImage::CcittStrips { strips, .. } => strips.len(),
            _ => 1,
        }
    }
}

/// Checks that the image data can be what it claims to be.
fn check_image(image: &PageImage) -> Result<(), String> {
    let (width, height) = image.size();
    if width == 0 || height == 0 {
        return Err(format!("image of {width}x{height} pixels is empty"));
    }
    match image {
        PageImage::Ccitt { data, .. } => {
            if data.is_empty() {
                return Err("ccitt image has no data".into());
            }
        }
        PageImage::CcittStrips { strips, rows_per_strip, .. } => {
            if *rows_per_strip == 0 {
                return Err("ccitt strips have 0 rows per strip".into());
            }
            let expected = height.div_ceil(*rows_per_strip) as usize;
            if strips.len() != expected {
                return Err(format!(
                    "{height} rows in strips of {rows_per_strip} need {expected} strips, found {}",
                    strips.len()
                ));
            }
            if let Some(index) = strips.iter().position(Vec::is_empty) {
                return Err(format!("ccitt strip {} has no data", index + 1));
            }
        }
        PageImage::Jpeg { data, components, .. } => {
            if !matches!(components, 1 | 3) {
                return Err(format!(
                    "jpeg with {components} components is not supported (only gray and rgb fit the srgb output intent)"
                ));
            }
            let frame = jpeg_frame(data)?;
            if (frame.width, frame.height, frame.components) != (width, height, *components) {
                return Err(format!(
                    "jpeg frame is {}x{} with {} components, but the page says {width}x{height} with {components}",
                    frame.width, frame.height, frame.components
                ));
            }
        }
        PageImage::Raw { pixels, color, .. } => {
            let expected = raw_len(width, height, *color);
            if pixels.len() as u64 != expected {
                let color = match color {
                    RawColor::Gray8 => "gray8",
                    RawColor::Rgb8 => "rgb8",
                    RawColor::Bilevel => "bilevel",
                };
                return Err(format!("raw image has {} bytes, {width}x{height} {color} needs {expected}", pixels.len()));
            }
        }
    }
    Ok(())
}

fn raw_len(width: u32, height: u32, color: RawColor) -> u64 {
    let (width, height) = (u64::from(width), u64::from(height));
    match color {
        RawColor::Gray8 => width * height,
        RawColor::Rgb8 => 3 * width * height,
        RawColor::Bilevel => width.div_ceil(8) * height,
    }
}

struct JpegFrame {
    width: u32,
    height: u32,
    components: u8,
}

/// Reads the frame header of a JPEG; only baseline and progressive Huffman
/// 8-bit JPEGs are accepted, as every PDF reader decodes those.
fn jpeg_frame(data: &[u8]) -> Result<JpegFrame, String> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err("jpeg data does not start with an soi marker".into());
    }
    let mut position = 2;
    loop {
        while data.get(position) == Some(&0xFF) && data.get(position + 1) == Some(&0xFF) {
            position += 1;
        }
        let (Some(0xFF), Some(&marker)) = (data.get(position), data.get(position + 1)) else {
            return Err(format!("jpeg has no frame header (bad marker at byte {position})"));
        };
        position += 2;
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            continue;
        }
        if marker == 0xD9 || marker == 0xDA {
            return Err("jpeg has no frame header before its scan".into());
        }
        let length =
            usize::from(u16::from_be_bytes([*data.get(position).unwrap_or(&0), *data.get(position + 1).unwrap_or(&0)]));
        if length < 2 || position + length > data.len() {
            return Err(format!("jpeg segment at byte {position} is truncated"));
        }
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            if !matches!(marker, 0xC0..=0xC2) {
                return Err(format!("jpeg frame type sof{} (lossless or arithmetic) is not supported", marker - 0xC0));
            }
            let segment = &data[position + 2..position + length];
            if segment.len() < 6 {
                return Err("jpeg frame header is truncated".into());
            }
            if segment[0] != 8 {
                return Err(format!("jpeg with {} bits per sample is not supported", segment[0]));
            }
            return Ok(JpegFrame {
                height: u32::from(u16::from_be_bytes([segment[1], segment[2]])),
                width: u32::from(u16::from_be_bytes([segment[3], segment[4]])),
                components: segment[5],
            });
        }
        position += length;
    }
}

/// One image XObject of a page: dictionary entries (without `/Length`),
/// stream data, and the rows of the page image it covers.
struct ImagePart<'a> {
    dict: String,
    data: Cow<'a, [u8]>,
    top_row: u32,
    rows: u32,
}

fn image_parts(image: &PageImage) -> Vec<ImagePart<'_>> {
    let (_, height) = image.size();
    match image {
        PageImage::CcittStrips { strips, rows_per_strip, width, k, black_is_1, encoded_byte_align, .. } => strips
            .iter()
            .enumerate()
            .map(|(index, strip)| {
                let top_row = *rows_per_strip * index as u32;
                let rows = (*rows_per_strip).min(height - top_row);
                ImagePart {
                    dict: ccitt_dict(*width, rows, *k, *black_is_1, *encoded_byte_align),
                    data: Cow::Borrowed(strip.as_slice()),
                    top_row,
                    rows,
                }
            })
            .collect(),
        PageImage::Ccitt { data, width, k, black_is_1, encoded_byte_align, .. } => vec![ImagePart {
            dict: ccitt_dict(*width, height, *k, *black_is_1, *encoded_byte_align),
            data: Cow::Borrowed(data.as_slice()),
            top_row: 0,
            rows: height,
        }],
        PageImage::Jpeg { data, width, components, .. } => {
            let space = if *components == 1 { "DeviceGray" } else { "DeviceRGB" };
            let dict = format!(
                "/Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /{space} /BitsPerComponent 8 /Filter /DCTDecode"
            );
            vec![ImagePart { dict, data: Cow::Borrowed(data.as_slice()), top_row: 0, rows: height }]
        }
        PageImage::Raw { pixels, width, color, .. } => {
            let (space, bits) = match color {
                RawColor::Gray8 => ("DeviceGray", 8),
                RawColor::Rgb8 => ("DeviceRGB", 8),
                RawColor::Bilevel => ("DeviceGray", 1),
            };
            let dict = format!(
                "/Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /{space} /BitsPerComponent {bits} /Filter /FlateDecode"
            );
            vec![ImagePart { dict, data: Cow::Owned(deflate(pixels)), top_row: 0, rows: height }]
        }
    }
}

fn ccitt_dict(width: u32, height: u32, k: i32, black_is_1: bool, encoded_byte_align: bool) -> String {
    format!(
        "/Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace /DeviceGray /BitsPerComponent 1 \
         /Filter /CCITTFaxDecode /DecodeParms << /K {k} /Columns {width} /Rows {height} /BlackIs1 {black_is_1} /EncodedByteAlign {encoded_byte_align} >>"
    )
}

fn validate_provenance(provenance: &Provenance) -> Result<DateTime, EfileError> {
    let invalid = |reason: String| EfileError::InvalidProvenance(reason);
    let created = DateTime::parse_rfc3339(&provenance.created).ok_or_else(|| {
        invalid(format!("created {:?} is not an rfc 3339 date-time with seconds and offset", provenance.created))
    })?;
    for (field, value) in
        [("batch_id", &provenance.batch_id), ("record_id", &provenance.record_id), ("producer", &provenance.producer)]
    {
        if value.trim().is_empty() {
            return Err(invalid(format!("{field} is empty")));
        }
    }
    let title = provenance.title.as_deref().unwrap_or("");
    for (field, value) in [("title", title), ("producer", provenance.producer.as_str())] {
        if value.chars().any(char::is_control) {
            return Err(invalid(format!("{field} contains control characters")));
        }
        if value.chars().count() > 4000 {
            return Err(invalid(format!("{field} is longer than 4000 characters")));
        }
    }
    for source in &provenance.sources {
        if source.sha256.len() != 64 || !source.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(invalid(format!(
                "sha256 {:?} of source {} is not 64 lowercase hex digits",
                source.sha256, source.path
            )));
        }
    }
    Ok(created)
}

/// The 16-byte document ID: a hash of what identifies the document, shaped
/// as an RFC 9562 version 8 UUID. Trailer `/ID` and `xmpMM:DocumentID`.
fn document_id(provenance: &Provenance, page_count: usize) -> [u8; 16] {
    let mut hasher = Sha256::new();
    for part in [
        b"scan2dms-efile-id".as_slice(),
        provenance.batch_id.as_bytes(),
        provenance.record_id.as_bytes(),
        provenance.created.as_bytes(),
    ] {
        hasher.update(part);
        hasher.update([0]);
    }
    hasher.update(provenance.document_no.to_be_bytes());
    hasher.update((page_count as u64).to_be_bytes());
    for source in &provenance.sources {
        hasher.update(source.path.as_bytes());
        hasher.update([0]);
        hasher.update(source.sha256.as_bytes());
        for page in &source.pages {
            hasher.update(page.to_be_bytes());
        }
    }
    let digest = hasher.finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id[6] = (id[6] & 0x0F) | 0x80;
    id[8] = (id[8] & 0x3F) | 0x80;
    id
}

fn uuid_text(id: &[u8; 16]) -> String {
    let hex = hex::encode(id);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// A PDF number with at most four decimals.
fn number(value: f64) -> String {
    let text = format!("{value:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0".to_string() } else { text.to_string() }
}

/// A PDF number with up to eight decimals, for fractions of the image.
fn number_fine(value: f64) -> String {
    let text = format!("{value:.8}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0".to_string() } else { text.to_string() }
}

/// A literal string for ASCII text.
fn literal_string(text: &str) -> String {
    let mut literal = String::from("(");
    for character in text.chars() {
        match character {
            '(' | ')' | '\\' => {
                literal.push('\\');
                literal.push(character);
            }
            c => literal.push(c),
        }
    }
    literal.push(')');
    literal
}

/// A text string: literal when printable ASCII, UTF-16BE with BOM otherwise.
fn text_string(text: &str) -> String {
    if text.chars().all(|c| (' '..='~').contains(&c)) {
        literal_string(text)
    } else {
        let units: String = text.encode_utf16().map(|unit| format!("{unit:04X}")).collect();
        format!("<FEFF{units}>")
    }
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(data.len() / 4 + 64), Compression::default());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// The output with its byte count, running hash and object offsets.
struct Sink<W: Write> {
    out: W,
    hasher: Sha256,
    written: u64,
    /// Offset of object `n` at index `n`; index 0 is the free head.
    offsets: Vec<u64>,
}

impl<W: Write> Sink<W> {
    fn new(out: W) -> Sink<W> {
        Sink { out, hasher: Sha256::new(), written: 0, offsets: vec![0] }
    }

    fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.hasher.update(bytes);
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn begin(&mut self, id: usize) -> io::Result<()> {
        debug_assert_eq!(id, self.offsets.len(), "objects are written in id order");
        self.offsets.push(self.written);
        self.raw(format!("{id} 0 obj\n").as_bytes())
    }

    fn object(&mut self, id: usize, body: &str) -> io::Result<()> {
        self.begin(id)?;
        self.raw(body.as_bytes())?;
        self.raw(b"\nendobj\n")
    }

    fn stream(&mut self, id: usize, entries: &str, data: &[u8]) -> io::Result<()> {
        self.begin(id)?;
        self.raw(format!("<< {entries} /Length {} >>\nstream\n", data.len()).as_bytes())?;
        self.raw(data)?;
        self.raw(b"\nendstream\nendobj\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_at_most_four_decimals_and_no_negative_zero() {
        assert_eq!(number(595.2), "595.2");
        assert_eq!(number(841.92), "841.92");
        assert_eq!(number(-0.00001), "0");
        assert_eq!(number(12.0), "12");
        assert_eq!(number(1.0 / 3.0), "0.3333");
    }

    #[test]
    fn text_strings_escape_or_switch_to_utf16() {
        assert_eq!(text_string("a(b)\\"), "(a\\(b\\)\\\\)");
        assert_eq!(text_string("Ä"), "<FEFF00C4>");
    }
}
