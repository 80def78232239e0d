//! Single-page PNG and JPEG files: a small header reader of our own for
//! [`probe`] (dimensions, colour, resolution from PNG `pHYs`, JPEG JFIF or
//! EXIF), and the `image` crate for decoding.
//!
//! Key decision: the headers are read by hand because `image` exposes neither
//! `pHYs` nor JFIF density, and because reading a few chunks/markers is cheap
//! and needs no pixel buffer. The decoder is only started after the declared
//! size passed the pixel check, and it gets `image::Limits` derived from the
//! same budget, so a file whose header lies to us still cannot allocate more.
//!
//! Not done: ICC colour management, EXIF orientation (orientation is detected
//! from content later), interlacing concerns beyond what `image` handles.
//!
//! [`probe`]: crate::probe

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::{ColorKind, DecodedPage, Format, ImageError, Limits, PageInfo, check_pixels, malformed};

/// Bound on the PNG chunks and JPEG markers examined before the image data.
const MAX_HEADER_SEGMENTS: usize = 10_000;

pub(crate) fn probe_png(path: &Path, limits: &Limits) -> Result<PageInfo, ImageError> {
    let info = png_info(path)?;
    check_pixels(info.width, info.height, limits)?;
    Ok(info)
}

pub(crate) fn probe_jpeg(path: &Path, limits: &Limits) -> Result<PageInfo, ImageError> {
    let info = jpeg_info(path)?;
    check_pixels(info.width, info.height, limits)?;
    Ok(info)
}

pub(crate) fn decode(path: &Path, format: Format, limits: &Limits) -> Result<DecodedPage, ImageError> {
    let info = match format {
        Format::Png => png_info(path)?,
        _ => jpeg_info(path)?,
    };
    check_pixels(info.width, info.height, limits)?;
    let image_format = match format {
        Format::Png => image::ImageFormat::Png,
        _ => image::ImageFormat::Jpeg,
    };
    let file = crate::open(path)?;
    let mut reader = image::ImageReader::with_format(BufReader::new(file), image_format);
    reader.limits(image_limits(limits));
    let decoded = reader.decode().map_err(|error| image_error(path, error))?;
    if (decoded.width(), decoded.height()) != (info.width, info.height) {
        return Err(malformed(
            path,
            format_args!(
                "decoded size {}x{} differs from the header's {}x{}",
                decoded.width(),
                decoded.height(),
                info.width,
                info.height
            ),
        ));
    }
    Ok(DecodedPage { info, gray: decoded.into_luma8() })
}

/// Decodes an in-memory JPEG (a PDF `DCTDecode` stream) within the limits.
pub(crate) fn decode_jpeg_bytes(path: &Path, data: &[u8], limits: &Limits) -> Result<image::GrayImage, ImageError> {
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(data), image::ImageFormat::Jpeg);
    reader.limits(image_limits(limits));
    let decoded = reader.decode().map_err(|error| image_error(path, error))?;
    Ok(decoded.into_luma8())
}

pub(crate) fn image_limits(limits: &Limits) -> image::Limits {
    let side = u32::try_from(limits.max_pixels).unwrap_or(u32::MAX);
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(side);
    image_limits.max_image_height = Some(side);
    // RGBA with 16-bit samples, plus the gray copy.
    image_limits.max_alloc = Some(limits.max_pixels.saturating_mul(9));
    image_limits
}

fn image_error(path: &Path, error: image::ImageError) -> ImageError {
    match error {
        image::ImageError::Limits(detail) => malformed(path, format_args!("decoder limits exceeded: {detail}")),
        image::ImageError::Unsupported(detail) => crate::unsupported(path, detail),
        other => malformed(path, other),
    }
}

fn png_info(path: &Path) -> Result<PageInfo, ImageError> {
    let file = crate::open(path)?;
    let mut reader = BufReader::new(file);
    let mut signature = [0u8; 8];
    read_exact(path, &mut reader, &mut signature, "png signature")?;
    let mut header: Option<(u32, u32, u8, u8)> = None;
    let mut dpi = None;
    for _ in 0..MAX_HEADER_SEGMENTS {
        let mut chunk_head = [0u8; 8];
        read_exact(path, &mut reader, &mut chunk_head, "png chunk header")?;
        let length = u32::from_be_bytes([chunk_head[0], chunk_head[1], chunk_head[2], chunk_head[3]]);
        let kind = [chunk_head[4], chunk_head[5], chunk_head[6], chunk_head[7]];
        match &kind {
            b"IHDR" | b"pHYs" if length <= 64 => {
                let mut data = vec![0u8; length as usize];
                read_exact(path, &mut reader, &mut data, "png chunk")?;
                skip(path, &mut reader, 4)?;
                if &kind == b"IHDR" {
                    if data.len() != 13 {
                        return Err(malformed(path, "png ihdr chunk has the wrong length"));
                    }
                    let width = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
                    let height = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
                    header = Some((width, height, data[8], data[9]));
                } else if data.len() == 9 && data[8] == 1 {
                    let pixels_per_metre = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
                    if pixels_per_metre > 0 {
                        dpi = Some((f64::from(pixels_per_metre) * 0.0254) as f32);
                    }
                }
            }
            b"IDAT" | b"IEND" => break,
            _ => skip(path, &mut reader, i64::from(length) + 4)?,
        }
        if header.is_none() {
            // IHDR must be the first chunk.
            return Err(malformed(path, "png does not start with an ihdr chunk"));
        }
    }
    let Some((width, height, bit_depth, color_type)) = header else {
        return Err(malformed(path, "png has no ihdr chunk"));
    };
    if width == 0 || height == 0 {
        return Err(malformed(path, "png declares zero width or height"));
    }
    let color = match (color_type, bit_depth) {
        (0, 1) => ColorKind::Bilevel,
        (0 | 4, _) => ColorKind::Gray,
        (2 | 3 | 6, _) => ColorKind::Rgb,
        _ => {
            return Err(malformed(path, format_args!("png color type {color_type} is invalid")));
        }
    };
    Ok(PageInfo { width, height, dpi, color, compression: "png".to_owned() })
}

