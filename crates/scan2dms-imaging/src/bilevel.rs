//! Bitonal helpers: unpacking packed low-bit-depth rows and decoding raw
//! CCITT fax streams (PDF `CCITTFaxDecode`, TIFF Group 3) with the `fax`
//! crate, straight into 8-bit gray.
//!
//! The caller has checked the pixel count; these functions allocate exactly
//! `width * height` bytes and never more. They do not know about photometric
//! interpretation: the caller says which gray value a fax "white" run gets.

use image::GrayImage;

/// Expands rows of `bits`-per-sample gray (1, 2 or 4 bits, MSB first, each row
/// padded to a whole byte) into 8-bit gray, scaling the maximum to 255.
/// Returns `None` when `data` is too short.
/// Unpacks rows of 1, 2, 4 or 8-bit samples (rows padded to whole bytes)
/// into one byte per pixel, unscaled: palette indices. `None` when the data
/// is short or the depth is not one of those.
pub(crate) fn unpack_indices(data: &[u8], width: u32, height: u32, bits: u8) -> Option<Vec<u8>> {
    let bits = usize::from(bits);
    if !matches!(bits, 1 | 2 | 4 | 8) {
        return None;
    }
    let width = width as usize;
    let row_bytes = (width * bits).div_ceil(8);
    let rows = data.get(..row_bytes.checked_mul(height as usize)?)?;
    let mask = ((1u16 << bits) - 1) as u8;
    let mut indices = Vec::with_capacity(width * height as usize);
    for row in rows.chunks_exact(row_bytes) {
        indices.extend((0..width).map(|x| {
            let bit = x * bits;
            (row[bit / 8] >> (8 - bits - bit % 8)) & mask
        }));
    }
    Some(indices)
}

pub(crate) fn unpack_rows(data: &[u8], width: u32, height: u32, bits: u8) -> Option<GrayImage> {
    let bits = u32::from(bits);
    if !matches!(bits, 1 | 2 | 4) {
        return None;
    }
    let row_bytes = (width as usize * bits as usize).div_ceil(8);
    if data.len() < row_bytes.checked_mul(height as usize)? {
        return None;
    }
    let max = (1u32 << bits) - 1;
    let per_byte = (8 / bits) as usize;
    // One table entry per byte value: its samples already scaled to 0..=255.
    // This is the hot loop of every bitonal page, so it works on whole bytes
    // and raw rows instead of pixel by pixel.
    let mut table = [[0u8; 8]; 256];
    for (value, samples) in table.iter_mut().enumerate() {
        for (index, sample) in samples.iter_mut().take(per_byte).enumerate() {
            let shift = 8 - bits * (index as u32 + 1);
            *sample = (((value as u32 >> shift) & max) * 255 / max) as u8;
        }
    }
    let width = width as usize;
    let mut pixels = vec![0u8; width * height as usize];
    for (row, out) in data.chunks_exact(row_bytes).zip(pixels.chunks_exact_mut(width)) {
        for (out_chunk, &byte) in out.chunks_mut(per_byte).zip(row) {
            out_chunk.copy_from_slice(&table[usize::from(byte)][..out_chunk.len()]);
        }
    }
    GrayImage::from_raw(width as u32, height, pixels)
}

/// Decodes a CCITT Group 4 (T.6) stream of `width x height` pixels. A fax
/// white pixel becomes `white_value`, a black one its complement. Lines the
/// stream leaves out at the end stay white (some PDF writers end early).
/// Returns `None` when the stream is not valid G4.
pub(crate) fn decode_g4(data: &[u8], width: u32, height: u32, white_value: u8) -> Option<GrayImage> {
    let width16 = u16::try_from(width).ok()?;
    let height16 = u16::try_from(height).ok()?;
    let mut gray = GrayImage::from_pixel(width, height, image::Luma([white_value]));
    let mut rows = gray.chunks_exact_mut(width as usize);
    let finished = fax::decoder::decode_g4(data.iter().copied(), width16, Some(height16), |line| {
        if let Some(row) = rows.next() {
            write_line(row, line, white_value);
        }
    });
    finished.map(|()| gray)
}

