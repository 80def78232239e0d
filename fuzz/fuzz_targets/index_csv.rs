//! index.csv: the input as `data/index.csv` of a real delivery (whose
//! records.csv and page images stay) through `validate_delivery`: decoding,
//! the CSV dialect, row parsing, the cross-check with records.csv, page
//! paths and file pages against the probed images.
//!
//! Encoding: a valid UTF-8 input is read as UTF-8, the bag's default; any
//! other input is declared `Index-Encoding: windows-1252` when its first byte
//! is odd, so both decoders are reached.
#![no_main]

use libfuzzer_sys::fuzz_target;

const WINDOWS_1252_LINE: &str = "Index-Encoding: windows-1252\n";

fuzz_target!(init: scan2dms_fuzz::init(), |data: &[u8]| {
    let bag = scan2dms_fuzz::template_delivery();
    static BAG_INFO: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let bag_info = BAG_INFO.get_or_init(|| std::fs::read_to_string(bag.join("bag-info.txt")).expect("bag-info.txt"));
    let windows_1252 = std::str::from_utf8(data).is_err() && data.first().is_some_and(|byte| byte % 2 == 1);
    let bag_info_now = if windows_1252 { format!("{bag_info}{WINDOWS_1252_LINE}") } else { bag_info.clone() };
    std::fs::write(bag.join("bag-info.txt"), bag_info_now).expect("write bag-info.txt");
    std::fs::write(bag.join("data/index.csv"), data).expect("write index.csv");
    let _ = scan2dms_delivery::validate_delivery(bag, scan2dms_fuzz::order_book(), &scan2dms_fuzz::delivery_options());
});
