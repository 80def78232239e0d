//! Integration tests of scan2dms-delivery: one binary, a module per area.

#![allow(clippy::unwrap_used, reason = "a test that cannot set up should panic")]

mod archive;
mod sha512_bag;
