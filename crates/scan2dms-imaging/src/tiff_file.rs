//! TIFF pages through the `tiff` crate: walking the IFD chain for [`probe`],
//! and decoding exactly one page for [`decode_page`].
//!
//! Key decision: the `tiff` crate's own cycle detection ends looping IFD
//! chains (its `CycleInOffsets` error, reported as malformed), and our walk is
//! additionally bounded by `max_pages_per_file`. The crate's decoding buffer
//! limit is set from `max_pixels`, so even a lying strip layout cannot make it
//! allocate more than the pixel budget allows. CCITT Group 3 (which the crate
//! does not decode) is decoded here from the raw strips with the `fax` crate.
//!
//! Not done: palette images, planar (separate) colour planes beyond the first
//! plane, 2-D Group 3 (T4Options bit 0), old-style JPEG (compression 6).
//!
//! [`probe`]: crate::probe
//! [`decode_page`]: crate::decode_page

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use image::GrayImage;
use tiff::decoder::{Decoder, DecodingResult};
use tiff::tags::Tag;
use tiff::{ColorType, TiffError, TiffFormatError};

use crate::{
    ColorKind, DecodedPage, ImageError, Limits, PageInfo, bilevel, check_pixels, io_error, malformed, unsupported,
};

const COMPRESSION_CCITT_RLE: u16 = 2;
const COMPRESSION_CCITT_G3: u16 = 3;
const COMPRESSION_CCITT_G4: u16 = 4;
const TAG_T4_OPTIONS: u16 = 292;

type TiffDecoder = Decoder<BufReader<File>>;

pub(crate) fn probe(path: &Path, limits: &Limits) -> Result<Vec<PageInfo>, ImageError> {
    let mut decoder = open_decoder(path)?;
    let mut pages = Vec::new();
    loop {
        if pages.len() >= limits.max_pages_per_file as usize {
            return Err(ImageError::TooManyPages { max_pages_per_file: limits.max_pages_per_file });
        }
        let info = page_info(path, &mut decoder, pages.len())?;
        check_pixels(info.width, info.height, limits)?;
        pages.push(info);
        if !decoder.more_images() {
            break;
        }
        decoder.next_image().map_err(|error| tiff_error(path, pages.len(), error))?;
    }
    Ok(pages)
}

pub(crate) fn decode_page(path: &Path, page_index: usize, limits: &Limits) -> Result<DecodedPage, ImageError> {
    let mut decoder = open_decoder(path)?;
    // Walk the chain header by header; earlier pages' pixels are never read.
    for index in 0..page_index {
        if !decoder.more_images() {
            return Err(ImageError::PageOutOfRange { page_index, page_count: index + 1 });
        }
        decoder.next_image().map_err(|error| tiff_error(path, index + 1, error))?;
    }
    let info = page_info(path, &mut decoder, page_index)?;
    check_pixels(info.width, info.height, limits)?;

    let compression = tag_u16(path, &mut decoder, Tag::Compression, page_index)?.unwrap_or(1);
    let gray = match compression {
        COMPRESSION_CCITT_G3 => decode_ccitt(path, &mut decoder, &info, page_index, Ccitt::G3)?,
        COMPRESSION_CCITT_G4 => decode_ccitt(path, &mut decoder, &info, page_index, Ccitt::G4)?,
        COMPRESSION_CCITT_RLE => {
            return Err(unsupported(path, format_args!("tiff page {}: ccitt rle (compression 2)", page_index + 1)));
        }
        _ => {
            let mut tiff_limits = tiff::decoder::Limits::default();
            // At most 8 bytes per pixel (RGBA with 16-bit samples) for a page
            // that passed the pixel check.
            tiff_limits.decoding_buffer_size =
                usize::try_from(limits.max_pixels.saturating_mul(8)).unwrap_or(usize::MAX);
            decoder = decoder.with_limits(tiff_limits);
            let color_type = decoder.colortype().map_err(|error| tiff_error(path, page_index, error))?;
            let result = decoder.read_image().map_err(|error| tiff_error(path, page_index, error))?;
            to_gray(result, color_type, info.width, info.height).ok_or_else(|| {
                unsupported(path, format_args!("tiff page {}: cannot convert {color_type:?} to gray", page_index + 1))
            })?
        }
    };
    Ok(DecodedPage { info, gray })
}

fn open_decoder(path: &Path) -> Result<TiffDecoder, ImageError> {
    let file = crate::open(path)?;
    Decoder::new(BufReader::new(file)).map_err(|error| tiff_error(path, 0, error))
}

