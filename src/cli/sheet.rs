//! The contact sheet of a shard cache (`contact-sheet.png`, written by `idc condense`, drawn on
//! demand by `idc inspect --sheet`): one row per instance (the first [`SHEET_ROWS`] by name),
//! with the source image's thumbnail, [`SHEET_PATCHES`] real LR patches cut from it, and up to
//! [`SHEET_PATCHES`] synthetic LR patches with their teacher HR targets, each column labelled.
//! Small patches are enlarged by pixel repetition, so what the network sees stays visible.

use crate::cache::complete_shard;
use crate::cache::manifest::Manifest;
use crate::cache::shard::read_shard;
use crate::config::PatchConfig;
use crate::image::Image;
use crate::image::io::{decode_image, save_png};
use crate::image::resize::imresize;
use crate::image::sheet::{Canvas, text_height};
use crate::source::HashCache;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// File name of the sheet `idc condense` writes into the cache.
pub const SHEET_FILE: &str = "contact-sheet.png";
/// Instances (rows) drawn at most.
pub const SHEET_ROWS: usize = 4;
/// Patches drawn per kind (real LR, synthetic LR, teacher HR).
pub const SHEET_PATCHES: usize = 3;
/// Side of one cell in pixels.
const CELL: usize = 96;
const GAP: usize = 4;
const ZOOM: usize = 1;
const COLUMNS: usize = 1 + 3 * SHEET_PATCHES;

/// `(width, height)` of a sheet with `rows` instances.
pub const fn sheet_size(rows: usize) -> (usize, usize) {
    let width = GAP + COLUMNS * (CELL + GAP);
    let header = GAP + text_height(ZOOM) + GAP;
    (width, header + rows * (text_height(ZOOM) + CELL + 2 * GAP))
}

/// Draws the sheet of `cache` into `out` and returns its `(width, height)`. Source images are
/// looked up under `hr_dir` (instance names are paths relative to it), else among the paths the
/// cache's `sources.json` recorded; a source that cannot be found leaves its cells blank.
pub fn write_sheet(
    cache: &Path,
    hr_dir: Option<&Path>,
    out: &Path,
) -> anyhow::Result<(usize, usize)> {
    let manifest = Manifest::read(cache)?;
    let rows: Vec<_> = manifest.instances.values().take(SHEET_ROWS).collect();
    anyhow::ensure!(
        !rows.is_empty(),
        "no shard listed in {}/manifest.json",
        cache.display()
    );
    let known = HashCache::open(cache).paths();
    // LR-only shards get their HR column from the recorded teacher; without it, it stays blank.
    let regen = super::teacher_ref::cache_regenerator(cache).unwrap_or_else(|e| {
        eprintln!("warning: contact sheet without teacher HR: {e:#}");
        None
    });
    let (width, height) = sheet_size(rows.len());
    let mut canvas = Canvas::new(width, height);
    for (k, label) in ["source", "real LR", "synthetic LR", "teacher HR"]
        .iter()
        .enumerate()
    {
        let col = if k == 0 {
            0
        } else {
            1 + (k - 1) * SHEET_PATCHES
        };
        canvas.text(label, x_of(col), GAP, ZOOM, SHEET_PATCHES * (CELL + GAP));
    }
    let mut y = GAP + text_height(ZOOM) + GAP;
    for entry in rows {
        let mut shard = read_shard(&cache.join(&entry.file), None)
            .with_context(|| format!("reading the shard of {}", entry.instance))?;
        if let Some(regen) = regen.as_deref().filter(|_| !shard.has_hr()) {
            shard = complete_shard(shard, Some(regen))?;
        }
        let label = format!(
            "{} ({} pairs, x{})",
            entry.instance,
            shard.lr.len(),
            shard.scale
        );
        canvas.text(&label, GAP, y, ZOOM, width - 2 * GAP);
        let top = y + text_height(ZOOM);
        if let Some(src) = source_path(&entry.instance, hr_dir, &known) {
            draw_source(&mut canvas, &src, &shard, top);
        }
        // An LR-only shard (--store lr-only) leaves the teacher HR column blank.
        for (i, lr) in shard.lr.iter().take(SHEET_PATCHES).enumerate() {
            draw_cell(&mut canvas, lr, x_of(1 + SHEET_PATCHES + i), top)?;
            if let Some(hr) = shard.hr.get(i) {
                draw_cell(&mut canvas, hr, x_of(1 + 2 * SHEET_PATCHES + i), top)?;
            }
        }
        y = top + CELL + 2 * GAP;
    }
    save_png(out, &canvas.into_image())?;
    Ok((width, height))
}

fn x_of(col: usize) -> usize {
    GAP + col * (CELL + GAP)
}

/// The source image of `instance`: under `hr_dir`, else the recorded path ending in it.
fn source_path(instance: &str, hr_dir: Option<&Path>, known: &[PathBuf]) -> Option<PathBuf> {
    if let Some(dir) = hr_dir {
        return Some(dir.join(instance)).filter(|p| p.is_file());
    }
    known
        .iter()
        .find(|p| p.ends_with(instance) && p.is_file())
        .cloned()
}

/// The thumbnail and [`SHEET_PATCHES`] evenly spaced real LR patches (the shard's patch size on
/// a non-overlapping grid). A source that no longer decodes is left out of the picture.
fn draw_source(canvas: &mut Canvas, src: &Path, shard: &crate::cache::Shard, top: usize) {
    let Ok(img) = decode_image(src) else {
        return;
    };
    let _ = draw_cell(canvas, &img, x_of(0), top);
    let Some(lr) = shard.lr.first() else {
        return;
    };
    let side = lr.height * shard.scale;
    let patch = PatchConfig {
        scale: shard.scale,
        hr_patch: side,
        step: side,
        thresh_size: 0,
        task: None,
    }
    .check();
    let Ok(pairs) = patch.and_then(|p| crate::image::patch::instance_pairs(&img, &p)) else {
        return;
    };
    let n = pairs.len();
    for i in 0..SHEET_PATCHES.min(n) {
        let pick = i * n / SHEET_PATCHES.min(n);
        let _ = draw_cell(canvas, &pairs[pick].lr, x_of(1 + i), top);
    }
}

/// Draws `img` centred in the cell at `(x, top)`: shrunk (bicubic) when larger than the cell,
/// else enlarged by the largest whole factor that fits.
fn draw_cell(canvas: &mut Canvas, img: &Image, x: usize, top: usize) -> anyhow::Result<()> {
    let side = img.height.max(img.width);
    let (img, zoom) = if side > CELL {
        (imresize(img, CELL as f64 / side as f64)?, 1)
    } else {
        (img.clone(), CELL / side)
    };
    let (w, h) = (img.width * zoom, img.height * zoom);
    canvas.blit(
        &img,
        x + (CELL - w.min(CELL)) / 2,
        top + (CELL - h.min(CELL)) / 2,
        zoom,
    );
    Ok(())
}
