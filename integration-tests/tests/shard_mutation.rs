//! Deterministic mutation test of the shard and manifest readers (issue #16; the cargo-fuzz
//! target in `fuzz/` explores the same decoder without bounds, this runs in CI without nightly).
//!
//! Over 2,000 mutations of valid shards and manifests (byte flips, truncations, appended bytes,
//! huge length fields with a recomputed checksum, swapped files, special files): each must give
//! a typed error or a valid shard that re-encodes to the same bytes, never a panic, a hang
//! (> 5 s) or more than 64 MiB of allocation. A counting global allocator (this test binary
//! only) measures the allocation peak of every case.

use burn_idc::IdcError;
use burn_idc::Image;
use burn_idc::cache::{self, Shard, decode_shard, encode_shard, encode_shard_as, read_shard};
use burn_idc::{
    ShardCache,
    cache::{Manifest, inspect_cache},
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        CURRENT.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            CURRENT.fetch_sub(l.size(), Ordering::Relaxed);
            let now = CURRENT.fetch_add(new, Ordering::Relaxed) + new;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const MAX_ALLOC: usize = 64 << 20;
const MAX_TIME: Duration = Duration::from_secs(5);

/// Runs one case: no panic, within [`MAX_TIME`], allocating at most [`MAX_ALLOC`] above the
/// level it started at.
fn case(what: &str, f: impl FnOnce()) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let t0 = Instant::now();
    if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        panic!("{what}: panicked: {msg}");
    }
    let took = t0.elapsed();
    assert!(took < MAX_TIME, "{what}: took {took:?}");
    let grew = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    assert!(grew <= MAX_ALLOC, "{what}: allocated {grew} bytes");
}

/// Decoding `bytes` is a typed cache error or a shard that re-encodes (in the layout version it
/// was read in) to exactly `bytes`.
fn check_decode(what: &str, bytes: &[u8]) {
    match decode_shard(bytes, Path::new("m.shard"), None) {
        Ok(s) => {
            let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
            let again = encode_shard_as(&s, version).unwrap();
            assert_eq!(again, bytes, "{what}: not canonical");
        }
        Err(IdcError::Cache { .. }) => {}
        Err(e) => panic!("{what}: untyped error {e}"),
    }
}

fn with_crc(mut b: Vec<u8>) -> Vec<u8> {
    let n = b.len() - 4;
    let crc = integration_tests::crc32(&b[..n]);
    b[n..].copy_from_slice(&crc.to_le_bytes());
    b
}

fn sample(n: usize, fp: &str) -> Shard {
    let im = |c: usize, h: usize, w: usize, s: usize| {
        let data = (0..c * h * w)
            .map(|i| ((i * 37 + s * 11) % 256) as f32 / 255.0)
            .collect();
        Image::new(c, h, w, data).unwrap()
    };
    Shard {
        fingerprint: fp.into(),
        scale: 2,
        lr: (0..n).map(|i| im(3, 3, 4, i)).collect(),
        hr: (0..n).map(|i| im(3, 6, 8, 9 + i)).collect(),
    }
}

/// Byte mutations of one encoded shard; returns how many cases ran.
fn byte_mutations(base: &[u8], dir: &Path) -> usize {
    let mut n = 0;
    let file = dir.join("mut.shard");
    let mut run = |what: String, b: Vec<u8>| {
        case(&what, || {
            check_decode(&what, &b);
            // Through the file readers too (every 5th case: they share the decoder).
            if n % 5 == 0 {
                std::fs::write(&file, &b).unwrap();
                let r = read_shard(&file, None);
                assert!(matches!(r, Ok(_) | Err(IdcError::Cache { .. })), "{what}");
                let _ = cache::read_header(&file);
            }
        });
        n += 1;
    };
    for i in 0..base.len() {
        for mask in [0x01u8, 0x80, 0xFF] {
            let mut b = base.to_vec();
            b[i] ^= mask;
            run(format!("flip byte {i} mask {mask:#x}"), b);
        }
    }
    for len in 0..base.len() {
        run(format!("truncate to {len}"), base[..len].to_vec());
    }
    for extra in 1..=40usize {
        let mut b = base.to_vec();
        b.extend((0..extra).map(|k| (k * 29) as u8));
        run(format!("append {extra} bytes"), b);
    }
    // Header u32 fields (version, fp_len, then after the fingerprint the 7 dims, and format 2's
    // flags and payload length) set to huge or edge values with a valid checksum, so only the
    // size checks stand in the way.
    let fp_len = u32::from_le_bytes(base[12..16].try_into().unwrap()) as usize;
    let version = u32::from_le_bytes(base[8..12].try_into().unwrap());
    let header_fields = if version == 1 { 7 } else { 9 };
    let mut fields = vec![8usize, 12];
    fields.extend((0..header_fields).map(|k| 16 + fp_len + 4 * k));
    for off in fields {
        for v in [
            0u32,
            1,
            2,
            3,
            0xFFFF,
            1 << 20,
            0x7FFF_FFFF,
            0xFFFF_FFFE,
            u32::MAX,
        ] {
            let mut b = base.to_vec();
            b[off..off + 4].copy_from_slice(&v.to_le_bytes());
            run(
                format!("field at {off} = {v:#x} (checksum fixed)"),
                with_crc(b),
            );
        }
    }
    // Format 2: every payload byte flipped under a recomputed file checksum (a forged file, not
    // a damaged one): the codec's own checks (one frame, declared size, content checksum) must
    // refuse it or yield the very same pixels (some entropy-table bits have two spellings).
    if version >= 2 {
        let original = decode_shard(base, Path::new("m.shard"), None).unwrap();
        for i in 16 + fp_len + 4 * header_fields..base.len() - 4 {
            let mut b = base.to_vec();
            b[i] ^= 0x10;
            let what = format!("payload byte {i} flipped (checksum fixed)");
            case(&what, || {
                match decode_shard(&with_crc(b), Path::new("m.shard"), None) {
                    Ok(s) => assert_eq!(s, original, "{what}: other pixels"),
                    Err(IdcError::Cache { .. }) => {}
                    Err(e) => panic!("{what}: untyped error {e}"),
                }
            });
            n += 1;
        }
    }
    n
}

