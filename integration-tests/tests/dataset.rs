//! IdcDataset, shard cache and `idc condense` / `idc inspect` end to end:
//! cold vs warm cache, LoadOnly, config changes, 25+ kinds of bad input, kill -9 crash safety,
//! three racing processes, flipped bytes.
//!
//! Library tests use a fast fake condenser (`burn_idc::dataset::testing::FakeCondenser`);
//! the process tests run the real `idc condense` with a tiny random-init EDSR extractor and a
//! few-step condense config, on small synthetic images, so they stay fast on 2 cores.

use burn_idc::IdcError;
use burn_idc::Image;
use burn_idc::PatchConfig;
use burn_idc::SrPair;
use burn_idc::cache;
use burn_idc::dataset::testing::FakeCondenser;
use burn_idc::image::save_png;
use burn_idc::image::synthetic_image;
use burn_idc::{CacheMode, IdcDataset, IdcDatasetBuilder};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Fixtures

fn rgb(size_h: usize, size_w: usize, seed: usize) -> Image {
    let full = synthetic_image(seed, size_h.max(size_w));
    full.crop(0, 0, size_h, size_w).unwrap()
}

fn write_rgb(dir: &Path, name: &str, h: usize, w: usize, seed: usize) -> PathBuf {
    let p = dir.join(name);
    save_png(&p, &rgb(h, w, seed)).unwrap();
    p
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&integration_tests::crc32(&body).to_be_bytes());
}

/// A PNG with uncompressed (stored) deflate blocks: `color` 0 grey, 2 RGB, 6 RGBA; `depth` 8/16.
/// `sample(x, y, channel)` gives each sample (16-bit samples use the full range).
fn png(w: u32, h: u32, color: u8, depth: u8, sample: impl Fn(u32, u32, usize) -> u16) -> Vec<u8> {
    let channels = match color {
        0 => 1,
        2 => 3,
        6 => 4,
        _ => panic!("unsupported fixture colour type"),
    };
    let mut raw = Vec::new();
    for y in 0..h {
        raw.push(0u8); // filter: none
        for x in 0..w {
            for c in 0..channels {
                let v = sample(x, y, c);
                if depth == 16 {
                    raw.extend_from_slice(&v.to_be_bytes());
                } else {
                    raw.push(v as u8);
                }
            }
        }
    }
    let mut z = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65535).collect();
    for (i, b) in blocks.iter().enumerate() {
        z.push(u8::from(i + 1 == blocks.len()));
        z.extend_from_slice(&(b.len() as u16).to_le_bytes());
        z.extend_from_slice(&(!(b.len() as u16)).to_le_bytes());
        z.extend_from_slice(b);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in &raw {
        a = (a + x as u32) % 65521;
        b = (b + a) % 65521;
    }
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[depth, color, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A PNG whose IHDR declares `w x h`, with no pixel data.
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    // The start of a zlib stream; the pixel data that would follow is absent.
    chunk(&mut out, b"IDAT", &[0x78, 0x01]);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A 16x16 baseline JPEG with four components and an Adobe APP14 marker (transform 0), i.e. a
/// CMYK JPEG as Photoshop writes it. Every block is DC-only with zero coefficients, coded with
/// one-symbol Huffman tables (2 bits per block).
fn cmyk_jpeg() -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8];
    j.extend_from_slice(&[0xFF, 0xEE, 0x00, 0x0E]);
    j.extend_from_slice(b"Adobe");
    j.extend_from_slice(&[0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00]);
    j.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x43, 0x00]);
    j.extend_from_slice(&[1u8; 64]);
    j.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x14, 8, 0, 16, 0, 16, 4]);
    for id in 1..=4u8 {
        j.extend_from_slice(&[id, 0x11, 0x00]);
    }
    for class in [0x00u8, 0x10] {
        j.extend_from_slice(&[0xFF, 0xC4, 0x00, 0x14, class, 1]);
        j.extend_from_slice(&[0u8; 15]);
        j.push(0x00);
    }
    j.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x0E, 4]);
    for id in 1..=4u8 {
        j.extend_from_slice(&[id, 0x00]);
    }
    j.extend_from_slice(&[0, 63, 0]);
    // 4 MCUs x 4 blocks x 2 bits = 32 bits.
    j.extend_from_slice(&[0x00; 4]);
    j.extend_from_slice(&[0xFF, 0xD9]);
    j
}

