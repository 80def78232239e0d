//! The invisible text layer's font: a glyph-less TrueType program generated
//! here, and the CID mapping that makes its text searchable.
//!
//! Key decisions:
//! - PDF/A wants every font embedded, even for text rendering mode 3, but an
//!   invisible layer needs no outlines. The program has two glyphs: a box
//!   `.notdef` (never referenced) and one empty glyph, 500/1000 em wide,
//!   that every character is drawn with. Its tables are the ten a TrueType
//!   file should have (OS/2, cmap, glyf, head, hhea, hmtx, loca, maxp, name,
//!   post), with correct checksums.
//! - The Type 0 font uses Identity-H with CIDs numbered per e-file: each
//!   distinct character of the document's text gets the next CID from 1, the
//!   CIDToGIDMap sends all of them to the empty glyph, and the ToUnicode CMap
//!   sends each back to its character. So any Unicode scalar (also beyond the
//!   BMP) round-trips, and the width is the same `/DW 500` as in `hmtx`
//!   (PDF/A's width-consistency rule).
//!
//! What it does not do: render anything, shape text, or handle more than
//! 65535 distinct characters in one document.

use std::collections::BTreeMap;

/// Name of the font program, as `/BaseFont` and `/FontName`.
pub(crate) const FONT_NAME: &str = "Scan2dmsInvisible";
/// Glyph advance in 1/1000 em (= `/DW`).
pub(crate) const GLYPH_WIDTH: u16 = 500;
/// Ascent and descent in 1/1000 em.
pub(crate) const ASCENT: i16 = 800;
pub(crate) const DESCENT: i16 = -200;

/// Characters of one e-file and their CIDs.
#[derive(Debug, Default)]
pub(crate) struct CharMap {
    cids: BTreeMap<char, u16>,
}

impl CharMap {
    /// Assigns CIDs 1.. to the characters in code-point order.
    pub(crate) fn new(chars: impl IntoIterator<Item = char>) -> Option<CharMap> {
        let mut cids = BTreeMap::new();
        for character in chars {
            cids.insert(character, 0);
        }
        if cids.len() >= usize::from(u16::MAX) {
            return None;
        }
        for (index, cid) in cids.values_mut().enumerate() {
            *cid = u16::try_from(index + 1).ok()?;
        }
        Some(CharMap { cids })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.cids.is_empty()
    }

    /// Text as a PDF hex string of two-byte CIDs; characters not in the map
    /// (there are none when the map was built from the same text) are skipped.
    pub(crate) fn hex_string(&self, text: &str) -> String {
        let mut hex = String::with_capacity(2 + 4 * text.len());
        hex.push('<');
        for character in text.chars() {
            if let Some(cid) = self.cids.get(&character) {
                hex.push_str(&format!("{cid:04X}"));
            }
        }
        hex.push('>');
        hex
    }

    /// The CIDToGIDMap stream: CID 0 to glyph 0, every used CID to glyph 1.
    pub(crate) fn cid_to_gid_map(&self) -> Vec<u8> {
        let mut map = vec![0u8; 2 * (self.cids.len() + 1)];
        for pair in map.chunks_exact_mut(2).skip(1) {
            pair.copy_from_slice(&1u16.to_be_bytes());
        }
        map
    }

    /// The ToUnicode CMap.
    pub(crate) fn to_unicode_cmap(&self) -> Vec<u8> {
        let mut cmap = String::new();
        cmap.push_str(
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
             /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
             /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
             1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
        );
        let entries: Vec<(&char, &u16)> = self.cids.iter().collect();
        for block in entries.chunks(100) {
            cmap.push_str(&format!("{} beginbfchar\n", block.len()));
            for (character, cid) in block {
                let mut units = [0u16; 2];
                let utf16: String =
                    character.encode_utf16(&mut units).iter().map(|unit| format!("{unit:04X}")).collect();
                cmap.push_str(&format!("<{cid:04X}> <{utf16}>\n"));
            }
            cmap.push_str("endbfchar\n");
        }
        cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
        cmap.into_bytes()
    }
}

