//! SCRAM client messages and JAAS lines (see `sluice::fuzzing::sasl`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice::fuzzing::sasl(data));