fn builder(hr: &Path, cache: &Path, fake: Arc<FakeCondenser>) -> IdcDatasetBuilder {
    let patch = PatchConfig {
        scale: 2,
        hr_patch: 16,
        step: 16,
        thresh_size: 0,
        task: None,
    }
    .check()
    .unwrap();
    // Strict about small images: the bad-input table below expects them to fail `build`.
    IdcDataset::builder(hr, patch)
        .with_ratio(0.25)
        .with_skip_small_images(false)
        .with_cache_dir(cache)
        .with_condenser(fake)
}

fn all_items(ds: &IdcDataset) -> Vec<SrPair> {
    (0..ds.len()).map(|i| ds.try_get(i).unwrap()).collect()
}

// ---------------------------------------------------------------------------------------------
// Library: cold/warm, LoadOnly, config change, flipped bytes

#[test]
fn cold_and_warm_cache_serve_identical_items() {
    let hr = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    for k in 0..3 {
        write_rgb(hr.path(), &format!("im{k}.png"), 48, 32 + 16 * k, k);
    }
    let fake = Arc::new(FakeCondenser::new(2, "v1"));
    let cold_ds = builder(hr.path(), cache.path(), fake.clone())
        .build()
        .unwrap();
    // 3x2 = 6 -> 2, 3x3 = 9 -> 3, 3x4 = 12 -> 3 pairs, known before any condensation.
    assert_eq!(cold_ds.len(), 2 + 3 + 3);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 0);
    let cold = all_items(&cold_ds);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 3);
    drop(cold_ds);

    let fake2 = Arc::new(FakeCondenser::new(2, "v1"));
    let warm_ds = builder(hr.path(), cache.path(), fake2.clone())
        .build()
        .unwrap();
    let warm = all_items(&warm_ds);
    assert_eq!(
        fake2.calls.load(Ordering::SeqCst),
        0,
        "warm cache must not condense"
    );
    assert_eq!(warm_ds.stats().loaded, 3);
    assert_eq!(cold, warm);
    for p in &warm {
        assert_eq!((p.lr.channels, p.lr.height, p.lr.width), (3, 8, 8));
        assert_eq!((p.hr.channels, p.hr.height, p.hr.width), (3, 16, 16));
    }
    let report = cache::verify_cache(cache.path()).unwrap();
    assert_eq!((report.instances, report.valid, report.patches), (3, 3, 8));
    let manifest = cache::Manifest::read(cache.path()).unwrap();
    assert_eq!(manifest.instances.len(), 3);
}

#[test]
fn load_only_on_empty_cache_is_a_typed_error() {
    let hr = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write_rgb(hr.path(), "a.png", 32, 32, 0);
    let fake = Arc::new(FakeCondenser::new(2, "v1"));
    let ds = builder(hr.path(), cache.path(), fake.clone())
        .with_mode(CacheMode::LoadOnly)
        .build()
        .unwrap();
    assert_eq!(ds.len(), 1);
    match ds.try_get(0) {
        Err(IdcError::Cache { reason, .. }) => assert!(reason.contains("missing"), "{reason}"),
        other => panic!("expected a cache error, got {other:?}"),
    }
    assert_eq!(fake.calls.load(Ordering::SeqCst), 0);
}

