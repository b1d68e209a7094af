//! Property tests (test-only). Filled below.
