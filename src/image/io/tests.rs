//! Image I/O tests.

use super::*;
use image::{ImageBuffer, Luma, Rgb, Rgba};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn png_round_trip_is_exact_for_8bit_values() {
    let d = tmp();
    let data: Vec<u8> = (0..3 * 5 * 7).map(|i| (i * 7 % 256) as u8).collect();
    let img = Image::from_u8(3, 5, 7, &data).unwrap();
    let p = d.path().join("a.png");
    save_png(&p, &img).unwrap();
    let back = decode_image(&p).unwrap();
    assert_eq!(back.to_u8(), data);
    assert_eq!(decode_rgb8(&p).unwrap().data, data);
}

#[test]
fn grey_is_replicated_and_alpha_dropped() {
    let d = tmp();
    let g = ImageBuffer::<Luma<u8>, _>::from_fn(4, 3, |x, y| Luma([(x * 10 + y) as u8]));
    let gp = d.path().join("g.png");
    g.save(&gp).unwrap();
    let im = decode_image(&gp).unwrap();
    assert_eq!((im.channels, im.height, im.width), (3, 3, 4));
    for y in 0..3 {
        for x in 0..4 {
            let v = (x * 10 + y) as f32 / 255.0;
            assert!((0..3).all(|c| im.at(c, y, x) == v));
        }
    }
    let a = ImageBuffer::<Rgba<u8>, _>::from_fn(2, 2, |x, _| Rgba([10, 20, 30, x as u8 * 200]));
    let ap = d.path().join("a.png");
    a.save(&ap).unwrap();
    let im = decode_rgb8(&ap).unwrap();
    assert_eq!(
        im.data,
        vec![10, 10, 10, 10, 20, 20, 20, 20, 30, 30, 30, 30]
    );
}

#[test]
fn sixteen_bit_is_rounded() {
    let d = tmp();
    let vals = [0u16, 128, 129, 257, 385, 386, 65535, 32896];
    let b = ImageBuffer::<Rgb<u16>, _>::from_fn(vals.len() as u32, 1, |x, _| {
        let v = vals[x as usize];
        Rgb([v, v, v])
    });
    let p = d.path().join("w.png");
    b.save(&p).unwrap();
    let im = decode_rgb8(&p).unwrap();
    let expect: Vec<u8> = vals
        .iter()
        .map(|&v| (v as f64 / 257.0).round() as u8)
        .collect();
    assert_eq!(&im.data[..vals.len()], expect.as_slice());
    assert_eq!(expect, vec![0, 0, 1, 1, 1, 2, 255, 128]);
}

#[test]
fn bad_files_give_typed_errors() {
    let d = tmp();
    let empty = d.path().join("empty.png");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(decode_image(&empty), Err(IdcError::Decode { .. })));

    let text = d.path().join("text.png");
    std::fs::write(&text, b"this is not an image at all\n").unwrap();
    assert!(matches!(decode_image(&text), Err(IdcError::Decode { .. })));

    let good = d.path().join("good.png");
    save_png(&good, &Image::zeros(3, 64, 64)).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let trunc = d.path().join("trunc.png");
    std::fs::write(&trunc, &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(decode_image(&trunc), Err(IdcError::Decode { .. })));
    let header_only = d.path().join("hdr.png");
    std::fs::write(&header_only, &bytes[..12]).unwrap();
    assert!(matches!(
        decode_image(&header_only),
        Err(IdcError::Decode { .. })
    ));

    let missing = d.path().join("missing.png");
    assert!(matches!(decode_image(&missing), Err(IdcError::Io { .. })));
}

#[test]
fn damaged_png_checksum_is_a_plain_message() {
    let d = tmp();
    let good = d.path().join("good.png");
    save_png(&good, &Image::zeros(3, 16, 16)).unwrap();
    let mut bytes = std::fs::read(&good).unwrap();
    let idat = bytes.windows(4).position(|w| w == b"IDAT").unwrap();
    let len = u32::from_be_bytes(bytes[idat - 4..idat].try_into().unwrap()) as usize;
    bytes[idat + 4 + len] ^= 0x55; // the chunk's CRC, data intact
    let bad = d.path().join("bad.png");
    std::fs::write(&bad, &bytes).unwrap();
    let msg = decode_image(&bad).unwrap_err().to_string();
    assert!(msg.contains("checksum") && !msg.contains('{'), "{msg}");
}

