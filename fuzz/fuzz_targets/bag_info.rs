//! bag-info.txt: the RFC 8493 tag parser on its own (both rule sets), then
//! the input as the bag-info.txt of a real delivery through
//! `validate_delivery` (decoding, Payload-Oxum, our bag-info profile).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: scan2dms_fuzz::init(), |data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = scan2dms_bagit::parse_bag_info(text, (1, 0));
        let _ = scan2dms_bagit::parse_bag_info(text, (0, 97));
    }
    let bag = scan2dms_fuzz::template_delivery();
    std::fs::write(bag.join("bag-info.txt"), data).expect("write bag-info.txt");
    let _ = scan2dms_delivery::validate_delivery(bag, scan2dms_fuzz::order_book(), &scan2dms_fuzz::delivery_options());
});
