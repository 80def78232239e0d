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
//! A page with little ink may still carry a page number, a name or a
//! note, so it is read before it is called blank; but reading costs as much
//! as a fifth of a second for nothing when its marks are dust, stains and
//! specks. [`has_line_of_glyphs`] tells the two apart without the engine:
//! text, even two short words, puts marks of a letter's height side by side.
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

/// Whether the page's marks (luma below `options.faint_from`) include two
/// of a letter's size side by side, as any two letters of a word, or two
/// words of a line, are: a mark counts when it stands 0.03 to 0.5 inch high
/// at `dpi` (a printed letter from about 6 points to a large handwritten
/// one); two stand side by side when their heights overlap by half the
/// smaller one, neither is three times the other's height, and the gap
/// between them is at most twice the taller one's height.
///
/// Meant for pages with little ink ([`is_blank`]): marks are found as
/// connected runs, which costs one pass over the page and little more when
/// the marks are few. A page with more marks than that is assumed to have
/// a line (it is read, which is what a page with text needs anyway).
pub fn has_line_of_glyphs(page: &GrayImage, dpi: u32, options: &BlankOptions) -> bool {
    const MAX_RUNS: usize = 200_000;
    const MAX_GLYPHS: usize = 4_000;
    let (width, height) = page.dimensions();
    let (width, height) = (width as usize, height as usize);
    let dpi = dpi.max(1) as f32;
    let (min_height, max_height) = ((0.03 * dpi).ceil() as u32, (0.5 * dpi) as u32);
    if width == 0 || height == 0 {
        return false;
    }

    // Runs of marks per row, each joined to the runs it touches in the row
    // above (8-connected) by union-find.
    let mut runs: Vec<Run> = Vec::new();
    let mut parent: Vec<u32> = Vec::new();
    let mut previous_row = 0..0;
    for (y, row) in page.as_raw().chunks_exact(width).enumerate().take(height) {
        let row_start = runs.len();
        let mut x = 0;
        while x < width {
            if row[x] >= options.faint_from {
                x += 1;
                continue;
            }
            let start = x;
            while x < width && row[x] < options.faint_from {
                x += 1;
            }
            if runs.len() == MAX_RUNS {
                return true;
            }
            let index = runs.len() as u32;
            runs.push(Run { y: y as u32, x0: start as u32, x1: x as u32 - 1 });
            parent.push(index);
            for above in previous_row.clone() {
                let other: Run = runs[above];
                // The row above's runs are in order: none further on touches.
                if other.x0 > x as u32 {
                    break;
                }
                if other.x1 + 1 >= start as u32 {
                    union(&mut parent, above as u32, index);
                }
            }
        }
        previous_row = row_start..runs.len();
    }

    // Each component's box, then the glyph-sized ones.
    let mut boxes: Vec<Option<[u32; 4]>> = vec![None; runs.len()];
    for (index, &run) in runs.iter().enumerate() {
        let root = find(&mut parent, index as u32) as usize;
        let bounds = boxes[root].get_or_insert([run.x0, run.y, run.x1, run.y]);
        bounds[0] = bounds[0].min(run.x0);
        bounds[1] = bounds[1].min(run.y);
        bounds[2] = bounds[2].max(run.x1);
        bounds[3] = bounds[3].max(run.y);
    }
    let mut glyphs: Vec<[u32; 4]> = boxes
        .into_iter()
        .flatten()
        .filter(|[_, top, _, bottom]| (min_height..=max_height).contains(&(bottom - top + 1)))
        .collect();
    if glyphs.len() > MAX_GLYPHS {
        return true;
    }
    glyphs.sort_unstable_by_key(|bounds| bounds[0]);
    for (index, a) in glyphs.iter().enumerate() {
        let height_a = a[3] - a[1] + 1;
        for b in &glyphs[index + 1..] {
            let height_b = b[3] - b[1] + 1;
            let taller = height_a.max(height_b);
            // Sorted by left edge: once b starts too far right, so do the rest.
            if b[0] > a[2] + 2 * taller {
                break;
            }
            let overlap = a[3].min(b[3]).saturating_add(1).saturating_sub(a[1].max(b[1]));
            if 2 * overlap >= height_a.min(height_b) && taller < 3 * height_a.min(height_b) {
                return true;
            }
        }
    }
    false
}

/// A horizontal run of marks in one row, `x0..=x1`.
#[derive(Debug, Clone, Copy)]
struct Run {
    y: u32,
    x0: u32,
    x1: u32,
}