#[test]
fn truncated_jpeg_is_an_error_and_trailing_padding_is_not() {
    let d = tmp();
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]));
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
        .encode_image(&img)
        .unwrap();
    let whole = d.path().join("whole.jpg");
    std::fs::write(&whole, &bytes).unwrap();
    assert_eq!(decode_rgb8(&whole).unwrap().width, 64);
    for keep in [bytes.len() / 4, bytes.len() / 2, bytes.len() - 2] {
        let cut = d.path().join(format!("cut{keep}.jpg"));
        std::fs::write(&cut, &bytes[..keep]).unwrap();
        let err = decode_rgb8(&cut).unwrap_err();
        assert!(matches!(err, IdcError::Decode { .. }), "{keep}: {err}");
    }
    let mut padded = bytes.clone();
    padded.extend_from_slice(&[0, 0, 0, 0]);
    let pad = d.path().join("padded.jpg");
    std::fs::write(&pad, &padded).unwrap();
    assert_eq!(decode_rgb8(&pad).unwrap().height, 48);
}

#[test]
fn pixel_limit_is_checked_from_the_header() {
    let d = tmp();
    let p = d.path().join("big.png");
    save_png(&p, &Image::zeros(3, 20, 30)).unwrap();
    assert!(decode_image_with_limit(&p, 600).is_ok());
    assert!(matches!(
        decode_image_with_limit(&p, 599),
        Err(IdcError::InvalidInput(_))
    ));
    // A header that claims 100000 x 100000 pixels is refused without decoding anything.
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bytes[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let huge = d.path().join("huge.png");
    std::fs::write(&huge, &bytes).unwrap();
    assert!(decode_image(&huge).is_err());
}

#[test]
fn list_images_is_recursive_sorted_and_case_insensitive() {
    let d = tmp();
    let root = d.path();
    std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
    std::fs::create_dir_all(root.join("dir.png")).unwrap();
    for f in [
        "b.PNG",
        "a.jpg",
        "sub/c.bmp",
        "sub/deeper/d.TIFF",
        "notes.txt",
        "dir.png/e.jpeg",
    ] {
        std::fs::write(root.join(f), b"x").unwrap();
    }
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.join("nowhere.png"), root.join("dangling.png")).unwrap();
    let got: Vec<String> = list_images(root)
        .unwrap()
        .iter()
        .map(|p| {
            p.strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    let mut expect = vec![
        "a.jpg",
        "b.PNG",
        "dir.png/e.jpeg",
        "sub/c.bmp",
        "sub/deeper/d.TIFF",
    ];
    if cfg!(unix) {
        expect.insert(0, "dangling.png");
        expect.sort();
    }
    assert_eq!(got, expect);
    if cfg!(unix) {
        assert!(matches!(
            decode_image(&root.join("dangling.png")),
            Err(IdcError::Io { .. })
        ));
    }
    assert!(list_images(&root.join("absent")).is_err());
}

#[test]
fn save_png_rounds_and_clips() {
    let d = tmp();
    let img = Image::new(
        1,
        1,
        5,
        vec![-0.5, 0.6 / 255.0, 1.49 / 255.0, 2.0, f32::NAN],
    )
    .unwrap();
    let p = d.path().join("q.png");
    save_png(&p, &img).unwrap();
    let back = decode_rgb8(&p).unwrap();
    assert_eq!(&back.data[..5], &[0, 1, 1, 255, 0]);
    // Halves go to even, like NumPy.
    assert_eq!(quantize_u8(0.5 / 255.0), 0);
    assert_eq!(quantize_u8(1.5 / 255.0), 2);
    assert_eq!(quantize_u8(2.5 / 255.0), 2);
    // No temporary files left behind.
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
}