#[test]
fn config_or_image_change_recondenses() {
    let hr = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write_rgb(hr.path(), "a.png", 32, 32, 0);
    write_rgb(hr.path(), "b.png", 32, 32, 1);
    let run = |tag: &str, seed: u64, ratio: f64| {
        let f = Arc::new(FakeCondenser::new(2, tag));
        let ds = builder(hr.path(), cache.path(), f.clone())
            .with_seed(seed)
            .with_ratio(ratio)
            .build()
            .unwrap();
        let items = all_items(&ds);
        (f.calls.load(Ordering::SeqCst), items)
    };
    assert_eq!(run("v1", 0, 0.25).0, 2);
    assert_eq!(run("v1", 0, 0.25).0, 0);
    assert_eq!(run("v2", 0, 0.25).0, 2, "condenser config change");
    assert_eq!(run("v2", 1, 0.25).0, 2, "seed change");
    let (calls, items) = run("v2", 1, 0.5);
    assert_eq!(calls, 2, "ratio change");
    assert_eq!(items.len(), 4);
    // An edited image re-condenses only itself; LoadOnly refuses its stale shard.
    write_rgb(hr.path(), "b.png", 32, 32, 7);
    let f = Arc::new(FakeCondenser::new(2, "v2"));
    let ds = builder(hr.path(), cache.path(), f.clone())
        .with_seed(1)
        .with_ratio(0.5)
        .with_mode(CacheMode::LoadOnly)
        .build()
        .unwrap();
    assert!(ds.try_get(0).is_ok());
    assert!(matches!(ds.try_get(2), Err(IdcError::Cache { .. })));
    assert_eq!(run("v2", 1, 0.5).0, 1);
}

