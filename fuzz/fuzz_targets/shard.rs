//! Any bytes given to the shard decoder, the header parser or the manifest parser yield a typed
//! error or a value, never a panic or a huge allocation; a decoded shard re-encodes to the input.
#![no_main]

use burn_idc::cache::Manifest;
use burn_idc::cache::{decode_shard, encode_shard, parse_header};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.shard");
    if let Ok(s) = decode_shard(data, path, None) {
        assert_eq!(encode_shard(&s).unwrap(), data);
    }
    let _ = parse_header(data, data.len() as u64, path);
    let _ = serde_json::from_slice::<Manifest>(data);
});