fn find(parent: &mut [u32], mut index: u32) -> u32 {
    while parent[index as usize] != index {
        let grandparent = parent[parent[index as usize] as usize];
        parent[index as usize] = grandparent;
        index = grandparent;
    }
    index
}

fn union(parent: &mut [u32], a: u32, b: u32) {
    let (root_a, root_b) = (find(parent, a), find(parent, b));
    if root_a != root_b {
        parent[root_a.max(root_b) as usize] = root_a.min(root_b);
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

    /// A white page with filled boxes (left, top, width, height) of ink.
    fn page_with(boxes: &[(u32, u32, u32, u32)]) -> GrayImage {
        let mut page = GrayImage::from_pixel(2480, 3508, image::Luma([255]));
        for &(left, top, width, height) in boxes {
            for y in top..top + height {
                for x in left..left + width {
                    page.put_pixel(x, y, image::Luma([30]));
                }
            }
        }
        page
    }

    #[test]
    fn letters_side_by_side_make_a_line_and_scattered_marks_do_not() {
        let options = BlankOptions::default();
        // Dust and two stains far apart, as on the corpus' blank backs.
        let stains = page_with(&[(1701, 640, 63, 45), (2434, 834, 39, 52), (300, 300, 7, 7), (900, 2000, 6, 6)]);
        assert!(!has_line_of_glyphs(&stains, 300, &options));
        // Two letters of 10-point print next to each other.
        let word = page_with(&[(1200, 3300, 22, 30), (1226, 3308, 20, 22)]);
        assert!(has_line_of_glyphs(&word, 300, &options));
        // Two words each printed as one blob (touching letters), a space apart.
        let words = page_with(&[(400, 500, 160, 32), (590, 500, 120, 32)]);
        assert!(has_line_of_glyphs(&words, 300, &options));
        // The same two words a column apart, or one above the other, are not a line.
        assert!(!has_line_of_glyphs(&page_with(&[(400, 500, 160, 32), (1400, 500, 120, 32)]), 300, &options));
        assert!(!has_line_of_glyphs(&page_with(&[(400, 500, 160, 32), (400, 560, 120, 32)]), 300, &options));
        // A letter-sized mark beside a tall rule is no line either.
        assert!(!has_line_of_glyphs(&page_with(&[(400, 500, 20, 30), (430, 100, 4, 1200)]), 300, &options));
        // Marks lighter than `faint_from` are not marks.
        let mut faint = page_with(&[]);
        for (x, y) in [(1200, 3300), (1226, 3308)] {
            for dy in 0..25 {
                for dx in 0..20 {
                    faint.put_pixel(x + dx, y + dy, image::Luma([options.faint_from]));
                }
            }
        }
        assert!(!has_line_of_glyphs(&faint, 300, &options));
    }

    #[test]
    fn a_letter_joins_its_runs_across_rows() {
        // An "o" ring: its left and right strokes are separate runs in the
        // middle rows, one mark through the rows above and below.
        let mut page = GrayImage::from_pixel(200, 100, image::Luma([255]));
        for y in 20..50 {
            for x in 20..44 {
                let ring = !(24..46).contains(&y) || !(24..40).contains(&x);
                if ring {
                    page.put_pixel(x, y, image::Luma([0]));
                }
            }
            for x in 50..70 {
                page.put_pixel(x, y, image::Luma([0]));
            }
        }
        assert!(has_line_of_glyphs(&page, 300, &BlankOptions::default()));
        // Alone, the ring is one glyph: no pair.
        for y in 20..50 {
            for x in 50..70 {
                page.put_pixel(x, y, image::Luma([255]));
            }
        }
        assert!(!has_line_of_glyphs(&page, 300, &BlankOptions::default()));
    }

    #[test]
    fn tiny_images_are_judged_not_a_panic() {
        let options = BlankOptions::default();
        assert!(is_blank(&GrayImage::new(0, 0), &options));
        assert!(is_blank(&GrayImage::from_pixel(1, 1, image::Luma([255])), &options));
        assert!(!is_blank(&GrayImage::from_pixel(1, 1, image::Luma([0])), &options));
        assert!(!has_line_of_glyphs(&GrayImage::new(0, 0), 300, &options));
        assert!(!has_line_of_glyphs(&GrayImage::from_pixel(1, 1, image::Luma([0])), 0, &options));
    }
}
