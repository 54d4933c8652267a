//! Stored records read back from KV or the Cache API: any bytes decode to a record or to
//! nothing (a miss), never a panic; a decoded record encodes back to the same record; the
//! Cache API's metadata header is always printable ASCII (a valid field value whatever the
//! stored fields hold) and reads back as the same metadata.
#![no_main]

use edgecache_core::storage::record::{decode, encode, Meta};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((meta, body)) = decode(data.to_vec()) {
        assert_eq!(
            body.len() as u64,
            meta.body_len,
            "a truncated body was accepted"
        );
        let again = decode(encode(&meta, &body)).expect("a record we encode decodes");
        assert_eq!(again, (meta, body));
    }
    if let Some(meta) = Meta::parse(data) {
        let header = meta.to_header();
        assert!(
            header.bytes().all(|b| (0x20..0x7f).contains(&b)),
            "not a printable ASCII field value: {header:?}"
        );
        assert_eq!(Meta::parse(header.as_bytes()), Some(meta));
    }
});