#[test]
fn flipped_bytes_are_detected() {
    let hr = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write_rgb(hr.path(), "a.png", 32, 48, 0);
    let fake = Arc::new(FakeCondenser::new(2, "v1"));
    let ds = builder(hr.path(), cache.path(), fake).build().unwrap();
    let good = all_items(&ds);
    let path = ds.shard_path(0).unwrap();
    let fp = ds.instance_fingerprint(0).unwrap().to_string();
    drop(ds);
    let bytes = std::fs::read(&path).unwrap();
    // Every 7th byte position (header, fingerprint, patches, checksum), one bit and a full byte.
    for i in (0..bytes.len()).step_by(7).chain([bytes.len() - 1]) {
        for mask in [0x04u8, 0xFF] {
            let mut b = bytes.clone();
            b[i] ^= mask;
            std::fs::write(&path, &b).unwrap();
            assert!(
                matches!(
                    cache::read_shard(&path, Some(&fp)),
                    Err(IdcError::Cache { .. })
                ),
                "flip at byte {i} not detected"
            );
            let r = cache::verify_cache(cache.path()).unwrap();
            assert_eq!(r.valid, 0);
            assert_eq!(r.invalid.len(), 1);
        }
    }
    // LazyCondense repairs it and serves the same items again.
    let fake = Arc::new(FakeCondenser::new(2, "v1"));
    let ds = builder(hr.path(), cache.path(), fake.clone())
        .build()
        .unwrap();
    assert_eq!(all_items(&ds), good);
    assert_eq!(fake.calls.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------------------------------------
// Bad inputs

/// What a bad input is documented to do.
#[derive(Debug)]
enum Expect {
    /// Accepted and served (converted to RGB).
    Served,
    /// Not listed at all (not an image file).
    Ignored,
    /// `build` fails with this kind of error; `skip_bad_images` skips it.
    Probe(&'static str),
    /// Passes probing, fails decoding: `build` (no skip) succeeds and only this instance's items
    /// are an error; `skip_bad_images` skips it at build.
    Decode,
}

fn kind_of(e: &IdcError) -> &'static str {
    match e {
        IdcError::Io { .. } => "io",
        IdcError::Decode { .. } => "decode",
        IdcError::InvalidInput(_) => "invalid",
        IdcError::InvalidConfig { .. } => "config",
        IdcError::Cache { .. } => "cache",
        IdcError::Model(_) => "model",
        IdcError::StageMissing(_) => "stage-missing",
        IdcError::Mismatch { .. } => "mismatch",
        IdcError::Internal(_) => "internal",
    }
}

#[test]
fn bad_inputs_have_documented_outcomes() {
    use std::os::unix::ffi::OsStrExt;
    let good_png = {
        let d = tempfile::tempdir().unwrap();
        std::fs::read(write_rgb(d.path(), "g.png", 32, 32, 3)).unwrap()
    };
    let grad = |x: u32, y: u32, c: usize| ((x * 8 + y * 3 + c as u32 * 40) % 256) as u16;
    type Maker = Box<dyn Fn(&Path) -> PathBuf>;
    let write = |name: &'static str, bytes: Vec<u8>| -> Maker {
        Box::new(move |d: &Path| {
            let p = d.join(name);
            std::fs::write(&p, &bytes).unwrap();
            p
        })
    };
    let cases: Vec<(&str, Maker, Expect)> = vec![
        (
            "zero-byte file",
            write("zero.png", vec![]),
            Expect::Probe("decode"),
        ),
        (
            "truncated PNG",
            write("trunc.png", good_png[..good_png.len() / 2].to_vec()),
            Expect::Decode,
        ),
        (
            "text named .png",
            write("text.png", b"hello, not an image\n".to_vec()),
            Expect::Probe("decode"),
        ),
        (
            "1x1 image",
            write("one.png", png(1, 1, 2, 8, grad)),
            Expect::Probe("invalid"),
        ),
        (
            "smaller than one patch",
            write("small.png", png(15, 40, 2, 8, grad)),
            Expect::Probe("invalid"),
        ),
        (
            "grey",
            write("grey.png", png(32, 32, 0, 8, grad)),
            Expect::Served,
        ),
        (
            "RGBA",
            write("rgba.png", png(32, 32, 6, 8, grad)),
            Expect::Served,
        ),
        (
            "16-bit",
            write(
                "deep.png",
                png(32, 32, 2, 16, |x, y, c| grad(x, y, c) * 257),
            ),
            Expect::Served,
        ),
        ("CMYK JPEG", write("cmyk.jpg", cmyk_jpeg()), Expect::Served),
        (
            "header declaring 100000x100000",
            write("huge.png", png_header_only(100_000, 100_000)),
            Expect::Probe("invalid"),
        ),
        (
            // Tests run as root, so chmod 000 would not stop a read; a FIFO is unreadable in the
            // sense that matters (opening it would block forever) and must be refused unopened.
            "unreadable file (FIFO)",
            Box::new(|d: &Path| {
                let p = d.join("fifo.png");
                let ok = Command::new("mkfifo").arg(&p).status().map(|s| s.success());
                assert!(matches!(ok, Ok(true)), "mkfifo failed");
                p
            }),
            Expect::Probe("invalid"),
        ),
        (
            "non-UTF-8 file name",
            Box::new({
                let b = good_png.clone();
                move |d: &Path| {
                    let p = d.join(std::ffi::OsStr::from_bytes(b"caf\xe9.png"));
                    std::fs::write(&p, &b).unwrap();
                    p
                }
            }),
            Expect::Served,
        ),
        (
            "directory named x.png",
            Box::new(|d: &Path| {
                let p = d.join("x.png");
                std::fs::create_dir(&p).unwrap();
                p
            }),
            Expect::Ignored,
        ),
        (
            "dangling symlink",
            Box::new(|d: &Path| {
                let p = d.join("link.png");
                std::os::unix::fs::symlink(d.join("does-not-exist.png"), &p).unwrap();
                p
            }),
            Expect::Probe("io"),
        ),
        (
            "JPEG bytes named .png",
            write("jpeg-inside.png", cmyk_jpeg()),
            Expect::Served,
        ),
        (
            "PNG with corrupt IHDR checksum",
            Box::new({
                let mut b = good_png.clone();
                b[29] ^= 0xFF; // inside IHDR's CRC
                move |d: &Path| {
                    let p = d.join("badcrc.png");
                    std::fs::write(&p, &b).unwrap();
                    p
                }
            }),
            Expect::Probe("decode"),
        ),
    ];
    let more: Vec<(&str, Maker, Expect)> = vec![
        (
            // Issue #16: a cut JPEG was decoded silently (grey where the data ended).
            "JPEG cut before its end-of-image marker",
            write("cut.jpg", {
                let j = cmyk_jpeg();
                j[..j.len() - 2].to_vec()
            }),
            Expect::Decode,
        ),
        (
            "GIF (unsupported format)",
            write("anim.gif", b"GIF89a\x10\x00\x10\x00".to_vec()),
            Expect::Ignored,
        ),
        (
            "WebP (unsupported format)",
            write("photo.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 ".to_vec()),
            Expect::Ignored,
        ),
        (
            "symlink to /dev/zero named .png",
            Box::new(|d: &Path| {
                let p = d.join("zero.png");
                std::os::unix::fs::symlink("/dev/zero", &p).unwrap();
                p
            }),
            Expect::Probe("invalid"),
        ),
        (
            "2 GiB sparse file named .png",
            Box::new(|d: &Path| {
                let p = d.join("sparse.png");
                std::fs::File::create(&p).unwrap().set_len(2 << 30).unwrap();
                p
            }),
            Expect::Probe("invalid"),
        ),
    ];
    let cases: Vec<_> = cases.into_iter().chain(more).collect();
    assert!(cases.len() + CACHE_KINDS.len() >= 25);
    for (what, make, expect) in &cases {
        let hr = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        // One good image sorts first, one last: both must be unaffected.
        write_rgb(hr.path(), "000-good.png", 32, 32, 1);
        write_rgb(hr.path(), "zzz-good.png", 32, 48, 2);
        let good_items = 1 + 2; // ceil(0.25 * 4) + ceil(0.25 * 6)
        let bad = make(hr.path());
        let fake = Arc::new(FakeCondenser::new(2, "v1"));
        let strict = builder(hr.path(), cache.path(), fake.clone()).build();
        let skipping = builder(hr.path(), cache.path(), fake.clone())
            .with_skip_bad_images(true)
            .build();
        match expect {
            Expect::Served => {
                let ds = strict.unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(ds.num_instances(), 3, "{what}");
                let items = all_items(&ds);
                assert!(items.len() > good_items, "{what}");
                for p in &items {
                    assert_eq!(p.lr.channels, 3, "{what}: converted to RGB");
                }
                let ds = skipping.unwrap();
                assert!(ds.skipped().is_empty(), "{what}");
            }
            Expect::Ignored => {
                let ds = strict.unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(ds.num_instances(), 2, "{what}");
                assert_eq!(all_items(&ds).len(), good_items);
            }
            Expect::Probe(kind) => {
                let e = strict
                    .err()
                    .unwrap_or_else(|| panic!("{what}: build must fail"));
                assert_eq!(kind_of(&e), *kind, "{what}: {e}");
                let ds = skipping.unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(ds.num_instances(), 2, "{what}");
                assert_eq!(ds.skipped().len(), 1, "{what}");
                assert_eq!(ds.skipped()[0].path, bad, "{what}");
                assert_eq!(all_items(&ds).len(), good_items, "{what}");
            }
            Expect::Decode => {
                let ds = strict.unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(ds.num_instances(), 3);
                let mut errors = BTreeMap::new();
                for i in 0..ds.len() {
                    if let Err(e) = ds.try_get(i) {
                        let (j, _) = ds.locate(i).unwrap();
                        errors.insert(ds.instance_name(j).unwrap().to_string(), kind_of(&e));
                    }
                }
                let bad_name = bad.file_name().unwrap().to_string_lossy().to_string();
                assert_eq!(
                    errors.into_iter().collect::<Vec<_>>(),
                    vec![(bad_name, "decode")],
                    "{what}: only the bad instance fails, with a decode error"
                );
                let ds = skipping.unwrap();
                assert_eq!(ds.num_instances(), 2, "{what}");
                assert_eq!(all_items(&ds).len(), good_items);
            }
        }
    }
    for kind in CACHE_KINDS {
        bad_cache_entry_is_reported_and_repaired(kind);
    }
    // Empty folder, and a "folder" that is a file: typed errors, skip or not.
    let empty = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    for skip in [false, true] {
        let fake = Arc::new(FakeCondenser::new(2, "v1"));
        let r = builder(empty.path(), cache.path(), fake.clone())
            .with_skip_bad_images(skip)
            .build();
        assert!(matches!(r, Err(IdcError::InvalidInput(_))), "empty folder");
        let file = empty.path().join("f.txt");
        std::fs::write(&file, b"x").unwrap();
        let r = builder(&file, cache.path(), fake)
            .with_skip_bad_images(skip)
            .build();
        assert!(
            matches!(r, Err(IdcError::InvalidInput(_))),
            "file as folder"
        );
        std::fs::remove_file(&file).unwrap();
    }
}

/// Bad things at cache paths (issue #16), each counted as one kind of bad input.
const CACHE_KINDS: [&str; 8] = [
    "FIFO at a shard path",
    "/dev/zero symlink at a shard path",
    "2 GiB sparse file at a shard path",
    "two shards swapped",
    "one shard copied over another",
    "directory at a shard path",
    "directory at a lock path",
    "manifest.json is a FIFO",
];

/// Puts `kind` into a warm two-instance cache: `verify_cache` names the bad shard with a reason
/// (nothing blocks or grows), and a new dataset repairs it and serves the same items, or, for a
/// directory where a file must go, fails only that instance with a clear error.
fn bad_cache_entry_is_reported_and_repaired(kind: &str) {
    let hr = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write_rgb(hr.path(), "000-good.png", 32, 32, 1);
    write_rgb(hr.path(), "zzz-good.png", 32, 48, 2);
    let fake = Arc::new(FakeCondenser::new(2, "v1"));
    let ds = builder(hr.path(), cache.path(), fake.clone())
        .build()
        .unwrap();
    let good = all_items(&ds);
    let (a, b) = (ds.shard_path(0).unwrap(), ds.shard_path(1).unwrap());
    drop(ds);
    let mkfifo = |p: &Path| {
        let _ = std::fs::remove_file(p);
        assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
    };
    let manifest = cache.path().join(cache::MANIFEST_NAME);
    match kind {
        "FIFO at a shard path" => mkfifo(&a),
        "/dev/zero symlink at a shard path" => {
            std::fs::remove_file(&a).unwrap();
            std::os::unix::fs::symlink("/dev/zero", &a).unwrap();
        }
        "2 GiB sparse file at a shard path" => {
            std::fs::File::create(&a).unwrap().set_len(2 << 30).unwrap();
        }
        "two shards swapped" => {
            let t = cache.path().join("t");
            std::fs::rename(&a, &t).unwrap();
            std::fs::rename(&b, &a).unwrap();
            std::fs::rename(&t, &b).unwrap();
        }
        "one shard copied over another" => {
            std::fs::copy(&b, &a).unwrap();
        }
        "directory at a shard path" => {
            std::fs::remove_file(&a).unwrap();
            std::fs::create_dir(&a).unwrap();
        }
        "directory at a lock path" => {
            std::fs::remove_file(&a).unwrap();
            let lock = cache
                .path()
                .join(".locks")
                .join(a.with_extension("lock").file_name().unwrap());
            assert!(lock.is_file(), "the lock is in .locks/: {}", lock.display());
            let _ = std::fs::remove_file(&lock);
            std::fs::create_dir(&lock).unwrap();
        }
        "manifest.json is a FIFO" => mkfifo(&manifest),
        other => panic!("unknown kind {other}"),
    }
    let t0 = Instant::now();
    let report = cache::verify_cache(cache.path()).unwrap();
    let a_name = a.file_name().unwrap().to_string_lossy().into_owned();
    let flagged: Vec<&str> = report.invalid.iter().map(|i| i.file.as_str()).collect();
    match kind {
        "manifest.json is a FIFO" | "directory at a lock path" => {
            assert!(flagged.is_empty(), "{kind}: {flagged:?}")
        }
        _ => assert!(flagged.contains(&a_name.as_str()), "{kind}: {flagged:?}"),
    }
    assert!(
        report.invalid.iter().all(|i| !i.reason.is_empty()),
        "{kind}"
    );
    let ds = builder(hr.path(), cache.path(), fake).build().unwrap();
    if kind.starts_with("directory") {
        let (ok, bad): (Vec<_>, Vec<_>) = (0..ds.len())
            .map(|i| (ds.locate(i).unwrap().0, ds.try_get(i)))
            .partition(|(_, r)| r.is_ok());
        assert!(ok.iter().all(|(j, _)| *j == 1), "{kind}");
        assert!(
            !bad.is_empty() && bad.iter().all(|(j, _)| *j == 0),
            "{kind}"
        );
    } else {
        assert_eq!(all_items(&ds), good, "{kind}: repaired");
        assert!(
            cache::verify_cache(cache.path())
                .unwrap()
                .invalid
                .is_empty(),
            "{kind}"
        );
    }
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "{kind}: {:?}",
        t0.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// Processes: kill -9, race

/// The `idc` binary built from this checkout: `<target>/<profile>/idc` beside this test's own
/// executable ([`integration_tests::idc_bin`] builds it first and fails clearly when missing).
fn idc() -> PathBuf {
    integration_tests::idc_bin()
}

fn run_idc(args: &[&str]) -> std::process::Output {
    Command::new(idc()).args(args).output().expect("spawn idc")
}

fn run_idc_json<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(args: &[S]) -> serde_json::Value {
    let out = Command::new(idc()).args(args).output().expect("spawn idc");
    assert!(
        out.status.success(),
        "idc {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not one JSON object ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// HR images, a tiny random-init EDSR extractor and a few-step config; returns the `idc condense`
/// arguments (without --cache).
fn cli_fixture(root: &Path, images: usize) -> Vec<String> {
    let hr = root.join("hr");
    std::fs::create_dir_all(&hr).unwrap();
    for k in 0..images {
        write_rgb(&hr, &format!("img{k:02}.png"), 32, 32 + 16 * (k % 3), k);
    }
    integration_tests::condense_args(root, &hr, 6, Some("0.25"))
}

fn shard_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "shard"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn condense_json(args: &[String], cache: &Path, extra: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.push("--cache".into());
    a.push(cache.to_str().unwrap().into());
    a.extend(extra.iter().map(|s| s.to_string()));
    run_idc_json(&a)
}

#[test]
fn kill_9_never_leaves_a_bad_shard_and_resume_is_byte_identical() {
    let root = tempfile::tempdir().unwrap();
    let args = cli_fixture(root.path(), 8);
    let reference = root.path().join("reference");
    let full = condense_json(&args, &reference, &[]);
    // Calibrate kill moments on warm-binary runs with the same work: the fastest of three, so a
    // loaded machine during calibration does not push kills past the end of later runs.
    let mut full_time = Duration::MAX;
    for _ in 0..3 {
        let t0 = Instant::now();
        let again = condense_json(&args, &reference, &["--rebuild"]);
        full_time = full_time.min(t0.elapsed());
        assert_eq!(again["condensed"], 8);
    }
    assert_eq!(full["instances"], 8);
    assert_eq!(full["condensed"], 8);
    assert_eq!(full["failed"], 0);
    let expected = shard_files(&reference);
    assert_eq!(expected.len(), 8);

    let cache = root.path().join("killed");
    // Pseudo-random kill moments spread over the uninterrupted run time (startup included).
    let span = full_time.as_millis().max(50) as u64;
    eprintln!("uninterrupted run: {span} ms");
    // Seed from IDC_KILL_SEED to replay a failure, else from the clock; printed either way.
    let seed = std::env::var("IDC_KILL_SEED")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("kill -9 seed: {seed} (replay with IDC_KILL_SEED={seed})");
    let mut state = seed | 1;
    let mut kills = 0;
    // Kills that landed during a shard write: the killed process left its temp file behind.
    let mut kills_in_write = 0;
    // Rounds 0-1 resume an incomplete cache; later rounds use --rebuild, so every round has a
    // full run's work (re-condensing and overwriting valid shards) to be interrupted in.
    // Rounds continue until 10 runs were killed mid-way (a round whose run finished before its
    // kill still checks the cache), at most 40.
    let rounds = 40;
    for round in 0..rounds {
        if kills >= 10 {
            break;
        }
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let delay = Duration::from_millis(state % (span * 7 / 10).max(1));
        let mut a = args.clone();
        a.push("--cache".into());
        a.push(cache.to_str().unwrap().into());
        if round >= 2 {
            a.push("--rebuild".into());
        }
        let mut child = Command::new(idc())
            .args(&a)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        // SIGKILL (std's kill sends SIGKILL on Unix).
        let pid = child.id();
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
            child.wait().unwrap();
            let temp = format!(".tmp-{pid}-");
            let in_write = std::fs::read_dir(&cache)
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.starts_with(&temp) && n.ends_with(".shard")
                });
            kills_in_write += in_write as usize;
        }
        child.wait().unwrap();
        if cache.is_dir() {
            let out = run_idc(&[
                "inspect",
                "--cache",
                cache.to_str().unwrap(),
                "--verify",
                "--json",
            ]);
            let report: serde_json::Value =
                serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                    panic!(
                        "round {round}: inspect output ({e}): {}",
                        String::from_utf8_lossy(&out.stderr)
                    )
                });
            assert_eq!(
                report["invalid"],
                serde_json::json!([]),
                "round {round}: {report}"
            );
            assert!(out.status.success());
        }
    }
    eprintln!("kill -9 seed {seed}: {kills} kills, {kills_in_write} during a shard write");
    assert!(
        kills >= 10,
        "only {kills} of {rounds} runs were killed mid-way"
    );
    let resumed = condense_json(&args, &cache, &[]);
    assert_eq!(resumed["failed"], 0);
    assert_eq!(
        resumed["condensed"].as_u64().unwrap() + resumed["loaded"].as_u64().unwrap(),
        8
    );
    let got = shard_files(&cache);
    assert_eq!(got.len(), 8);
    for (name, bytes) in &expected {
        assert!(
            got.get(name) == Some(bytes),
            "shard {name} differs from the uninterrupted run"
        );
    }
    // No temp files of dead writers are left once a run has started on the cache.
    let temps = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .count();
    assert_eq!(temps, 0);
}