fn page_info(path: &Path, decoder: &mut TiffDecoder, page_index: usize) -> Result<PageInfo, ImageError> {
    let (width, height) = decoder.dimensions().map_err(|error| tiff_error(path, page_index, error))?;
    if width == 0 || height == 0 {
        return Err(malformed(path, format_args!("tiff page {}: zero width or height", page_index + 1)));
    }
    let color = match decoder.colortype() {
        Ok(ColorType::Gray(1)) => ColorKind::Bilevel,
        Ok(ColorType::Gray(_) | ColorType::GrayA(_)) => ColorKind::Gray,
        Ok(ColorType::RGB(_) | ColorType::RGBA(_) | ColorType::YCbCr(_) | ColorType::Palette(_)) => ColorKind::Rgb,
        Ok(_) | Err(_) => ColorKind::Other,
    };
    let compression_code = tag_u16(path, decoder, Tag::Compression, page_index)?.unwrap_or(1);
    let x_resolution = decoder.find_tag(Tag::XResolution).ok().flatten().and_then(rational_value);
    let resolution_unit = tag_u16(path, decoder, Tag::ResolutionUnit, page_index)?.unwrap_or(2);
    let dpi = x_resolution.filter(|x| x.is_finite() && *x > 0.0).and_then(|x| match resolution_unit {
        2 => Some(x as f32),
        3 => Some((x * 2.54) as f32),
        _ => None,
    });
    Ok(PageInfo { width, height, dpi, color, compression: compression_name(compression_code) })
}

/// A TIFF RATIONAL (or, leniently, any number) as `f64`.
fn rational_value(value: tiff::decoder::ifd::Value) -> Option<f64> {
    use tiff::decoder::ifd::Value;
    match value {
        Value::Rational(numerator, denominator) if denominator != 0 => {
            Some(f64::from(numerator) / f64::from(denominator))
        }
        Value::SRational(numerator, denominator) if denominator != 0 => {
            Some(f64::from(numerator) / f64::from(denominator))
        }
        Value::Float(value) => Some(f64::from(value)),
        Value::Double(value) => Some(value),
        Value::Short(value) => Some(f64::from(value)),
        Value::Unsigned(value) => Some(f64::from(value)),
        Value::List(values) => values.into_iter().next().and_then(rational_value),
        _ => None,
    }
}

fn compression_name(code: u16) -> String {
    match code {
        1 => "none".to_owned(),
        2 => "ccitt_rle".to_owned(),
        3 => "ccitt_g3".to_owned(),
        4 => "ccitt_g4".to_owned(),
        5 => "lzw".to_owned(),
        6 => "ojpeg".to_owned(),
        7 => "jpeg".to_owned(),
        8 | 32946 => "deflate".to_owned(),
        32773 => "packbits".to_owned(),
        other => format!("tiff_{other}"),
    }
}

fn tag_u16(path: &Path, decoder: &mut TiffDecoder, tag: Tag, page_index: usize) -> Result<Option<u16>, ImageError> {
    decoder.find_tag_unsigned::<u16>(tag).map_err(|error| tiff_error(path, page_index, error))
}

fn tiff_error(path: &Path, page_index: usize, error: TiffError) -> ImageError {
    let page = page_index + 1;
    match error {
        TiffError::IoError(source)
            if source.kind() != std::io::ErrorKind::UnexpectedEof
                && source.kind() != std::io::ErrorKind::InvalidData
                && source.kind() != std::io::ErrorKind::Other =>
        {
            io_error(path, source)
        }
        TiffError::UnsupportedError(detail) => unsupported(path, format_args!("tiff page {page}: {detail}")),
        TiffError::FormatError(TiffFormatError::CycleInOffsets) => {
            malformed(path, format_args!("tiff ifd chain loops after page {page}"))
        }
        TiffError::LimitsExceeded => malformed(path, format_args!("tiff page {page}: decoder limits exceeded")),
        other => malformed(path, format_args!("tiff page {page}: {other}")),
    }
}