fn jpeg_info(path: &Path) -> Result<PageInfo, ImageError> {
    let file = crate::open(path)?;
    let mut reader = BufReader::new(file);
    let mut soi = [0u8; 2];
    read_exact(path, &mut reader, &mut soi, "jpeg start marker")?;
    let mut jfif_dpi = None;
    let mut exif_dpi = None;
    for _ in 0..MAX_HEADER_SEGMENTS {
        let mut byte = [0u8; 1];
        read_exact(path, &mut reader, &mut byte, "jpeg marker")?;
        if byte[0] != 0xFF {
            return Err(malformed(path, "jpeg marker expected"));
        }
        let mut marker = 0xFF;
        while marker == 0xFF {
            read_exact(path, &mut reader, &mut byte, "jpeg marker")?;
            marker = byte[0];
        }
        if matches!(marker, 0x01 | 0xD0..=0xD7) {
            continue;
        }
        if matches!(marker, 0xD9 | 0xDA) {
            return Err(malformed(path, "jpeg has no frame header before its scan"));
        }
        let mut length_bytes = [0u8; 2];
        read_exact(path, &mut reader, &mut length_bytes, "jpeg segment length")?;
        let length = u16::from_be_bytes(length_bytes);
        if length < 2 {
            return Err(malformed(path, "jpeg segment length below 2"));
        }
        let mut data = vec![0u8; usize::from(length) - 2];
        read_exact(path, &mut reader, &mut data, "jpeg segment")?;
        match marker {
            0xE0 if data.starts_with(b"JFIF\0") && data.len() >= 12 => {
                let units = data[7];
                let x_density = f32::from(u16::from_be_bytes([data[8], data[9]]));
                jfif_dpi = match units {
                    1 if x_density > 0.0 => Some(x_density),
                    2 if x_density > 0.0 => Some(x_density * 2.54),
                    _ => None,
                };
            }
            0xE1 if data.starts_with(b"Exif\0\0") => exif_dpi = exif_x_dpi(&data[6..]),
            // Start of frame: baseline, extended, progressive, lossless,
            // arithmetic; not DHT (C4), JPG (C8) or DAC (CC).
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if data.len() < 6 {
                    return Err(malformed(path, "jpeg frame header too short"));
                }
                let height = u32::from(u16::from_be_bytes([data[1], data[2]]));
                let width = u32::from(u16::from_be_bytes([data[3], data[4]]));
                if width == 0 || height == 0 {
                    return Err(malformed(path, "jpeg declares zero width or height"));
                }
                let color = match data[5] {
                    1 => ColorKind::Gray,
                    3 => ColorKind::Rgb,
                    _ => ColorKind::Other,
                };
                return Ok(PageInfo {
                    width,
                    height,
                    dpi: jfif_dpi.or(exif_dpi),
                    color,
                    compression: "jpeg".to_owned(),
                });
            }
            _ => {}
        }
    }
    Err(malformed(path, "jpeg has too many segments before its frame header"))
}

/// XResolution of IFD0 of an EXIF block (a TIFF structure), in dpi.
fn exif_x_dpi(tiff: &[u8]) -> Option<f32> {
    let little = match tiff.get(..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let bytes = [*tiff.get(at)?, *tiff.get(at + 1)?];
        Some(if little { u16::from_le_bytes(bytes) } else { u16::from_be_bytes(bytes) })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let bytes = [*tiff.get(at)?, *tiff.get(at + 1)?, *tiff.get(at + 2)?, *tiff.get(at + 3)?];
        Some(if little { u32::from_le_bytes(bytes) } else { u32::from_be_bytes(bytes) })
    };
    let ifd = u32_at(4)? as usize;
    let entries = u16_at(ifd)?;
    let mut resolution = None;
    let mut unit = 2;
    for index in 0..usize::from(entries) {
        let entry = ifd + 2 + index * 12;
        match u16_at(entry)? {
            282 => {
                let offset = u32_at(entry + 8)? as usize;
                let (numerator, denominator) = (u32_at(offset)?, u32_at(offset + 4)?);
                if denominator > 0 && numerator > 0 {
                    resolution = Some(numerator as f32 / denominator as f32);
                }
            }
            296 => unit = u16_at(entry + 8)?,
            _ => {}
        }
    }
    match unit {
        2 => resolution,
        3 => resolution.map(|r| r * 2.54),
        _ => None,
    }
}

fn read_exact(path: &Path, reader: &mut impl Read, buffer: &mut [u8], what: &str) -> Result<(), ImageError> {
    reader.read_exact(buffer).map_err(|error| match error.kind() {
        std::io::ErrorKind::UnexpectedEof => malformed(path, format_args!("truncated at the {what}")),
        _ => crate::io_error(path, error),
    })
}

fn skip(path: &Path, reader: &mut (impl Read + Seek), count: i64) -> Result<(), ImageError> {
    reader.seek(SeekFrom::Current(count)).map(|_| ()).map_err(|error| crate::io_error(path, error))
}
