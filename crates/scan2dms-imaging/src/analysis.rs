//! Page analysis that needs no OCR: how much ink a page carries, and from
//! that whether it is blank.
//!
//! A scanned back side is rarely pure white: show-through of the front,
//! scanner-edge shadows and punch holes leave marks. The check therefore
//! ignores a margin band and counts only clearly dark pixels. On the
//! generated corpus blank backs carry at most 0.05 % dark pixels inside the
//! margins, the emptiest real pages at least 0.4 %; the default threshold
//! sits between the two, on a logarithmic scale.
//!
//! A back side often shows the front through the paper: mirrored text, far
//! lighter than ink. The OCR engine's adaptive threshold would turn it into
//! "text" on a page with no real ink, so such a page is read with its faint
//! marks removed ([`remove_faint_marks`]).
//!
//! Orientation and separator sheets need an OCR engine or a barcode reader
//! and live elsewhere.

use image::GrayImage;

/// Tuning of the blank-page check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlankOptions {
    /// Share of the shorter side ignored along every edge.
    pub margin_ratio: f32,
    /// Luma below which a pixel counts as ink (0 black, 255 white).
    pub ink_threshold: u8,
    /// A page with at most this share of ink pixels is blank.
    pub max_ink_ratio: f32,
    /// Luma from which a mark counts as faint (show-through, paper tone)
    /// on a page with little ink; pencil and faded print stay below it.
    pub faint_from: u8,
}

impl Default for BlankOptions {
    fn default() -> BlankOptions {
        BlankOptions { margin_ratio: 0.06, ink_threshold: 128, max_ink_ratio: 0.0015, faint_from: 176 }
    }
}

/// Share of ink pixels inside the margins, 0.0 to 1.0.
pub fn ink_ratio(page: &GrayImage, options: &BlankOptions) -> f32 {
    let (width, height) = page.dimensions();
    let margin = (width.min(height) as f32 * options.margin_ratio) as u32;
    if width <= 2 * margin || height <= 2 * margin {
        return 0.0;
    }
    let inner_width = (width - 2 * margin) as usize;
    let mut ink: u64 = 0;
    for y in margin..height - margin {
        let start = (y as usize * width as usize) + margin as usize;
        let row = &page.as_raw()[start..start + inner_width];
        ink += row.iter().filter(|&&luma| luma < options.ink_threshold).count() as u64;
    }
    let area = inner_width as u64 * u64::from(height - 2 * margin);
    ink as f32 / area as f32
}

/// Whether a page carries no content worth keeping.
pub fn is_blank(page: &GrayImage, options: &BlankOptions) -> bool {
    ink_ratio(page, options) <= options.max_ink_ratio
}

/// Turns every pixel of `page` at or above `options.faint_from` to paper
/// white and keeps the darker ones as they are, for reading a page that has
/// little ink: show-through of the reverse side (on the corpus luma 192 and
/// lighter) then no longer reads as text, while a page number, a name or a
/// pencil note (darker) still does. In place: the page is 8 MB at 300 dpi.
pub fn remove_faint_marks(page: &mut GrayImage, options: &BlankOptions) {
    for luma in page.iter_mut() {
        if *luma >= options.faint_from {
            *luma = 255;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ink_in_the_margins_does_not_count() {
        let mut page = GrayImage::from_pixel(1000, 1400, image::Luma([255]));
        for y in 0..1400 {
            for x in 0..40 {
                page.put_pixel(x, y, image::Luma([0])); // a scanner-edge shadow
            }
        }
        assert_eq!(ink_ratio(&page, &BlankOptions::default()), 0.0);
        assert!(is_blank(&page, &BlankOptions::default()));
        for y in 400..420 {
            for x in 100..900 {
                page.put_pixel(x, y, image::Luma([10])); // one line of text
            }
        }
        assert!(!is_blank(&page, &BlankOptions::default()));
    }

    #[test]
    fn faint_marks_go_and_ink_stays() {
        let options = BlankOptions::default();
        let mut page = GrayImage::from_fn(4, 1, |x, _| image::Luma([[20, 150, 200, 240][x as usize]]));
        remove_faint_marks(&mut page, &options);
        assert_eq!(page.as_raw(), &[20, 150, 255, 255]);
    }

    #[test]
    fn tiny_images_are_judged_not_a_panic() {
        let options = BlankOptions::default();
        assert!(is_blank(&GrayImage::new(0, 0), &options));
        assert!(is_blank(&GrayImage::from_pixel(1, 1, image::Luma([255])), &options));
        assert!(!is_blank(&GrayImage::from_pixel(1, 1, image::Luma([0])), &options));
    }
}
