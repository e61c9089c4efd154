//! Tests of [`super`]: encode/decode of both layouts, flipped bytes, bounds, naming, manifest.

use super::*;
use crate::cache::{Manifest, ManifestEntry, complete_shard, verify_cache};
use std::fs;

fn patch(c: usize, h: usize, w: usize, seed: u32) -> Image {
    let data = (0..c * h * w)
        .map(|i| ((i as u32 * 31 + seed * 7) % 256) as f32 / 255.0)
        .collect();
    Image::new(c, h, w, data).unwrap()
}

fn sample(n: usize) -> Shard {
    Shard {
        fingerprint: "abc123".into(),
        scale: 2,
        lr: (0..n).map(|i| patch(3, 4, 5, i as u32)).collect(),
        hr: (0..n).map(|i| patch(3, 8, 10, 100 + i as u32)).collect(),
    }
}

#[test]
fn round_trip_is_exact_for_u8_values() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.shard");
    let s = sample(3);
    write_shard_atomic(&p, &s).unwrap();
    let back = read_shard(&p, Some("abc123")).unwrap();
    assert_eq!(back, s);
    // No temp file left behind.
    let names: Vec<_> = fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert_eq!(names.len(), 1);
}

#[test]
fn format_1_files_still_read_and_format_2_is_smaller() {
    let s = sample(3);
    let v1 = encode_shard_as(&s, 1).unwrap();
    let v2 = encode_shard(&s).unwrap();
    assert_eq!(u32::from_le_bytes(v1[8..12].try_into().unwrap()), 1);
    assert_eq!(u32::from_le_bytes(v2[8..12].try_into().unwrap()), 2);
    assert_eq!(
        decode_shard(&v1, Path::new("x"), Some("abc123")).unwrap(),
        s
    );
    assert_eq!(
        decode_shard(&v2, Path::new("x"), Some("abc123")).unwrap(),
        s
    );
    // The sample's planes are arithmetic ramps: prediction leaves almost nothing to code.
    assert!(v2.len() * 2 < v1.len(), "{} vs {}", v2.len(), v1.len());
    let h1 = parse_header(&v1, v1.len() as u64, Path::new("x")).unwrap();
    let h2 = parse_header(&v2, v2.len() as u64, Path::new("x")).unwrap();
    assert_eq!((h1.version, h2.version), (1, 2));
    assert_eq!(h1.raw_pixel_bytes, h2.raw_pixel_bytes);
    assert_eq!(h1.raw_pixel_bytes, 3 * 3 * (4 * 5 + 8 * 10));
}

#[test]
fn lr_only_shards_round_trip_and_record_the_hr_size() {
    let mut s = sample(2);
    s.hr.clear();
    assert!(!s.has_hr());
    let b = encode_shard(&s).unwrap();
    let back = decode_shard(&b, Path::new("x"), None).unwrap();
    assert_eq!(back, s);
    let h = parse_header(&b, b.len() as u64, Path::new("x")).unwrap();
    assert!(!h.hr_stored);
    assert_eq!((h.hr_size, h.raw_pixel_bytes), ((8, 10), 2 * 3 * 4 * 5));
    // Format 1 has no LR-only layout; half an HR set is no layout at all.
    assert!(encode_shard_as(&s, 1).is_err());
    let mut half = sample(2);
    half.hr.pop();
    assert!(encode_shard(&half).is_err());
    let full = complete_shard(back, Some(&Replicate)).unwrap();
    assert_eq!((full.hr.len(), full.hr[0].height), (2, 8));
}

/// Test regenerator: HR by pixel replication at x2.
struct Replicate;
impl crate::cache::HrRegenerator for Replicate {
    fn fingerprint(&self) -> String {
        "replicate".into()
    }
    fn scale(&self) -> usize {
        2
    }
    fn regenerate(&self, lr: &[Image]) -> Result<Vec<Image>> {
        lr.iter()
            .map(|p| {
                let data = (0..p.channels * p.height * 2 * p.width * 2)
                    .map(|i| {
                        let (c, r) = (i / (4 * p.height * p.width), i % (4 * p.height * p.width));
                        p.at(c, r / (2 * p.width) / 2, r % (2 * p.width) / 2)
                    })
                    .collect();
                Image::new(p.channels, 2 * p.height, 2 * p.width, data)
            })
            .collect()
    }
}

#[test]
fn every_flipped_byte_of_either_format_is_detected() {
    let mut lr_only = sample(2);
    lr_only.hr.clear();
    for (what, bytes) in [
        ("v1", encode_shard_as(&sample(2), 1).unwrap()),
        ("v2 lr-only", encode_shard(&lr_only).unwrap()),
    ] {
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x04;
            let r = decode_shard(&b, Path::new("x"), Some("abc123"));
            assert!(
                matches!(r, Err(IdcError::Cache { .. })),
                "{what}: flip at {i}"
            );
        }
    }
}

#[test]
fn empty_shard_round_trips() {
    let s = Shard {
        fingerprint: "x".into(),
        scale: 3,
        lr: vec![],
        hr: vec![],
    };
    let b = encode_shard(&s).unwrap();
    assert_eq!(decode_shard(&b, Path::new("x"), None).unwrap(), s);
}

