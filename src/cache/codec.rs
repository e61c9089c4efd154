//! Lossless pixel codec of shard format 2: a colour transform, a per-plane predictor, then zstd.
//!
//! Why these stages: a condensed patch is a natural-looking 8-bit image, so the value a pixel's
//! neighbours predict is close to the pixel; what remains (the residual, mod 256) is mostly
//! small numbers, which an entropy coder packs far better than raw pixels.
//! - Colour: RGB patches store `G, R - G + 128, B - G + 128` (mod 256; WebP lossless's "subtract
//!   green"), since the three channels of a photograph move together.
//! - Prediction: LOCO-I's median edge detector (JPEG-LS, Weinberger et al. 2000) per plane: the
//!   left or the upper neighbour at an edge, `left + up - upper_left` elsewhere; one pass each
//!   way, no side information.
//! - Entropy: zstd (already in the dependency tree through Burn's `.pth` reader) codes the
//!   residuals of the whole shard as one frame, so all patches share statistics.
//!
//! Measured on a default-flag cache of three BSD100 photographs (54 pairs, x2, 32-pixel HR
//! patches; `benches/README.md`): raw planes 207 KB; zstd alone 171 KB; with prediction
//! 120 KB; with the colour transform too 107 KB. xz instead of zstd saves 3% more, a residual
//! against the up-sampled LR patch nothing once the colour transform is in.
//!
//! Decoding never allocates more than the caller's expected size: the frame must declare exactly
//! that size before zstd's bulk decoder gets it as a fixed capacity, and a frame that decodes to
//! any other length is an error.

/// zstd level: 19 is the strongest non-"ultra" level; shards are written once and read many
/// times, and decoding speed does not depend on the level.
const ZSTD_LEVEL: i32 = 19;

/// LOCO-I's median edge detector from the left (`a`), upper (`b`) and upper-left (`c`)
/// neighbours. Outside the plane a neighbour is 0, so the first row predicts from the left
/// pixel and the first column from the upper one.
#[inline]
fn med(a: u8, b: u8, c: u8) -> u8 {
    let (lo, hi) = (a.min(b), a.max(b));
    if c >= hi {
        lo
    } else if c <= lo {
        hi
    } else {
        // c lies strictly between a and b, so a + b - c lies in [lo, hi]: no overflow.
        (a as i16 + b as i16 - c as i16) as u8
    }
}

/// Replaces every `h x w` plane of `data` (planes back to back) by its residuals.
fn predict_planes(data: &[u8], h: usize, w: usize) -> Vec<u8> {
    let mut out = vec![0u8; data.len()];
    if h * w == 0 {
        return out;
    }
    for (plane, res) in data.chunks_exact(h * w).zip(out.chunks_exact_mut(h * w)) {
        let (row0, out0) = (&plane[..w], &mut res[..w]);
        out0[0] = row0[0];
        for x in 1..w {
            out0[x] = row0[x].wrapping_sub(row0[x - 1]);
        }
        for (rows, out_row) in plane
            .windows(2 * w)
            .step_by(w)
            .zip(res[w..].chunks_exact_mut(w))
        {
            let (up, cur) = rows.split_at(w);
            out_row[0] = cur[0].wrapping_sub(up[0]);
            for x in 1..w {
                out_row[x] = cur[x].wrapping_sub(med(cur[x - 1], up[x], up[x - 1]));
            }
        }
    }
    out
}

/// Inverse of [`predict_planes`], in place (row by row: each row needs the restored one above).
fn restore_planes(data: &mut [u8], h: usize, w: usize) {
    if h * w == 0 {
        return;
    }
    for plane in data.chunks_exact_mut(h * w) {
        for x in 1..w {
            plane[x] = plane[x].wrapping_add(plane[x - 1]);
        }
        for y in 1..h {
            let (above, rest) = plane.split_at_mut(y * w);
            let (up, cur) = (&above[(y - 1) * w..], &mut rest[..w]);
            cur[0] = cur[0].wrapping_add(up[0]);
            for x in 1..w {
                cur[x] = cur[x].wrapping_add(med(cur[x - 1], up[x], up[x - 1]));
            }
        }
    }
}

