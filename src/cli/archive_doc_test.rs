//! Keeps the "Export archive" section of `storage-format.md` honest (test-only):
//! writes the section's example with `archive.rs`, decodes it with hand-written code
//! that follows only the documented layout (none of the archive's own parsers), and
//! checks that the section's hexdumps are byte for byte what the code writes. Run with
//! `SLUICE_PRINT_FORMAT_EXAMPLE=1 cargo test --lib archive_doc -- --nocapture` to
//! print the hexdumps used in the document.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::TimestampType;

use super::archive::{encode_record, ArchiveHeader, ArchiveReader, ArchiveRecord, ArchiveWriter};
use crate::log::format_doc_test::{hexdump, hexdump_bytes};

const DOC: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/storage-format.md"));

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes(b[at..at + 2].try_into().unwrap())
}
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}
fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

/// The documented varint: 7-bit groups, least significant first, then zigzag.
fn varint(b: &[u8], at: &mut usize) -> i64 {
    let mut raw = 0u64;
    for shift in (0..70).step_by(7) {
        let byte = b[*at];
        *at += 1;
        raw |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            break;
        }
    }
    (raw >> 1) as i64 ^ -((raw & 1) as i64)
}

fn bytes_field(b: &[u8], at: &mut usize) -> Option<Vec<u8>> {
    let len = varint(b, at);
    if len == -1 {
        return None;
    }
    let out = b[*at..*at + len as usize].to_vec();
    *at += len as usize;
    Some(out)
}

/// Bytes of the hexdump under the line `heading` of the archive section.
fn doc_hexdump(heading: &str) -> Vec<u8> {
    let section = &DOC[DOC.find("## Export archive").expect("archive section")..];
    let at = section
        .find(heading)
        .unwrap_or_else(|| panic!("no heading {heading}"));
    hexdump_bytes(&section[at..])
}

fn example() -> (ArchiveHeader, Vec<ArchiveRecord>) {
    (
        ArchiveHeader {
            topic: "orders".into(),
            partition_count: 3,
        },
        vec![
            ArchiveRecord {
                partition: 1,
                offset: 7,
                timestamp_type: TimestampType::Creation,
                timestamp: 1_700_000_000_000,
                key: Some(Bytes::from_static(b"k")),
                value: Some(Bytes::from_static(b"hello")),
                headers: vec![("h".into(), Some(Bytes::from_static(b"1")))],
            },
            ArchiveRecord {
                partition: 1,
                offset: 9,
                timestamp_type: TimestampType::LogAppend,
                timestamp: 1_700_000_000_005,
                key: None,
                value: None,
                headers: vec![],
            },
        ],
    )
}

#[test]
fn archive_doc_example_decodes_by_the_document_alone() {
    let (header, records) = example();
    let mut w = ArchiveWriter::new(Vec::new(), &header).unwrap();
    for r in &records {
        w.write(r).unwrap();
    }
    let (file, total) = w.finish().unwrap();
    assert_eq!(total, 2);
    let mut raw = BytesMut::new();
    for r in &records {
        encode_record(&mut raw, r);
    }

    // File header.
    assert_eq!(&file[0..8], b"SLUICEAR");
    assert_eq!(be16(&file, 8), 1, "version");
    assert_eq!(be16(&file, 10), 0, "flags");
    assert_eq!(be32(&file, 12), 3, "partition count");
    let n = be16(&file, 16) as usize;
    assert_eq!(&file[18..18 + n], b"orders");
    assert_eq!(be32(&file, 18 + n), crc32c::crc32c(&file[..18 + n]));

    // One data block.
    let b = &file[22 + n..];
    assert_eq!(&b[0..4], b"SLBK");
    assert_eq!(be32(b, 4), 2, "record count");
    let u = be32(b, 8) as usize;
    let c = be32(b, 12) as usize;
    assert_eq!(
        be32(b, 16),
        crc32c::crc32c_append(crc32c::crc32c(&b[4..16]), &b[20..20 + c])
    );
    let payload = zstd::bulk::decompress(&b[20..20 + c], u).unwrap();
    assert_eq!(payload.len(), u);
    assert_eq!(payload, raw.to_vec(), "records encode as documented");

    // The two records, field by field.
    let mut at = 0;
    let p = &payload;
    assert_eq!(varint(p, &mut at), 1, "partition");
    assert_eq!(varint(p, &mut at), 7, "offset");
    assert_eq!(p[at], 0, "CreateTime");
    at += 1;
    assert_eq!(varint(p, &mut at), 1_700_000_000_000);
    assert_eq!(bytes_field(p, &mut at).unwrap(), b"k");
    assert_eq!(bytes_field(p, &mut at).unwrap(), b"hello");
    assert_eq!(varint(p, &mut at), 1, "header count");
    assert_eq!(bytes_field(p, &mut at).unwrap(), b"h");
    assert_eq!(bytes_field(p, &mut at).unwrap(), b"1");
    assert_eq!(varint(p, &mut at), 1, "partition");
    assert_eq!(varint(p, &mut at), 9, "offset");
    assert_eq!(p[at], 1, "LogAppendTime");
    at += 1;
    assert_eq!(varint(p, &mut at), 1_700_000_000_005);
    assert_eq!(bytes_field(p, &mut at), None, "null key");
    assert_eq!(bytes_field(p, &mut at), None, "null value");
    assert_eq!(varint(p, &mut at), 0, "no headers");
    assert_eq!(at, u, "nothing after the last record");

    // End block, then the end of the file.
    let e = &b[20 + c..];
    assert_eq!(e.len(), 16);
    assert_eq!(&e[0..4], b"SLND");
    assert_eq!(be64(e, 4), 2);
    assert_eq!(be32(e, 12), crc32c::crc32c(&e[..12]));

    // The archive's own reader agrees.
    let mut r = ArchiveReader::open(&file[..]).unwrap();
    assert_eq!(r.header(), &header);
    assert_eq!(r.next_block().unwrap().unwrap(), records);
    assert!(r.next_block().unwrap().is_none());

    if std::env::var_os("SLUICE_PRINT_FORMAT_EXAMPLE").is_some() {
        println!("{}", hexdump("records, uncompressed", &raw));
        println!("{}", hexdump("example.sluice", &file));
    }
    assert_eq!(
        doc_hexdump("#### `example.sluice` records, uncompressed\n"),
        raw.to_vec(),
        "storage-format.md: the example's record bytes are stale"
    );
    assert_eq!(
        doc_hexdump("#### `example.sluice`\n"),
        file,
        "storage-format.md: the example archive's hexdump is stale"
    );
}
