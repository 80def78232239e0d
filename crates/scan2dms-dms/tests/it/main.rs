//! The push algorithm against an in-memory fake DMS whose failures are
//! scripted per call. Each test checks the outcome and the transcript of
//! calls the algorithm made (the client against the real wire contract is
//! tested in `scan2dms-dms-sim`'s suite). Then the xdomea export under the
//! same algorithm, with its packages read back.

#![allow(clippy::unwrap_used, reason = "a test that cannot set up should panic")]

mod fake;
mod push;
mod xdomea;
