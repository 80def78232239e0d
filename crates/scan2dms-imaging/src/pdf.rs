//! Image-only PDF pages through lopdf: per page, the largest image XObject in
//! the page's resources is "the page".
//!
//! Key decisions: the image dictionary (Width, Height) is checked against the
//! pixel limit before the stream is decoded; Flate streams are inflated with a
//! hard output cap derived from the declared size; lopdf's loader caps object
//! and xref stream inflation too. Resolution is image pixels divided by the
//! page's MediaBox extent in inches (a page scanned at 300 dpi is an image of
//! 300 pixels per 72 points).
//!
//! Not done: rendering. Text, vector content and form XObjects are ignored, an
//! image that is not in the page's own `/XObject` resources is not found, and
//! JPXDecode, JBIG2Decode, two-dimensional Group 3 and chained filters are
//! reported as unsupported. Whole-file parsing: lopdf has no lazy loader, so
//! the object graph of the file is read (streams stay compressed until used).

use std::path::Path;

use image::GrayImage;
use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId};

use crate::tiff_file::{luma, rgb_to_gray};
use crate::{
    ColorKind, DecodedPage, ImageError, Limits, PageInfo, bilevel, check_pixels, malformed, raster, unsupported,
};

/// Cap on any object or xref stream lopdf inflates while loading.
const MAX_LOAD_DECOMPRESSED_BYTES: usize = 64 * 1024 * 1024;
/// Bound on the page tree walk up to the MediaBox.
const MAX_PARENT_DEPTH: usize = 64;

pub(crate) fn probe(path: &Path, limits: &Limits) -> Result<Vec<PageInfo>, ImageError> {
    let document = load(path)?;
    let page_ids = page_ids(path, &document, limits)?;
    let mut pages = Vec::with_capacity(page_ids.len());
    for (page_index, page_id) in page_ids.into_iter().enumerate() {
        let page_image = page_image(path, &document, page_id, page_index)?;
        check_pixels(page_image.info.width, page_image.info.height, limits)?;
        pages.push(page_image.info);
    }
    Ok(pages)
}

pub(crate) fn decode_page(path: &Path, page_index: usize, limits: &Limits) -> Result<DecodedPage, ImageError> {
    let document = load(path)?;
    let page_ids = page_ids(path, &document, limits)?;
    let Some(&page_id) = page_ids.get(page_index) else {
        return Err(ImageError::PageOutOfRange { page_index, page_count: page_ids.len() });
    };
    let page_image = page_image(path, &document, page_id, page_index)?;
    let PageImage { mut info, image_id, filters } = page_image;
    check_pixels(info.width, info.height, limits)?;
    let page = page_index + 1;
    let stream = document
        .get_object(image_id)
        .and_then(Object::as_stream)
        .map_err(|error| malformed(path, format_args!("pdf page {page}: image stream: {error}")))?;
    let dict = &stream.dict;
    let invert = decode_array_inverts(&document, dict);

    let mut gray = match filters.as_slice() {
        [filter] if filter == "DCTDecode" || filter == "DCT" => {
            raster::decode_jpeg_bytes(path, &stream.content, limits)?
        }
        [filter] if filter == "CCITTFaxDecode" || filter == "CCF" => {
            decode_ccitt(path, &document, dict, &stream.content, &info, limits, page)?
        }
        [] | [_] if filters.iter().all(|f| f == "FlateDecode" || f == "Fl") => {
            decode_samples(path, &document, stream, &info, page)?
        }
        other => {
            return Err(unsupported(path, format_args!("pdf page {page}: image filter {}", other.join(", "))));
        }
    };
    if invert {
        image::imageops::invert(&mut gray);
    }
    info.width = gray.width();
    info.height = gray.height();
    Ok(DecodedPage { info, gray })
}

struct PageImage {
    info: PageInfo,
    image_id: ObjectId,
    filters: Vec<String>,
}

fn load(path: &Path) -> Result<Document, ImageError> {
    let options = LoadOptions { max_decompressed_size: Some(MAX_LOAD_DECOMPRESSED_BYTES), ..LoadOptions::default() };
    Document::load_with_options(path, options).map_err(|error| match error {
        lopdf::Error::IO(source)
            if source.kind() == std::io::ErrorKind::NotFound
                || source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            crate::io_error(path, source)
        }
        other => malformed(path, format_args!("pdf: {other}")),
    })
}

