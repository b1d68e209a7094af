//! A client's bytes on one connection: framing, request headers, every served API's
//! decoding and handler, SASL before authentication (see `sluice::fuzzing::connection`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = sluice::fuzzing::connection(data) {
        panic!("{e}");
    }
});