/// The TrueType program.
pub(crate) fn glyphless_truetype() -> Vec<u8> {
    let tables: [(&[u8; 4], Vec<u8>); 10] = [
        (b"OS/2", table_os2()),
        (b"cmap", table_cmap()),
        (b"glyf", table_glyf()),
        (b"head", table_head()),
        (b"hhea", table_hhea()),
        (b"hmtx", table_hmtx()),
        (b"loca", table_loca()),
        (b"maxp", table_maxp()),
        (b"name", table_name()),
        (b"post", table_post()),
    ];
    let table_count = tables.len() as u16;
    let entry_selector = 15 - table_count.leading_zeros() as u16; // floor(log2(n))
    let search_range = 16u16 << entry_selector;

    let mut font = Vec::new();
    font.extend_from_slice(&0x0001_0000u32.to_be_bytes());
    for value in [table_count, search_range, entry_selector, table_count * 16 - search_range] {
        font.extend_from_slice(&value.to_be_bytes());
    }
    let mut offset = 12 + 16 * tables.len();
    let mut head_offset = 0;
    for (tag, data) in &tables {
        if *tag == b"head" {
            head_offset = offset;
        }
        font.extend_from_slice(*tag);
        font.extend_from_slice(&checksum(data).to_be_bytes());
        font.extend_from_slice(&(offset as u32).to_be_bytes());
        font.extend_from_slice(&(data.len() as u32).to_be_bytes());
        offset += data.len().next_multiple_of(4);
    }
    for (_, data) in &tables {
        font.extend_from_slice(data);
        font.resize(font.len().next_multiple_of(4), 0);
    }
    let adjustment = 0xB1B0_AFBAu32.wrapping_sub(checksum(&font));
    font[head_offset + 8..head_offset + 12].copy_from_slice(&adjustment.to_be_bytes());
    font
}

fn checksum(data: &[u8]) -> u32 {
    data.chunks(4).fold(0u32, |sum, chunk| {
        let mut word = [0u8; 4];
        word[..chunk.len()].copy_from_slice(chunk);
        sum.wrapping_add(u32::from_be_bytes(word))
    })
}

#[derive(Default)]
struct Table(Vec<u8>);

impl Table {
    fn u16(mut self, value: u16) -> Table {
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }
    fn i16(mut self, value: i16) -> Table {
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }
    fn u32(mut self, value: u32) -> Table {
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }
    fn bytes(mut self, value: &[u8]) -> Table {
        self.0.extend_from_slice(value);
        self
    }
}

// The .notdef box, in font units.
const BOX: [i16; 4] = [50, 0, 450, 700];

fn table_glyf() -> Vec<u8> {
    let [x_min, y_min, x_max, y_max] = BOX;
    // Glyph 0: one clockwise rectangle, four on-curve points with 16-bit deltas.
    let mut glyph =
        Table::default().i16(1).i16(x_min).i16(y_min).i16(x_max).i16(y_max).u16(3).u16(0).bytes(&[1, 1, 1, 1]);
    for dx in [x_min, 0, x_max - x_min, 0] {
        glyph = glyph.i16(dx);
    }
    for dy in [y_min, y_max - y_min, 0, y_min - y_max] {
        glyph = glyph.i16(dy);
    }
    let mut data = glyph.0;
    data.resize(data.len().next_multiple_of(4), 0);
    data
}

fn table_loca() -> Vec<u8> {
    // Long offsets: glyph 0 is the box, glyph 1 is empty.
    let box_len = table_glyf().len() as u32;
    Table::default().u32(0).u32(box_len).u32(box_len).0
}

fn table_head() -> Vec<u8> {
    let [x_min, y_min, x_max, y_max] = BOX;
    Table::default()
        .u32(0x0001_0000) // version
        .u32(0x0001_0000) // font revision
        .u32(0) // checksum adjustment, patched after assembly
        .u32(0x5F0F_3CF5) // magic
        .u16(0x0003) // baseline at y=0, lsb at x=0
        .u16(1000) // units per em
        .u32(0)
        .u32(0) // created
        .u32(0)
        .u32(0) // modified
        .i16(x_min)
        .i16(y_min)
        .i16(x_max)
        .i16(y_max)
        .u16(0) // mac style
        .u16(8) // lowest readable ppem
        .i16(2) // font direction hint
        .i16(1) // long loca offsets
        .i16(0) // glyph data format
        .0
}

fn table_hhea() -> Vec<u8> {
    Table::default()
        .u32(0x0001_0000)
        .i16(ASCENT)
        .i16(DESCENT)
        .i16(0) // line gap
        .u16(GLYPH_WIDTH) // advance width max
        .i16(0) // min left side bearing
        .i16(0) // min right side bearing
        .i16(BOX[2]) // x max extent
        .i16(1) // caret slope rise
        .i16(0) // caret slope run
        .i16(0) // caret offset
        .i16(0)
        .i16(0)
        .i16(0)
        .i16(0) // reserved
        .i16(0) // metric data format
        .u16(2) // number of h metrics
        .0
}

fn table_hmtx() -> Vec<u8> {
    Table::default().u16(GLYPH_WIDTH).i16(BOX[0]).u16(GLYPH_WIDTH).i16(0).0
}