fn page_ids(path: &Path, document: &Document, limits: &Limits) -> Result<Vec<ObjectId>, ImageError> {
    let max_pages = limits.max_pages_per_file as usize;
    let page_ids: Vec<ObjectId> = document.page_iter().take(max_pages + 1).collect();
    if page_ids.len() > max_pages {
        return Err(ImageError::TooManyPages { max_pages_per_file: limits.max_pages_per_file });
    }
    if page_ids.is_empty() {
        return Err(malformed(path, "pdf has no pages"));
    }
    Ok(page_ids)
}

fn page_image(path: &Path, document: &Document, page_id: ObjectId, page_index: usize) -> Result<PageImage, ImageError> {
    let page = page_index + 1;
    let images = document
        .get_page_images(page_id)
        .map_err(|error| malformed(path, format_args!("pdf page {page}: images: {error}")))?;
    let Some(largest) = images
        .iter()
        .filter(|image| image.width > 0 && image.height > 0)
        .max_by_key(|image| image.width.saturating_mul(image.height))
    else {
        return Err(unsupported(path, format_args!("pdf page {page} has no image (only image-only pdf is supported)")));
    };
    let (Ok(width), Ok(height)) = (u32::try_from(largest.width), u32::try_from(largest.height)) else {
        return Err(malformed(
            path,
            format_args!("pdf page {page}: image size {}x{} out of range", largest.width, largest.height),
        ));
    };
    let dict = largest.origin_dict;
    let filters = largest.filters.clone().unwrap_or_default();
    let bits = largest.bits_per_component.unwrap_or(8);
    let image_mask = dict.get(b"ImageMask").and_then(Object::as_bool).unwrap_or(false);
    let last_filter = filters.last().map(String::as_str).unwrap_or("");
    let is_ccitt = matches!(last_filter, "CCITTFaxDecode" | "CCF");
    let color = if image_mask || is_ccitt || bits == 1 {
        ColorKind::Bilevel
    } else {
        match components(document, dict) {
            Some(1) => ColorKind::Gray,
            Some(3) => ColorKind::Rgb,
            Some(_) => ColorKind::Other,
            None if matches!(largest.color_space.as_deref(), Some("Indexed" | "I")) => ColorKind::Rgb,
            None => ColorKind::Other,
        }
    };
    let compression = match last_filter {
        "DCTDecode" | "DCT" => "dct".to_owned(),
        "CCITTFaxDecode" | "CCF" => {
            if ccitt_k(document, dict) < 0 {
                "ccitt_g4".to_owned()
            } else {
                "ccitt_g3".to_owned()
            }
        }
        "FlateDecode" | "Fl" => "deflate".to_owned(),
        "" => "none".to_owned(),
        other => other.trim_end_matches("Decode").to_ascii_lowercase(),
    };
    let dpi = page_width_points(document, page_id).map(|points| (f64::from(width) * 72.0 / points) as f32);
    Ok(PageImage { info: PageInfo { width, height, dpi, color, compression }, image_id: largest.id, filters })
}

/// Width of the page in points, from the (inherited) MediaBox, taking
/// `/Rotate` into account so it matches the image's horizontal axis.
fn page_width_points(document: &Document, page_id: ObjectId) -> Option<f64> {
    let mut node = document.get_dictionary(page_id).ok()?;
    let mut media_box = None;
    let mut rotate = None;
    for _ in 0..MAX_PARENT_DEPTH {
        if media_box.is_none() {
            media_box = node.get_deref(b"MediaBox", document).and_then(Object::as_array).ok();
        }
        if rotate.is_none() {
            rotate = node.get_deref(b"Rotate", document).and_then(Object::as_i64).ok();
        }
        if media_box.is_some() && rotate.is_some() {
            break;
        }
        let Ok(parent) = node.get(b"Parent").and_then(Object::as_reference) else {
            break;
        };
        node = document.get_dictionary(parent).ok()?;
    }
    let numbers: Vec<f64> = media_box?
        .iter()
        .filter_map(|value| document.dereference(value).ok()?.1.as_float().ok())
        .map(f64::from)
        .collect();
    let [x0, y0, x1, y1] = numbers[..] else {
        return None;
    };
    let (width, height) = ((x1 - x0).abs(), (y1 - y0).abs());
    let extent = if rotate.unwrap_or(0).rem_euclid(180) == 90 { height } else { width };
    (extent.is_finite() && extent >= 1.0).then_some(extent)
}