/// Decodes one CCITT Group 4 strip (a TIFF strip is a stream of its own)
/// into `rows`, whole rows of `width` pixels, which must hold
/// `white_value` already. Strict: a stream that ends before every row is
/// decoded, or that is not valid G4, gives `None`.
pub(crate) fn decode_g4_strip(data: &[u8], width: u32, rows: &mut [u8], white_value: u8) -> Option<()> {
    let width16 = u16::try_from(width).ok()?;
    let bytes = data.iter().copied().map(Ok::<u8, std::convert::Infallible>);
    let mut decoder = fax::decoder::Group4Decoder::new(bytes, width16).ok()?;
    for row in rows.chunks_exact_mut(width as usize) {
        match decoder.advance().ok()? {
            fax::decoder::DecodeStatus::Incomplete => write_line(row, decoder.transition(), white_value),
            fax::decoder::DecodeStatus::End => return None,
        }
    }
    Some(())
}

/// Decodes a one-dimensional CCITT Group 3 (T.4, modified Huffman with EOL
/// codes) stream. Lines beyond `height` are ignored, missing lines stay
/// white. Returns `None` when the stream is not valid G3.
pub(crate) fn decode_g3(data: &[u8], width: u32, height: u32, white_value: u8) -> Option<GrayImage> {
    let mut gray = GrayImage::from_pixel(width, height, image::Luma([white_value]));
    let mut rows = gray.chunks_exact_mut(width as usize);
    let mut decoded_lines = 0u32;
    let finished = fax::decoder::decode_g3(data.iter().copied(), |line| {
        if let Some(row) = rows.next() {
            write_line(row, line, white_value);
            decoded_lines += 1;
        }
    });
    // A stream that ends without its return-to-control marker is accepted
    // when it produced every line.
    if finished.is_some() || decoded_lines == height { Some(gray) } else { None }
}

/// Paints one decoded line into `row`, which holds `white_value` already:
/// the black runs are filled as slices, not pixel by pixel (this is the hot
/// loop of every bitonal page). `transitions` are the positions where the
/// colour changes, starting with white, read exactly as `fax::decoder::pels`
/// reads them, also when a damaged stream gives them out of order.
fn write_line(row: &mut [u8], transitions: &[u16], white_value: u8) {
    let black_value = !white_value;
    let width = row.len();
    let (mut x, mut last, mut black) = (0usize, 0u16, false);
    for &position in transitions {
        let end = (x + usize::from(position.saturating_sub(last))).min(width);
        last = position;
        if black {
            row[x..end].fill(black_value);
        }
        x = end;
        black = !black;
        if x == width {
            return;
        }
    }
    if black {
        row[x..].fill(black_value);
    }
}

/// Reverses the bit order of every byte (TIFF `FillOrder = 2`).
pub(crate) fn reverse_bits_in_place(data: &mut [u8]) {
    for byte in data {
        *byte = byte.reverse_bits();
    }
}

#[cfg(test)]
mod unpack_tests {
    use super::unpack_rows;

    #[test]
    fn rows_unpack_at_every_depth_with_padding() {
        // 10 pixels wide: two bytes per 1-bit row, the last six bits padding.
        let one_bit = unpack_rows(&[0b1010_0000, 0b1100_0000, 0xFF, 0x00], 10, 2, 1).unwrap();
        assert_eq!(one_bit.as_raw()[..10], [255, 0, 255, 0, 0, 0, 0, 0, 255, 255]);
        assert_eq!(one_bit.as_raw()[10..], [255, 255, 255, 255, 255, 255, 255, 255, 0, 0]);
        let two_bit = unpack_rows(&[0b00_01_10_11, 0b1100_0000], 6, 1, 2).unwrap();
        assert_eq!(two_bit.as_raw(), &[0, 85, 170, 255, 255, 0]);
        let four_bit = unpack_rows(&[0x0F, 0x80], 3, 1, 4).unwrap();
        assert_eq!(four_bit.as_raw(), &[0, 255, 136]);
        assert!(unpack_rows(&[0xFF], 10, 1, 1).is_none(), "too short");
    }
}
