//! Kafka framing: a 4-byte big-endian size, then that many bytes of request.
//!
//! Splitting frames out of the read buffer is kept apart from the connection loop so
//! it can be tested byte by byte.

use bytes::{Buf, Bytes, BytesMut};

/// Why a connection must be closed before its next request.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The size prefix is negative or above `socket.request.max.bytes`.
    TooLarge { size: i32, max: usize },
}

/// Takes one complete frame (without its size prefix) off the front of `buf`, or
/// returns `Ok(None)` if more bytes are needed.
pub fn take_frame(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>, FrameError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if size < 0 || size as usize > max {
        return Err(FrameError::TooLarge { size, max });
    }
    let size = size as usize;
    if buf.len() < 4 + size {
        // Make room for the whole frame in one go rather than growing piecemeal.
        buf.reserve(4 + size - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(size).freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_and_wait_for_more() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&[0, 0, 0, 3, b'a', b'b']);
        assert_eq!(take_frame(&mut buf, 100), Ok(None));
        buf.extend_from_slice(&[b'c', 0, 0, 0, 0]);
        assert_eq!(
            take_frame(&mut buf, 100),
            Ok(Some(Bytes::from_static(b"abc")))
        );
        assert_eq!(take_frame(&mut buf, 100), Ok(Some(Bytes::new())));
        assert_eq!(take_frame(&mut buf, 100), Ok(None));
    }

    #[test]
    fn oversized_and_negative_sizes_are_refused() {
        let mut buf = BytesMut::from(&[0, 0, 1, 0][..]);
        assert_eq!(
            take_frame(&mut buf, 255),
            Err(FrameError::TooLarge {
                size: 256,
                max: 255
            })
        );
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert!(take_frame(&mut buf, 255).is_err());
    }
}