/// Number of colour components of the image's colour space, when known.
fn components(document: &Document, dict: &Dictionary) -> Option<u32> {
    let color_space = dict.get_deref(b"ColorSpace", document).ok()?;
    match color_space {
        Object::Name(name) => name_components(name),
        Object::Array(array) => {
            let family = array.first()?.as_name().ok()?;
            match family {
                b"ICCBased" => {
                    let profile = document.dereference(array.get(1)?).ok()?.1.as_stream().ok()?;
                    let n = profile.dict.get(b"N").and_then(Object::as_i64).ok()?;
                    u32::try_from(n).ok()
                }
                b"CalGray" => Some(1),
                b"CalRGB" | b"Lab" => Some(3),
                _ => None,
            }
        }
        _ => None,
    }
}

fn name_components(name: &[u8]) -> Option<u32> {
    match name {
        b"DeviceGray" | b"G" | b"CalGray" => Some(1),
        b"DeviceRGB" | b"RGB" | b"CalRGB" => Some(3),
        b"DeviceCMYK" | b"CMYK" => Some(4),
        _ => None,
    }
}

/// The colour table of an `[/Indexed base hival lookup]` colour space as
/// RGB triples, one per index (gray and CMYK bases converted).
fn indexed_palette(document: &Document, dict: &Dictionary) -> Option<Vec<[u8; 3]>> {
    let array = dict.get_deref(b"ColorSpace", document).ok()?.as_array().ok()?;
    if !matches!(array.first()?.as_name().ok()?, b"Indexed" | b"I") {
        return None;
    }
    let base = match document.dereference(array.get(1)?).ok()?.1 {
        Object::Name(name) => name_components(name)?,
        Object::Array(base) => {
            let mut holder = Dictionary::new();
            holder.set("ColorSpace", Object::Array(base.clone()));
            components(document, &holder)?
        }
        _ => return None,
    };
    let entries = usize::try_from(array.get(2)?.as_i64().ok()?).ok()?.checked_add(1)?.min(256);
    let table = match document.dereference(array.get(3)?).ok()?.1 {
        Object::String(bytes, _) => bytes.clone(),
        Object::Stream(stream) => stream.decompressed_content().unwrap_or_else(|_| stream.content.clone()),
        _ => return None,
    };
    let base = base as usize;
    let colours = table
        .chunks_exact(base)
        .take(entries)
        .map(|entry| match entry {
            [gray] => [*gray; 3],
            [r, g, b] => [*r, *g, *b],
            [c, m, y, k] => {
                let k = 255 - u32::from(*k);
                let channel = |value: u8| ((255 - u32::from(value)) * k / 255) as u8;
                [channel(*c), channel(*m), channel(*y)]
            }
            _ => [0; 3],
        })
        .collect::<Vec<_>>();
    (!colours.is_empty()).then_some(colours)
}

/// Palette indices mapped through `palette`; an index beyond the table
/// takes its last entry, as PDF readers do.
fn apply_palette(indices: &[u8], palette: &[[u8; 3]]) -> impl Iterator<Item = [u8; 3]> {
    let last = palette.len().saturating_sub(1);
    indices.iter().map(move |&index| palette[usize::from(index).min(last)])
}

/// `/Decode [1 0]` on a one-component image swaps black and white.
fn decode_array_inverts(document: &Document, dict: &Dictionary) -> bool {
    let Ok(decode) = dict.get_deref(b"Decode", document).and_then(Object::as_array) else {
        return false;
    };
    let values: Vec<f32> = decode.iter().filter_map(|value| value.as_float().ok()).collect();
    matches!(values[..], [low, high] if low > high)
}

fn decode_parms<'a>(document: &'a Document, dict: &'a Dictionary) -> Option<&'a Dictionary> {
    match dict.get_deref(b"DecodeParms", document).ok()? {
        Object::Dictionary(parms) => Some(parms),
        Object::Array(array) => document.dereference(array.first()?).ok()?.1.as_dict().ok(),
        _ => None,
    }
}

fn ccitt_k(document: &Document, dict: &Dictionary) -> i64 {
    decode_parms(document, dict).and_then(|parms| parms.get(b"K").and_then(Object::as_i64).ok()).unwrap_or(0)
}

