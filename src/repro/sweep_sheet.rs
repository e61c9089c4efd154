//! `sweep-sheet.png` (issue #25): the first LR patches of one image in every finished
//! budget-sweep set, under the random control's real ones, to see what a budget does to the
//! patches. Drawn from the stage cache (a run, or `--report-only` beside its work folder); the
//! report writer alone, which has only `run.json`, does not write it.

use crate::cache::shard::read_shard;
use crate::error::{IdcError, Result};
use crate::image::Image;
use crate::image::io::save_png;
use crate::image::sheet::{Canvas, text_height};
use std::path::{Path, PathBuf};

/// Patches shown per set.
const PATCHES: usize = 6;
/// Patch magnification (LR patches are small).
const ZOOM: usize = 2;
/// Width of the label column (26 characters of the 8-pixel font).
const LABEL_WIDTH: usize = 8 * 26;

/// The first [`PATCHES`] LR patches of the first shard (by file name: the same image in every
/// set) in `shards`; none when the folder has no shard.
fn first_patches(shards: &Path) -> Result<Vec<Image>> {
    let entries = std::fs::read_dir(shards).map_err(|e| IdcError::io(shards, e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "shard"))
        .collect();
    files.sort();
    let Some(first) = files.first() else {
        return Ok(Vec::new());
    };
    let mut lr = read_shard(first, None)?.lr;
    lr.truncate(PATCHES);
    Ok(lr)
}

/// One labelled row per `(label, shards folder)` that has patches, written to `path`; nothing
/// is written when no row has any.
pub(crate) fn write_sweep_sheet(rows: &[(String, PathBuf)], path: &Path) -> Result<()> {
    let mut strips = Vec::new();
    for (label, dir) in rows {
        let lr = first_patches(dir)?;
        if !lr.is_empty() {
            strips.push((label, lr));
        }
    }
    let Some(patch) = strips.first().map(|(_, lr)| &lr[0]) else {
        return Ok(());
    };
    let (w, h) = (patch.width * ZOOM, patch.height * ZOOM);
    let row_height = h.max(text_height(1)) + 2;
    let mut canvas = Canvas::new(LABEL_WIDTH + PATCHES * (w + 2), strips.len() * row_height);
    for (r, (label, lr)) in strips.iter().enumerate() {
        let y = r * row_height;
        canvas.text(label, 0, y + h / 2, 1, LABEL_WIDTH);
        for (i, img) in lr.iter().enumerate() {
            canvas.blit(img, LABEL_WIDTH + i * (w + 2), y, ZOOM);
        }
    }
    save_png(path, &canvas.into_image())
}