#[test]
fn every_flipped_byte_is_detected() {
    let s = sample(2);
    let bytes = encode_shard(&s).unwrap();
    for i in 0..bytes.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[i] ^= mask;
            let r = decode_shard(&b, Path::new("x"), Some("abc123"));
            assert!(
                matches!(r, Err(IdcError::Cache { .. })),
                "flip at {i} mask {mask:#x} not detected"
            );
        }
    }
}

#[test]
fn truncation_and_wrong_fingerprint_are_cache_errors() {
    let bytes = encode_shard(&sample(2)).unwrap();
    for len in [0, 5, 12, 40, bytes.len() - 1] {
        assert!(matches!(
            decode_shard(&bytes[..len], Path::new("x"), None),
            Err(IdcError::Cache { .. })
        ));
    }
    assert!(matches!(
        decode_shard(&bytes, Path::new("x"), Some("other")),
        Err(IdcError::Cache { .. })
    ));
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        read_shard(&dir.path().join("missing.shard"), None),
        Err(IdcError::Cache { .. })
    ));
}

#[test]
fn huge_declared_dimensions_do_not_allocate() {
    let mut bytes = encode_shard(&sample(1)).unwrap();
    // count field sits after magic, version, fp_len, fp, scale.
    let off = 8 + 4 + 4 + 6 + 4;
    bytes[off..off + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let r = decode_shard(&bytes, Path::new("x"), None);
    assert!(matches!(r, Err(IdcError::Cache { .. })));
}

#[test]
fn writer_rejects_inconsistent_shards() {
    let mut s = sample(2);
    s.hr.pop();
    assert!(encode_shard(&s).is_err());
    let mut s = sample(2);
    s.scale = 3;
    assert!(encode_shard(&s).is_err());
    let mut s = sample(2);
    s.lr[1] = patch(3, 5, 5, 0);
    assert!(encode_shard(&s).is_err());
}

#[test]
fn instance_keys_are_safe_and_distinct() {
    let a = instance_key("a/b.png");
    let b = instance_key("a_b.png");
    assert_ne!(a, b);
    for k in [
        &a,
        &b,
        &instance_key("../../etc/passwd"),
        &instance_key("x\u{fffd}y z"),
    ] {
        assert!(
            k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        );
        assert!(!k.starts_with('.'));
    }
    assert_eq!(
        shard_path(Path::new("/c"), "a/b.png"),
        PathBuf::from(format!("/c/{a}.shard"))
    );
}

#[test]
fn manifest_upsert_merges_and_verify_counts() {
    let dir = tempfile::tempdir().unwrap();
    for (i, name) in ["one.png", "two.png"].iter().enumerate() {
        let p = shard_path(dir.path(), name);
        write_shard_atomic(&p, &sample(i + 1)).unwrap();
        let entry = ManifestEntry {
            instance: name.to_string(),
            file: p.file_name().unwrap().to_string_lossy().into(),
            fingerprint: "abc123".into(),
            patches: i + 1,
            bytes: fs::metadata(&p).unwrap().len(),
            source: None,
            realism: None,
        };
        Manifest::upsert(dir.path(), &[entry]).unwrap();
    }
    let m = Manifest::read(dir.path()).unwrap();
    assert_eq!(m.instances.len(), 2);
    let r = verify_cache(dir.path()).unwrap();
    assert_eq!((r.instances, r.valid, r.patches), (2, 2, 3));
    assert!(r.invalid.is_empty());
    // Corrupt one shard: verify flags exactly that file.
    let p = shard_path(dir.path(), "two.png");
    let mut b = fs::read(&p).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0x10;
    fs::write(&p, b).unwrap();
    let r = verify_cache(dir.path()).unwrap();
    assert_eq!(r.valid, 1);
    assert_eq!(
        r.invalid.iter().map(|i| i.file.clone()).collect::<Vec<_>>(),
        vec![p.file_name().unwrap().to_string_lossy().to_string()]
    );
}

#[test]
fn temp_files_of_interrupted_writes_are_not_listed_as_shards() {
    let dir = tempfile::tempdir().unwrap();
    // What a writer killed mid-write leaves: a truncated temp named after the final shard.
    fs::write(
        dir.path().join(".tmp-13118-0-img00.png-a7695829493d.shard"),
        b"ID",
    )
    .unwrap();
    fs::write(dir.path().join("b.shard"), b"x").unwrap();
    let names: Vec<String> = list_shards(dir.path())
        .unwrap()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["b.shard"]);
}

#[test]
fn stale_temps_of_dead_processes_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    // pid 0x7fff_fff0 does not exist; our own temp is kept.
    fs::write(dir.path().join(".tmp-2147483632-0-a.shard"), b"x").unwrap();
    let own = dir
        .path()
        .join(format!(".tmp-{}-0-b.shard", std::process::id()));
    fs::write(&own, b"x").unwrap();
    assert_eq!(remove_stale_temps(dir.path()), 1);
    assert!(own.exists());
}