/// Manifest bytes flipped and truncated: `Manifest::read` and `inspect_cache` return, typed.
fn manifest_mutations(dir: &Path) -> usize {
    let c = ShardCache::open(dir).unwrap();
    for (i, name) in ["a.png", "b.png"].iter().enumerate() {
        c.put(name, &sample(i + 1, &format!("fp-{name}"))).unwrap();
    }
    let path = dir.join(burn_idc::cache::MANIFEST_NAME);
    let good = std::fs::read(&path).unwrap();
    let mut n = 0;
    let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
    for i in (0..good.len()).step_by(3) {
        let mut b = good.clone();
        b[i] ^= 0x20;
        variants.push((format!("manifest flip {i}"), b));
    }
    for len in (0..good.len()).step_by(7) {
        variants.push((format!("manifest truncate {len}"), good[..len].to_vec()));
    }
    variants.push(("manifest huge number".into(), {
        let t = String::from_utf8(good.clone()).unwrap();
        t.replacen("\"patches\": 1", "\"patches\": 99999999999999999999999", 1)
            .into_bytes()
    }));
    for (what, b) in variants {
        std::fs::write(&path, &b).unwrap();
        case(&what, || {
            match Manifest::read(dir) {
                Ok(_) | Err(IdcError::Cache { .. }) => {}
                Err(e) => panic!("{what}: untyped error {e}"),
            }
            inspect_cache(dir, true).unwrap();
        });
        n += 1;
    }
    std::fs::write(&path, &good).unwrap();
    n
}

/// Swapped and copied shard files, and special files at shard and manifest paths.
fn file_mutations(dir: &Path) -> usize {
    let c = ShardCache::open(dir).unwrap();
    let names = ["a.png", "b.png", "c.png"];
    for (i, name) in names.iter().enumerate() {
        c.put(name, &sample(i + 1, &format!("fp-{name}"))).unwrap();
    }
    let p = |n: &str| c.shard_path(n);
    let mut n = 0;
    case("swap a and b", || {
        let tmp = dir.join("t");
        std::fs::rename(p("a.png"), &tmp).unwrap();
        std::fs::rename(p("b.png"), p("a.png")).unwrap();
        std::fs::rename(&tmp, p("b.png")).unwrap();
        assert_eq!(inspect_cache(dir, true).unwrap().invalid.len(), 2);
        assert!(c.load("a.png", "fp-a.png").is_err());
    });
    n += 1;
    case("copy c over a", || {
        std::fs::copy(p("c.png"), p("a.png")).unwrap();
        assert!(c.load("a.png", "fp-a.png").is_err());
    });
    n += 1;
    let zero = p("a.png");
    std::fs::remove_file(&zero).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let fifo = p("b.png");
    std::fs::remove_file(&fifo).unwrap();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let sparse = p("c.png");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(3 << 30)
        .unwrap();
    for (what, f) in [
        ("/dev/zero", &zero),
        ("FIFO", &fifo),
        ("3 GiB sparse", &sparse),
    ] {
        case(what, || {
            assert!(matches!(read_shard(f, None), Err(IdcError::Cache { .. })));
            assert!(cache::read_header(f).is_err());
        });
        n += 1;
    }
    case("inspect with special files", || {
        let r = inspect_cache(dir, true).unwrap();
        assert_eq!(r.invalid.len(), 3);
    });
    n += 1;
    n
}

#[test]
fn shard_and_manifest_readers_survive_2000_mutations() {
    let d = tempfile::tempdir().unwrap();
    let mut total = 0;
    for (n, fp) in [(2, "fingerprint-abc"), (0, "e"), (1, "")] {
        let base = encode_shard(&sample(n, fp)).unwrap();
        total += byte_mutations(&base, d.path());
        // The older layout, still read, and format 2 with LR only.
        total += byte_mutations(&encode_shard_as(&sample(n, fp), 1).unwrap(), d.path());
        if n > 0 {
            let mut lr_only = sample(n, fp);
            lr_only.hr.clear();
            total += byte_mutations(&encode_shard(&lr_only).unwrap(), d.path());
        }
    }
    let m = tempfile::tempdir().unwrap();
    total += manifest_mutations(m.path());
    let f = tempfile::tempdir().unwrap();
    total += file_mutations(f.path());
    eprintln!("{total} mutations: no panic, hang or large allocation");
    assert!(total >= 2000, "only {total} mutations");
}
