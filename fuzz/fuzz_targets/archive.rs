//! Archive extraction: the input as an uploaded delivery through
//! `archive::extract` with the production limits, then `bag_root`. The file
//! is named `upload.tar`: zip and ustar are recognised by their magic bytes,
//! anything else is tried as a (pre-POSIX) tar.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scan2dms_delivery::archive;

fuzz_target!(init: scan2dms_fuzz::init(), |data: &[u8]| {
    let upload = scan2dms_fuzz::write_input("upload.tar", data);
    let unpacked = scan2dms_fuzz::scratch_dir().join("unpacked");
    let _ = archive::sniff(&upload);
    if archive::extract(&upload, &unpacked, &archive::ArchiveLimits::default()).is_ok() {
        let _ = archive::bag_root(&upload, &unpacked);
    }
    // A failed extraction must leave nothing behind; a successful one is
    // removed here for the next run.
    if unpacked.exists() {
        std::fs::remove_dir_all(&unpacked).expect("remove the unpacked archive");
    }
});