#[test]
fn three_racing_processes_condense_each_instance_once() {
    let root = tempfile::tempdir().unwrap();
    let args = cli_fixture(root.path(), 9);
    let cache = root.path().join("cache");
    let children: Vec<_> = (0..3)
        .map(|_| {
            let mut a = args.clone();
            a.push("--cache".into());
            a.push(cache.to_str().unwrap().into());
            Command::new(idc())
                .args(&a)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut condensed = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["failed"], 0);
        assert_eq!(v["instances"], 9);
        assert_eq!(
            v["condensed"].as_u64().unwrap() + v["loaded"].as_u64().unwrap(),
            9,
            "{v}"
        );
        condensed += v["condensed"].as_u64().unwrap();
    }
    assert_eq!(
        condensed, 9,
        "every instance condensed exactly once across the 3 processes"
    );
    let report = run_idc_json(&[
        "inspect",
        "--cache",
        cache.to_str().unwrap(),
        "--verify",
        "--json",
    ]);
    assert_eq!(report["instances"], 9);
    assert_eq!(report["valid"], 9);
    assert_eq!(report["invalid"], serde_json::json!([]));
    assert_eq!(report["manifest_instances"], 9);

    // --shard i/n splits the instances; a second pass only loads.
    let sharded = root.path().join("sharded");
    let mut total = 0;
    for i in 0..3 {
        let v = condense_json(&args, &sharded, &["--shard", &format!("{i}/3")]);
        assert_eq!(v["instances"], 3);
        total += v["condensed"].as_u64().unwrap();
    }
    assert_eq!(total, 9);
    assert_eq!(
        shard_files(&sharded),
        shard_files(&cache),
        "sharding does not change results"
    );
    let again = condense_json(&args, &sharded, &[]);
    assert_eq!(
        (again["condensed"].as_u64(), again["loaded"].as_u64()),
        (Some(0), Some(9))
    );
}