fn decode_ccitt(
    path: &Path,
    document: &Document,
    dict: &Dictionary,
    data: &[u8],
    info: &PageInfo,
    limits: &Limits,
    page: usize,
) -> Result<GrayImage, ImageError> {
    let parms = decode_parms(document, dict);
    let integer = |key: &[u8]| parms.and_then(|parms| parms.get(key).and_then(Object::as_i64).ok());
    let k = integer(b"K").unwrap_or(0);
    let columns = integer(b"Columns").unwrap_or(1728);
    let rows = integer(b"Rows").filter(|rows| *rows > 0).unwrap_or(i64::from(info.height));
    let black_is_1 = parms.and_then(|parms| parms.get(b"BlackIs1").and_then(Object::as_bool).ok()).unwrap_or(false);
    let (Ok(width), Ok(height)) = (u32::try_from(columns), u32::try_from(rows)) else {
        return Err(malformed(
            path,
            format_args!("pdf page {page}: ccitt columns {columns} or rows {rows} out of range"),
        ));
    };
    if width == 0 {
        return Err(malformed(path, format_args!("pdf page {page}: ccitt columns is zero")));
    }
    check_pixels(width, height, limits)?;
    // A fax white pixel becomes sample 0 when BlackIs1 is true, 1 otherwise;
    // for DeviceGray (and image masks) sample 0 is black.
    let white_value = if black_is_1 { 0 } else { 255 };
    let decoded = if k < 0 {
        bilevel::decode_g4(data, width, height, white_value)
    } else if k == 0 {
        bilevel::decode_g3(data, width, height, white_value)
    } else {
        return Err(unsupported(path, format_args!("pdf page {page}: two-dimensional ccitt group 3 (k={k})")));
    };
    decoded.ok_or_else(|| malformed(path, format_args!("pdf page {page}: invalid ccitt fax data")))
}

fn decode_samples(
    path: &Path,
    document: &Document,
    stream: &lopdf::Stream,
    info: &PageInfo,
    page: usize,
) -> Result<GrayImage, ImageError> {
    let dict = &stream.dict;
    let image_mask = dict.get(b"ImageMask").and_then(Object::as_bool).unwrap_or(false);
    let bits = if image_mask { 1 } else { dict.get(b"BitsPerComponent").and_then(Object::as_i64).unwrap_or(8) };
    let palette = if image_mask { None } else { indexed_palette(document, dict) };
    let samples = if image_mask || palette.is_some() { Some(1) } else { components(document, dict) };
    let Some(samples) = samples else {
        return Err(unsupported(path, format_args!("pdf page {page}: image colour space")));
    };
    let (width, height) = (info.width, info.height);
    let row_bytes = (u64::from(width) * u64::from(samples) * bits.max(0) as u64).div_ceil(8);
    let expected = row_bytes * u64::from(height);
    let expected_usize = usize::try_from(expected)
        .map_err(|_| malformed(path, format_args!("pdf page {page}: image too large for this platform")))?;
    let data = if stream.filters().map(|filters| filters.is_empty()).unwrap_or(true) {
        stream.content.clone()
    } else {
        stream
            .decompressed_content_with_limit(expected_usize.saturating_add(4096))
            .map_err(|error| malformed(path, format_args!("pdf page {page}: image stream: {error}")))?
    };
    if (data.len() as u64) < expected {
        return Err(malformed(
            path,
            format_args!("pdf page {page}: image stream has {} bytes, {expected} expected", data.len()),
        ));
    }
    if let Some(palette) = palette {
        let indices = bilevel::unpack_indices(&data, width, height, bits as u8)
            .ok_or_else(|| unsupported(path, format_args!("pdf page {page}: indexed image at {bits} bits")))?;
        let gray =
            apply_palette(&indices, &palette).map(|[r, g, b]| luma(u32::from(r), u32::from(g), u32::from(b))).collect();
        return GrayImage::from_raw(width, height, gray)
            .ok_or_else(|| malformed(path, format_args!("pdf page {page}: indexed image size")));
    }
    let gray = match (samples, bits) {
        (1, 1 | 2 | 4) => bilevel::unpack_rows(&data, width, height, bits as u8),
        (1, 8) => GrayImage::from_raw(width, height, data[..expected_usize].to_vec()),
        (1, 16) => {
            GrayImage::from_raw(width, height, data.chunks_exact(2).take(expected_usize / 2).map(|s| s[0]).collect())
        }
        (3, 8) => rgb_to_gray(&data, 3, width, height),
        (4, 8) => {
            let gray = data[..expected_usize]
                .chunks_exact(4)
                .map(|cmyk| {
                    let k = 255 - u32::from(cmyk[3]);
                    luma(
                        (255 - u32::from(cmyk[0])) * k / 255,
                        (255 - u32::from(cmyk[1])) * k / 255,
                        (255 - u32::from(cmyk[2])) * k / 255,
                    )
                })
                .collect();
            GrayImage::from_raw(width, height, gray)
        }
        _ => None,
    };
    gray.ok_or_else(|| unsupported(path, format_args!("pdf page {page}: {samples} components at {bits} bits")))
}

