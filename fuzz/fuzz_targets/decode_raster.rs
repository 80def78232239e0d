//! PNG and JPEG pages: probe, decode, and the e-file's embedding paths, as
//! the pipeline does. Inputs without a PNG or JPEG signature are rejected.
#![no_main]

use libfuzzer_sys::{Corpus, fuzz_target};
use scan2dms_imaging::{Format, sniff_format};

fuzz_target!(init: scan2dms_fuzz::init(), |data: &[u8]| -> Corpus {
    if !matches!(sniff_format(data), Some(Format::Png | Format::Jpeg)) {
        return Corpus::Reject;
    }
    let path = scan2dms_fuzz::write_input("page", data);
    scan2dms_fuzz::exercise_image(&path);
    Corpus::Keep
});
