//! Integration tests of scan2dms-delivery: one binary, a module per area.

mod archive;
