//! Order lists: the input as `ORD-0007-PERS.csv` through `read_order_list`
//! (UTF-8 check, the CSV dialect, rows, series, duplicates).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: scan2dms_fuzz::init(), |data: &[u8]| {
    let path = scan2dms_fuzz::write_input("ORD-0007-PERS.csv", data);
    let _ = scan2dms_delivery::read_order_list(&path);
});
