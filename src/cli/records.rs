//! The records the copy commands carry: [`crate::log::records`], whose walker keeps
//! every header (repeated keys, empty keys, null values) in order.

pub use crate::log::records::*;