/// A colour page image that is not stored as JPEG (Flate or uncompressed
/// RGB samples, or an indexed image with a colour table) as RGB pixels, so
/// the e-file keeps its colour losslessly; `None` for anything else.
pub(crate) fn rgb_page(path: &Path, page_index: usize, limits: &Limits) -> Result<Option<image::RgbImage>, ImageError> {
    let document = load(path)?;
    let page_ids = page_ids(path, &document, limits)?;
    let Some(&page_id) = page_ids.get(page_index) else {
        return Err(ImageError::PageOutOfRange { page_index, page_count: page_ids.len() });
    };
    let PageImage { info, image_id, filters } = page_image(path, &document, page_id, page_index)?;
    check_pixels(info.width, info.height, limits)?;
    if info.color != ColorKind::Rgb || !filters.iter().all(|filter| filter == "FlateDecode" || filter == "Fl") {
        return Ok(None);
    }
    let page = page_index + 1;
    let stream = document
        .get_object(image_id)
        .and_then(Object::as_stream)
        .map_err(|error| malformed(path, format_args!("pdf page {page}: image stream: {error}")))?;
    let dict = &stream.dict;
    let bits = dict.get(b"BitsPerComponent").and_then(Object::as_i64).unwrap_or(8);
    let palette = indexed_palette(&document, dict);
    let samples: u64 = if palette.is_some() { 1 } else { 3 };
    let (width, height) = (info.width, info.height);
    let expected = (u64::from(width) * samples * bits.max(0) as u64).div_ceil(8) * u64::from(height);
    let expected = usize::try_from(expected)
        .map_err(|_| malformed(path, format_args!("pdf page {page}: image too large for this platform")))?;
    let data = if filters.is_empty() {
        stream.content.clone()
    } else {
        stream
            .decompressed_content_with_limit(expected.saturating_add(4096))
            .map_err(|error| malformed(path, format_args!("pdf page {page}: image stream: {error}")))?
    };
    let pixels: Option<Vec<u8>> = match (palette, bits) {
        (Some(palette), _) => bilevel::unpack_indices(&data, width, height, bits as u8)
            .map(|indices| apply_palette(&indices, &palette).flatten().collect()),
        (None, 8) => data.get(..expected).map(<[u8]>::to_vec),
        (None, _) => None,
    };
    Ok(pixels.and_then(|pixels| image::RgbImage::from_raw(width, height, pixels)))
}

/// The page image's stream when a single DCT or CCITT filter lets a new PDF
/// embed it unchanged.
pub(crate) fn encoded_image(
    path: &Path,
    page_index: usize,
    limits: &Limits,
) -> Result<Option<crate::embed::EncodedPage>, ImageError> {
    use crate::embed::EncodedPage;
    let document = load(path)?;
    let page_ids = page_ids(path, &document, limits)?;
    let Some(&page_id) = page_ids.get(page_index) else {
        return Err(ImageError::PageOutOfRange { page_index, page_count: page_ids.len() });
    };
    let PageImage { info, image_id, filters } = page_image(path, &document, page_id, page_index)?;
    let stream = document
        .get_object(image_id)
        .and_then(Object::as_stream)
        .map_err(|error| malformed(path, format_args!("pdf page {}: image stream: {error}", page_index + 1)))?;
    let dict = &stream.dict;
    if decode_array_inverts(&document, dict) {
        return Ok(None);
    }
    let data = stream.content.clone();
    Ok(match filters.as_slice() {
        [filter] if filter == "DCTDecode" || filter == "DCT" => match components(&document, dict) {
            Some(count @ (1 | 3)) => {
                Some(EncodedPage::Jpeg { data, width: info.width, height: info.height, components: count as u8 })
            }
            _ => None,
        },
        [filter] if filter == "CCITTFaxDecode" || filter == "CCF" => {
            let parms = decode_parms(&document, dict);
            let integer = |key: &[u8]| parms.and_then(|parms| parms.get(key).and_then(Object::as_i64).ok());
            let flag =
                |key: &[u8]| parms.and_then(|parms| parms.get(key).and_then(Object::as_bool).ok()).unwrap_or(false);
            let columns = integer(b"Columns").unwrap_or(1728);
            let k = integer(b"K").unwrap_or(0);
            (columns == i64::from(info.width) && k < 0).then(|| EncodedPage::CcittG4 {
                bands: vec![crate::embed::CcittBand { data, rows: info.height }],
                width: info.width,
                height: info.height,
                black_is_1: flag(b"BlackIs1"),
                encoded_byte_align: flag(b"EncodedByteAlign"),
            })
        }
        _ => None,
    })
}
