//! Format doc test (test-only). Filled below.