/// The pixel planes a payload holds: `count` patches of `channels` planes, LR always, HR when
/// stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub count: usize,
    pub channels: usize,
    pub lr: (usize, usize),
    pub hr: Option<(usize, usize)>,
}

impl Geometry {
    fn lr_bytes(&self) -> usize {
        self.count * self.channels * self.lr.0 * self.lr.1
    }

    fn total(&self) -> usize {
        let hr = self
            .hr
            .map_or(0, |(h, w)| self.count * self.channels * h * w);
        self.lr_bytes() + hr
    }
}

/// Applies `op(value, green)` to the R and B planes of every 3-plane patch of `data`.
fn against_green(data: &mut [u8], plane: usize, op: impl Fn(u8, u8) -> u8) {
    for patch in data.chunks_exact_mut(3 * plane) {
        let (r, gb) = patch.split_at_mut(plane);
        let (g, b) = gb.split_at_mut(plane);
        for ((r, b), g) in r.iter_mut().zip(b.iter_mut()).zip(g.iter()) {
            *r = op(*r, *g);
            *b = op(*b, *g);
        }
    }
}

/// `R, G, B -> R - G + 128, G, B - G + 128` (mod 256) on every 3-plane patch of `data`.
fn subtract_green(data: &mut [u8], plane: usize) {
    against_green(data, plane, |v, g| v.wrapping_sub(g).wrapping_add(128));
}

/// Inverse of [`subtract_green`].
fn add_green(data: &mut [u8], plane: usize) {
    against_green(data, plane, |v, g| v.wrapping_add(g).wrapping_sub(128));
}

/// Colour transform and prediction of one block of `h x w` patches.
fn encode_block(data: &[u8], channels: usize, (h, w): (usize, usize)) -> Vec<u8> {
    let mut planes = data.to_vec();
    if channels == 3 && h * w > 0 {
        subtract_green(&mut planes, h * w);
    }
    predict_planes(&planes, h, w)
}

/// Inverse of [`encode_block`], in place.
fn decode_block(data: &mut [u8], channels: usize, (h, w): (usize, usize)) {
    restore_planes(data, h, w);
    if channels == 3 && h * w > 0 {
        add_green(data, h * w);
    }
}

/// Packs the LR planes and, when given, the HR planes (sizes as `g` states) into one zstd frame
/// with its content checksum (so a payload altered under a recomputed file CRC still fails).
pub(crate) fn pack(lr: &[u8], hr: Option<&[u8]>, g: &Geometry) -> std::io::Result<Vec<u8>> {
    let mut residuals = encode_block(lr, g.channels, g.lr);
    if let (Some(hr), Some(size)) = (hr, g.hr) {
        residuals.extend(encode_block(hr, g.channels, size));
    }
    let mut z = zstd::bulk::Compressor::new(ZSTD_LEVEL)?;
    z.include_checksum(true)?;
    z.compress(&residuals)
}