fn table_maxp() -> Vec<u8> {
    Table::default()
        .u32(0x0001_0000)
        .u16(2) // glyphs
        .u16(4) // max points
        .u16(1) // max contours
        .u16(0)
        .u16(0) // composite points and contours
        .u16(2) // max zones
        .u16(0)
        .u16(0)
        .u16(0)
        .u16(0)
        .u16(0)
        .u16(0)
        .u16(0)
        .u16(0) // twilight points .. component depth
        .0
}

fn table_os2() -> Vec<u8> {
    Table::default()
        .u16(4) // version
        .i16(GLYPH_WIDTH as i16) // average char width
        .u16(400) // weight: regular
        .u16(5) // width: medium
        .u16(0) // fsType: installable embedding
        .i16(650)
        .i16(600)
        .i16(0)
        .i16(75) // subscript
        .i16(650)
        .i16(600)
        .i16(0)
        .i16(350) // superscript
        .i16(50)
        .i16(300) // strikeout
        .i16(0) // family class
        .bytes(&[0; 10]) // panose
        .u32(0)
        .u32(0)
        .u32(0)
        .u32(0) // unicode ranges
        .bytes(b"S2DM") // vendor
        .u16(0x0040) // fsSelection: regular
        .u16(0x20)
        .u16(0x20) // first and last char index
        .i16(ASCENT)
        .i16(DESCENT)
        .i16(0) // typo ascender, descender, line gap
        .u16(ASCENT as u16)
        .u16((-DESCENT) as u16) // win ascent, descent
        .u32(1)
        .u32(0) // code page ranges: Latin 1
        .i16(500) // x height
        .i16(700) // cap height
        .u16(0) // default char
        .u16(0x20) // break char
        .u16(0) // max context
        .0
}

fn table_cmap() -> Vec<u8> {
    // One (3,1) format 4 subtable holding only the closing segment: no
    // character code maps to a glyph; CIDFontType2 goes through CIDToGIDMap.
    Table::default()
        .u16(0)
        .u16(1)
        .u16(3)
        .u16(1)
        .u32(12)
        .u16(4) // format
        .u16(24) // length
        .u16(0) // language
        .u16(2) // segCountX2
        .u16(2) // search range
        .u16(0) // entry selector
        .u16(0) // range shift
        .u16(0xFFFF) // end code
        .u16(0) // reserved pad
        .u16(0xFFFF) // start code
        .i16(1) // id delta
        .u16(0) // id range offset
        .0
}

fn table_name() -> Vec<u8> {
    let records: [(u16, &str); 6] = [
        (1, FONT_NAME),
        (2, "Regular"),
        (3, "scan2dms: Scan2dmsInvisible 1.0"),
        (4, FONT_NAME),
        (5, "Version 1.0"),
        (6, FONT_NAME),
    ];
    let mut strings = Vec::new();
    let mut table = Table::default().u16(0).u16(records.len() as u16).u16(6 + 12 * records.len() as u16);
    for (name_id, text) in records {
        let encoded: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        table = table.u16(3).u16(1).u16(0x0409).u16(name_id).u16(encoded.len() as u16).u16(strings.len() as u16);
        strings.extend_from_slice(&encoded);
    }
    table.bytes(&strings).0
}

fn table_post() -> Vec<u8> {
    Table::default()
        .u32(0x0003_0000) // version 3: no glyph names
        .u32(0) // italic angle
        .i16(-100)
        .i16(50) // underline position, thickness
        .u32(1) // fixed pitch
        .u32(0)
        .u32(0)
        .u32(0)
        .u32(0)
        .0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_checksum_adjustment_makes_the_whole_file_sum_to_the_magic() {
        let font = glyphless_truetype();
        assert_eq!(checksum(&font), 0xB1B0_AFBA);
        assert_eq!(font.len() % 4, 0);
    }

    #[test]
    fn fixed_size_tables_have_their_specified_sizes() {
        assert_eq!(table_head().len(), 54);
        assert_eq!(table_hhea().len(), 36);
        assert_eq!(table_maxp().len(), 32);
        assert_eq!(table_os2().len(), 96);
        assert_eq!(table_post().len(), 32);
        assert_eq!(table_cmap().len(), 12 + 24);
    }

    #[test]
    fn cmap_maps_cids_back_to_characters_beyond_the_bmp() {
        let map = CharMap::new("aä𝔸".chars()).expect("small map");
        assert_eq!(map.hex_string("ä𝔸a"), "<000200030001>");
        let cmap = String::from_utf8(map.to_unicode_cmap()).expect("ascii");
        assert!(cmap.contains("<0002> <00E4>"), "{cmap}");
        assert!(cmap.contains("<0003> <D835DD38>"), "{cmap}");
        assert_eq!(map.cid_to_gid_map(), vec![0, 0, 0, 1, 0, 1, 0, 1]);
    }
}
