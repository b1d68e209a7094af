//! A produced batch through the log's validator and record walkers (see
//! `sluice::fuzzing::record_batch`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice::fuzzing::record_batch(data));