/// Turns the `tiff` crate's output into 8-bit gray, 0 = black. The crate has
/// already applied `WhiteIsZero` inversion, so every gray result is
/// min-is-black.
fn to_gray(result: DecodingResult, color_type: ColorType, width: u32, height: u32) -> Option<GrayImage> {
    let pixels = width as usize * height as usize;
    match (result, color_type) {
        (DecodingResult::U8(data), ColorType::Gray(bits @ (1 | 2 | 4))) => {
            bilevel::unpack_rows(&data, width, height, bits)
        }
        (DecodingResult::U8(mut data), ColorType::Gray(8)) => {
            data.truncate(pixels);
            GrayImage::from_raw(width, height, data)
        }
        // Signed 8-bit gray: shift -128..=127 to 0..=255.
        (DecodingResult::I8(data), ColorType::Gray(8)) => {
            let data = data.iter().take(pixels).map(|v| (*v as u8) ^ 0x80).collect();
            GrayImage::from_raw(width, height, data)
        }
        (DecodingResult::U16(data), ColorType::Gray(16)) => {
            let data = data.iter().take(pixels).map(|v| (v >> 8) as u8).collect();
            GrayImage::from_raw(width, height, data)
        }
        (DecodingResult::U8(data), ColorType::GrayA(8)) => first_sample(&data, 2, width, height),
        (DecodingResult::U8(data), ColorType::Multiband { bit_depth: 8, num_samples }) => {
            first_sample(&data, usize::from(num_samples), width, height)
        }
        // The Y of YCbCr is the luma already.
        (DecodingResult::U8(data), ColorType::YCbCr(8)) => first_sample(&data, 3, width, height),
        (DecodingResult::U8(data), ColorType::RGB(8)) => rgb_to_gray(&data, 3, width, height),
        (DecodingResult::U8(data), ColorType::RGBA(8)) => rgb_to_gray(&data, 4, width, height),
        (DecodingResult::U16(data), ColorType::RGB(16)) => {
            let bytes: Vec<u8> = data.iter().map(|v| (v >> 8) as u8).collect();
            rgb_to_gray(&bytes, 3, width, height)
        }
        (DecodingResult::U8(data), ColorType::CMYK(8)) => {
            let needed = pixels.checked_mul(4)?;
            let data = data.get(..needed)?;
            let gray = data
                .chunks_exact(4)
                .map(|cmyk| {
                    let k = 255 - u32::from(cmyk[3]);
                    let r = (255 - u32::from(cmyk[0])) * k / 255;
                    let g = (255 - u32::from(cmyk[1])) * k / 255;
                    let b = (255 - u32::from(cmyk[2])) * k / 255;
                    luma(r, g, b)
                })
                .collect();
            GrayImage::from_raw(width, height, gray)
        }
        _ => None,
    }
}

fn first_sample(data: &[u8], samples: usize, width: u32, height: u32) -> Option<GrayImage> {
    let needed = (width as usize * height as usize).checked_mul(samples)?;
    let data = data.get(..needed)?;
    GrayImage::from_raw(width, height, data.chunks_exact(samples).map(|px| px[0]).collect())
}

pub(crate) fn rgb_to_gray(data: &[u8], samples: usize, width: u32, height: u32) -> Option<GrayImage> {
    let needed = (width as usize * height as usize).checked_mul(samples)?;
    let data = data.get(..needed)?;
    let gray =
        data.chunks_exact(samples).map(|px| luma(u32::from(px[0]), u32::from(px[1]), u32::from(px[2]))).collect();
    GrayImage::from_raw(width, height, gray)
}

