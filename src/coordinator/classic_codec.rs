//! Kafka's classic (non-flexible) field encodings, as the coordinators' records in
//! `__consumer_offsets` and `__transaction_state` use them: fixed-width big-endian
//! integers, int16-length strings, int32-length bytes. Readers check the length before
//! every read and report a short record as an error, never a panic. This module knows
//! nothing of the records themselves.

use bytes::{Buf, BufMut, Bytes, BytesMut};

pub(crate) fn put_str(b: &mut BytesMut, s: &str) {
    b.put_i16(s.len() as i16);
    b.put_slice(s.as_bytes());
}

pub(crate) fn put_nullable_str(b: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_str(b, s),
        None => b.put_i16(-1),
    }
}

pub(crate) fn put_bytes(b: &mut BytesMut, v: &[u8]) {
    b.put_i32(v.len() as i32);
    b.put_slice(v);
}

pub(crate) fn need(b: &[u8], n: usize) -> Result<(), String> {
    if b.remaining() < n {
        Err(format!(
            "record truncated: need {n} bytes, {} left",
            b.len()
        ))
    } else {
        Ok(())
    }
}

pub(crate) fn get_i16(b: &mut &[u8]) -> Result<i16, String> {
    need(b, 2)?;
    Ok(b.get_i16())
}

pub(crate) fn get_i32(b: &mut &[u8]) -> Result<i32, String> {
    need(b, 4)?;
    Ok(b.get_i32())
}

pub(crate) fn get_i64(b: &mut &[u8]) -> Result<i64, String> {
    need(b, 8)?;
    Ok(b.get_i64())
}

pub(crate) fn get_nullable_str(b: &mut &[u8]) -> Result<Option<String>, String> {
    let len = get_i16(b)?;
    if len < 0 {
        return Ok(None);
    }
    need(b, len as usize)?;
    let s = String::from_utf8(b[..len as usize].to_vec()).map_err(|e| e.to_string())?;
    b.advance(len as usize);
    Ok(Some(s))
}

pub(crate) fn get_str(b: &mut &[u8]) -> Result<String, String> {
    get_nullable_str(b)?.ok_or_else(|| "null string in a non-nullable field".to_string())
}

pub(crate) fn get_bytes(b: &mut &[u8]) -> Result<Bytes, String> {
    let len = get_i32(b)?;
    if len < 0 {
        return Ok(Bytes::new());
    }
    need(b, len as usize)?;
    let v = Bytes::copy_from_slice(&b[..len as usize]);
    b.advance(len as usize);
    Ok(v)
}
