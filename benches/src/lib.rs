//! Benchmarks of scan2dms against its peers, each measured in one run.
//!
//! The benchmarks live in `benches/` as harness-free bench targets (see
//! `README.md` beside this crate for how to run each one and what it
//! compares). This library is empty on purpose: the benches only need the
//! workspace crates they measure.