/// Rec. 601 luma of 8-bit RGB.
pub(crate) fn luma(r: u32, g: u32, b: u32) -> u8 {
    ((r * 299 + g * 587 + b * 114 + 500) / 1000).min(255) as u8
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ccitt {
    G3,
    G4,
}

/// CCITT fax pages from their raw strips with the `fax` crate, straight into
/// 8-bit gray. The `tiff` crate does not decode Group 3, and its Group 4
/// reader packs every pixel through an iterator and a byte-wise reader:
/// profiled, it took most of the time of validating a delivery of G4 pages
/// and a tenth of the time of reading them, so both go this way.
fn decode_ccitt(
    path: &Path,
    decoder: &mut TiffDecoder,
    info: &PageInfo,
    page_index: usize,
    kind: Ccitt,
) -> Result<GrayImage, ImageError> {
    let page = page_index + 1;
    if kind == Ccitt::G3 {
        let t4_options = decoder
            .find_tag_unsigned::<u32>(Tag::from_u16_exhaustive(TAG_T4_OPTIONS))
            .map_err(|error| tiff_error(path, page_index, error))?
            .unwrap_or(0);
        if t4_options & 1 != 0 {
            return Err(unsupported(path, format_args!("tiff page {page}: two-dimensional ccitt group 3")));
        }
    }
    let fill_order = tag_u16(path, decoder, Tag::FillOrder, page_index)?.unwrap_or(1);
    let photometric = tag_u16(path, decoder, Tag::PhotometricInterpretation, page_index)?.unwrap_or(0);
    // libtiff's convention: a fax white run is a 0 bit, then the photometric
    // interpretation says what 0 means.
    let white_value = if photometric == 0 { 255 } else { 0 };
    let offsets = tag_u64_vec(path, decoder, Tag::StripOffsets, page_index)?;
    let byte_counts = tag_u64_vec(path, decoder, Tag::StripByteCounts, page_index)?;
    let rows_per_strip = decoder
        .find_tag_unsigned::<u32>(Tag::RowsPerStrip)
        .map_err(|error| tiff_error(path, page_index, error))?
        .unwrap_or(info.height)
        .clamp(1, info.height);
    if offsets.len() != byte_counts.len() || offsets.is_empty() {
        return Err(malformed(path, format_args!("tiff page {page}: strip offsets and byte counts differ")));
    }

    let mut file = crate::open(path)?;
    let file_length = file.metadata().map_err(|source| io_error(path, source))?.len();
    let mut gray = GrayImage::from_pixel(info.width, info.height, image::Luma([white_value]));
    let mut y0 = 0u32;
    for (offset, byte_count) in offsets.iter().zip(&byte_counts) {
        if y0 >= info.height {
            break;
        }
        let end = offset.checked_add(*byte_count).filter(|end| *end <= file_length);
        if end.is_none() {
            return Err(malformed(path, format_args!("tiff page {page}: strip beyond end of file")));
        }
        let mut data = vec![0u8; *byte_count as usize];
        file.seek(SeekFrom::Start(*offset)).map_err(|source| io_error(path, source))?;
        file.read_exact(&mut data).map_err(|source| io_error(path, source))?;
        if fill_order == 2 {
            bilevel::reverse_bits_in_place(&mut data);
        }
        let rows = rows_per_strip.min(info.height - y0);
        match kind {
            Ccitt::G3 => {
                let strip = bilevel::decode_g3(&data, info.width, rows, white_value)
                    .ok_or_else(|| malformed(path, format_args!("tiff page {page}: invalid ccitt group 3 data")))?;
                image::imageops::replace(&mut gray, &strip, 0, i64::from(y0));
            }
            Ccitt::G4 => {
                let width = info.width as usize;
                let pixels: &mut [u8] = &mut gray;
                let band = &mut pixels[y0 as usize * width..(y0 + rows) as usize * width];
                bilevel::decode_g4_strip(&data, info.width, band, white_value).ok_or_else(|| {
                    malformed(path, format_args!("tiff page {page}: invalid ccitt group 4 data in rows {y0}.."))
                })?;
            }
        }
        y0 += rows;
    }
    if y0 < info.height {
        return Err(malformed(path, format_args!("tiff page {page}: strips cover {y0} of {} rows", info.height)));
    }
    Ok(gray)
}

fn tag_u64_vec(path: &Path, decoder: &mut TiffDecoder, tag: Tag, page_index: usize) -> Result<Vec<u64>, ImageError> {
    decoder.get_tag_u64_vec(tag).map_err(|error| tiff_error(path, page_index, error))
}

/// The raw strips of a CCITT G4 page in the usual bit order (FillOrder 1),
/// for embedding unchanged; `None` for any other compression.
pub(crate) fn g4_bands(path: &Path, page_index: usize) -> Result<Option<crate::embed::EncodedPage>, ImageError> {
    let page = page_index + 1;
    let mut decoder = open_decoder(path)?;
    for index in 0..page_index {
        if !decoder.more_images() {
            return Err(ImageError::PageOutOfRange { page_index, page_count: index + 1 });
        }
        decoder.next_image().map_err(|error| tiff_error(path, index + 1, error))?;
    }
    let (width, height) = decoder.dimensions().map_err(|error| tiff_error(path, page_index, error))?;
    let compression = tag_u16(path, &mut decoder, Tag::Compression, page_index)?.unwrap_or(1);
    let fill_order = tag_u16(path, &mut decoder, Tag::FillOrder, page_index)?.unwrap_or(1);
    if compression != COMPRESSION_CCITT_G4 || fill_order != 1 || width == 0 || height == 0 {
        return Ok(None);
    }
    // libtiff's convention, as in decode_g3: a fax white run is a 0 bit and
    // the photometric interpretation says what 0 means. With BlackIsZero
    // (1) the fax "white" runs are the dark pixels, which is PDF's BlackIs1.
    let photometric = tag_u16(path, &mut decoder, Tag::PhotometricInterpretation, page_index)?.unwrap_or(0);
    let offsets = tag_u64_vec(path, &mut decoder, Tag::StripOffsets, page_index)?;
    let byte_counts = tag_u64_vec(path, &mut decoder, Tag::StripByteCounts, page_index)?;
    let rows_per_strip = decoder
        .find_tag_unsigned::<u32>(Tag::RowsPerStrip)
        .map_err(|error| tiff_error(path, page_index, error))?
        .unwrap_or(height)
        .clamp(1, height);
    if offsets.len() != byte_counts.len() || offsets.len() as u64 != u64::from(height.div_ceil(rows_per_strip)) {
        return Err(malformed(path, format_args!("tiff page {page}: strip layout does not cover the page")));
    }
    let mut file = crate::open(path)?;
    let file_length = file.metadata().map_err(|source| io_error(path, source))?.len();
    let mut bands = Vec::with_capacity(offsets.len());
    let mut rows_left = height;
    for (offset, byte_count) in offsets.iter().zip(&byte_counts) {
        if offset.checked_add(*byte_count).is_none_or(|end| end > file_length) {
            return Err(malformed(path, format_args!("tiff page {page}: strip beyond end of file")));
        }
        let mut data = vec![0; usize::try_from(*byte_count).unwrap_or(0)];
        file.seek(SeekFrom::Start(*offset)).map_err(|source| io_error(path, source))?;
        file.read_exact(&mut data).map_err(|source| io_error(path, source))?;
        let rows = rows_per_strip.min(rows_left);
        rows_left -= rows;
        bands.push(crate::embed::CcittBand { data, rows });
    }
    Ok(Some(crate::embed::EncodedPage::CcittG4 {
        bands,
        width,
        height,
        black_is_1: photometric == 1,
        encoded_byte_align: false,
    }))
}

/// An 8-bit RGB (or RGBA, alpha dropped) page as RGB pixels; `None` for any
/// other sample layout.
pub(crate) fn rgb_page(path: &Path, page_index: usize, limits: &Limits) -> Result<Option<image::RgbImage>, ImageError> {
    let mut decoder = open_decoder(path)?;
    for index in 0..page_index {
        if !decoder.more_images() {
            return Err(ImageError::PageOutOfRange { page_index, page_count: index + 1 });
        }
        decoder.next_image().map_err(|error| tiff_error(path, index + 1, error))?;
    }
    let (width, height) = decoder.dimensions().map_err(|error| tiff_error(path, page_index, error))?;
    check_pixels(width, height, limits)?;
    let samples = match decoder.colortype().map_err(|error| tiff_error(path, page_index, error))? {
        ColorType::RGB(8) => 3,
        ColorType::RGBA(8) => 4,
        _ => return Ok(None),
    };
    let mut tiff_limits = tiff::decoder::Limits::default();
    tiff_limits.decoding_buffer_size = usize::try_from(limits.max_pixels.saturating_mul(4)).unwrap_or(usize::MAX);
    decoder = decoder.with_limits(tiff_limits);
    let DecodingResult::U8(data) = decoder.read_image().map_err(|error| tiff_error(path, page_index, error))? else {
        return Ok(None);
    };
    let pixels: Vec<u8> = data.chunks_exact(samples).flat_map(|pixel| pixel[..3].iter().copied()).collect();
    Ok(image::RgbImage::from_raw(width, height, pixels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/images").join(name)
    }

    /// The strip decoder gives the very pixels the `tiff` crate's own
    /// (slow) Group 4 reader gives, on one- and two-page files.
    #[test]
    fn group4_strips_decode_as_the_tiff_crate_does() {
        for (name, page_index) in [("g4-300dpi.tif", 0), ("multipage-g4.tif", 0), ("multipage-g4.tif", 1)] {
            let path = fixture(name);
            let ours = crate::decode_page(&path, page_index, &Limits::default()).expect("decode").gray;
            let mut decoder = open_decoder(&path).expect("open");
            for _ in 0..page_index {
                decoder.next_image().expect("next page");
            }
            let color_type = decoder.colortype().expect("color type");
            let (width, height) = decoder.dimensions().expect("dimensions");
            let theirs = to_gray(decoder.read_image().expect("read"), color_type, width, height).expect("gray");
            assert_eq!(ours.dimensions(), theirs.dimensions(), "{name} page {page_index}");
            let differing = ours.as_raw().iter().zip(theirs.as_raw()).filter(|(a, b)| a != b).count();
            assert_eq!(differing, 0, "{name} page {page_index}: {differing} pixels differ");
        }
    }
}