/// Unpacks what [`pack`] wrote for geometry `g`: LR planes then HR planes. The payload must be
/// exactly one zstd frame that declares `g`'s size, with the header bits [`pack`] leaves at zero
/// still zero (so a payload has one spelling), and that decodes to exactly that size with a
/// matching content checksum. Nothing is allocated before the declared size matches `g`'s,
/// which the shard header has already bounded.
pub(crate) fn unpack(packed: &[u8], g: &Geometry) -> Result<Vec<u8>, String> {
    use zstd::zstd_safe;
    let total = g.total();
    let frame_len = zstd_safe::find_frame_compressed_size(packed)
        .map_err(|_| "payload is not a zstd frame".to_string())?;
    if frame_len != packed.len() {
        return Err(format!(
            "payload holds {} bytes after its frame",
            packed.len() - frame_len
        ));
    }
    // Frame header descriptor: bit 4 is unused, bit 3 reserved; bit 2 is the checksum flag.
    if packed.get(4).is_none_or(|d| d & 0x1c != 0x04) {
        return Err("payload frame header is not the one this format writes".into());
    }
    match zstd_safe::get_frame_content_size(packed) {
        Ok(Some(n)) if n == total as u64 => {}
        _ => {
            return Err(format!(
                "payload does not declare the {total} bytes its dimensions need"
            ));
        }
    }
    let mut data = zstd::bulk::decompress(packed, total).map_err(|e| format!("payload: {e}"))?;
    if data.len() != total {
        return Err(format!(
            "payload decodes to {} bytes, dimensions need {total}",
            data.len()
        ));
    }
    let (lr, hr) = data.split_at_mut(g.lr_bytes());
    decode_block(lr, g.channels, g.lr);
    if let Some(size) = g.hr {
        decode_block(hr, g.channels, size);
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictor_round_trips_every_value_and_shape() {
        for (h, w) in [(1, 1), (1, 7), (5, 1), (4, 6), (9, 9)] {
            let data: Vec<u8> = (0..3 * h * w).map(|i| (i * 97 % 256) as u8).collect();
            let mut r = predict_planes(&data, h, w);
            assert_eq!(r.len(), data.len());
            restore_planes(&mut r, h, w);
            assert_eq!(r, data, "{h}x{w}");
        }
    }

    #[test]
    fn colour_transform_round_trips_every_value() {
        let mut data: Vec<u8> = (0..3 * 256 * 2).map(|i| (i * 89 % 256) as u8).collect();
        let orig = data.clone();
        subtract_green(&mut data, 256);
        assert_ne!(data, orig);
        add_green(&mut data, 256);
        assert_eq!(data, orig);
        // Grey pixels (R = G = B) become 128 in both difference planes.
        let mut grey: Vec<u8> = [7u8, 200].repeat(3);
        subtract_green(&mut grey, 2);
        assert_eq!(grey, [128, 128, 7, 200, 128, 128]);
    }

    #[test]
    fn smooth_planes_leave_small_residuals() {
        // A ramp: off the borders every residual is the smaller of the two steps (MED takes
        // the larger neighbour when the corner is below both), one small repeated value.
        let (h, w) = (8, 8);
        let data: Vec<u8> = (0..h * w).map(|i| (i / w * 3 + i % w * 2) as u8).collect();
        let r = predict_planes(&data, h, w);
        let mut inner = (1..h).flat_map(|y| (1..w).map(move |x| (y, x)));
        assert!(inner.all(|(y, x)| r[y * w + x] == 2));
    }

    #[test]
    fn pack_unpack_is_lossless_and_length_checked() {
        let g = Geometry {
            count: 2,
            channels: 3,
            lr: (4, 5),
            hr: Some((8, 10)),
        };
        let lr: Vec<u8> = (0..2 * 3 * 4 * 5).map(|i| (i * 31 % 256) as u8).collect();
        let hr: Vec<u8> = (0..2 * 3 * 8 * 10).map(|i| (i * 7 % 256) as u8).collect();
        let packed = pack(&lr, Some(&hr), &g).unwrap();
        let both = [lr.clone(), hr].concat();
        assert_eq!(unpack(&packed, &g).unwrap(), both);
        let lr_only = Geometry { hr: None, ..g };
        let packed_lr = pack(&lr, None, &lr_only).unwrap();
        assert_eq!(unpack(&packed_lr, &lr_only).unwrap(), lr);
        // Another geometry or a cut frame is an error; a flipped byte is an error or (in a
        // field that does not change the content) the same pixels, never other pixels.
        assert!(unpack(&packed, &lr_only).is_err());
        assert!(unpack(&packed_lr, &g).is_err());
        assert!(unpack(&packed[..packed.len() / 2], &g).is_err());
        for i in 0..packed.len() {
            let mut b = packed.clone();
            b[i] ^= 0x40;
            if let Ok(d) = unpack(&b, &g) {
                assert_eq!(d, both, "flip at {i} decoded to other pixels");
            }
        }
    }
}
