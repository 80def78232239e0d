//! TIFF pages: probe, decode the first and last page, and the e-file's
//! embedding paths (G4 strips as stored, colour pixels), as the pipeline
//! does. Inputs without a TIFF or BigTIFF signature are rejected.
#![no_main]

use libfuzzer_sys::{Corpus, fuzz_target};
use scan2dms_imaging::{Format, sniff_format};

fuzz_target!(init: scan2dms_fuzz::init(), |data: &[u8]| -> Corpus {
    if sniff_format(data) != Some(Format::Tiff) {
        return Corpus::Reject;
    }
    let path = scan2dms_fuzz::write_input("page", data);
    scan2dms_fuzz::exercise_image(&path);
    Corpus::Keep
});
