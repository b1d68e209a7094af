//! The caps on what one console API request may ask for. They bound the work and
//! memory a request costs whatever its parameters say; `openapi.json` states each as
//! the parameter's `maximum`, and a request beyond one gets a 400.

/// The largest request body (a produced record with its headers, a topic's configs).
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// The most records one message-browser page returns.
pub const MAX_MESSAGES: u32 = 500;
/// The most record bytes one page reads from the log (whole batches).
pub const MAX_READ_BYTES: u32 = 4 << 20;
/// The most records a key search looks at.
pub const MAX_SEARCH_RECORDS: u32 = 10_000;
/// The most partitions a topic created from the console may have.
pub const MAX_PARTITIONS: i32 = 1000;
/// Live tails open at once on this broker (further ones get 429).
pub const MAX_TAIL_STREAMS: usize = 16;
/// The longest sliding window of a live tail's top keys.
pub const MAX_TAIL_WINDOW_MS: u64 = 300_000;
/// The most keys a live tail ranks and reports.
pub const MAX_TAIL_TOP: usize = 100;
/// The most distinct keys a tail's window remembers (the rest counted as `other`).
pub const MAX_TAIL_KEYS: usize = 10_000;
/// The most records one tail event carries.
pub const MAX_TAIL_EVENT_RECORDS: usize = 50;
/// A key or header shown by the console is cut to this many bytes in tail events.
pub const MAX_TAIL_KEY_BYTES: usize = 256;
