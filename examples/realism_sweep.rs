//! Issue #25's realism sweep: how natural the condensed patches stay as the condensation budget
//! (iterations x learning rate) and the pixel parametrisation change, measured by
//! `condense::realism` against each image's own real LR patches. No student is trained: this
//! decides what keeps patches in gamut and free of false colour; `idc reproduce` prices it.
//!
//! ```text
//! cargo run --release --example realism_sweep -- --images $IDC_DATA/train/BSD200 \
//!     --max-images 4 --out docs/results/realism-sweep [--iters 20,100,500] \
//!     [--lrs 0.001,0.003,0.01] [--variants ref,sigmoid,...] [--extractor MODEL_DIR] [--report-only]
//! ```
//! Each cell is cached as `<out>/cells/<name>.json` (a rerun skips it) with a strip of its
//! synthetic patches; `table.md`/`table.json` and one contact sheet per variant are rewritten
//! from the cells every run, so they regenerate byte-identical (`flex` is deterministic). Wall
//! times go to `timings.md` only; `--report-only` rewrites them from the cached cells alone. Tune
//! on training images, never on the test sets.

use anyhow::{Context, Result, bail};
use burn_idc::Image;
use burn_idc::SrNet;
use burn_idc::condense::{InstanceRealism, RealismSummary, markdown_cells, spread_markdown_cells};
use burn_idc::image::{Canvas, text_height};
use burn_idc::image::{decode_image, save_png};
use burn_idc::source::{list_candidates, load_pairs, probe_image};
use burn_idc::{
    CondenseConfig, Condenser, Instance,
    condense::{InitMode, LrSchedule, PixelParam, ValidCondenseConfig},
};
use burn_idc::{PatchConfig, ValidPatchConfig};
use burn_idc::{TrainBackend, default_device};
use burn_idc::{load_model_dir, models::load_builtin};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Synthetic patches of each cell kept for the sheets (first image).
const STRIP: usize = 4;

/// One cell's result, as cached.
#[derive(Serialize, Deserialize)]
struct Cell {
    name: String,
    variant: String,
    iters: usize,
    lr: f64,
    config: ValidCondenseConfig,
    realism: RealismSummary,
    wall_s: f64,
}

struct Opts {
    images: PathBuf,
    max_images: usize,
    out: PathBuf,
    iters: Vec<usize>,
    lrs: Vec<f64>,
    variants: Vec<String>,
    extractor: Option<PathBuf>,
    /// Run nothing: tables and sheets from the cached cells only.
    report_only: bool,
}

fn parse_args() -> Result<Opts> {
    let mut o = Opts {
        images: PathBuf::from(std::env::var("IDC_DATA").unwrap_or_default()).join("train/BSD200"),
        max_images: 4,
        out: PathBuf::from("docs/results/realism-sweep"),
        iters: vec![20, 100, 500],
        lrs: vec![0.001, 0.003, 0.01],
        variants: VARIANTS.iter().map(|s| s.to_string()).collect(),
        extractor: None,
        report_only: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--report-only" {
            o.report_only = true;
            continue;
        }
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        let list = |v: &str| v.split(',').map(str::to_string).collect::<Vec<_>>();
        match flag.as_str() {
            "--images" => o.images = value.into(),
            "--max-images" => o.max_images = value.parse()?,
            "--out" => o.out = value.into(),
            "--iters" => {
                o.iters = list(&value)
                    .iter()
                    .map(|s| s.parse())
                    .collect::<Result<_, _>>()?
            }
            "--lrs" => {
                o.lrs = list(&value)
                    .iter()
                    .map(|s| s.parse())
                    .collect::<Result<_, _>>()?
            }
            "--variants" => o.variants = list(&value),
            "--extractor" => o.extractor = Some(value.into()),
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(o)
}

/// The variants, each a change to the default config at a given budget.
const VARIANTS: [&str; 8] = [
    "ref",
    "natural",
    "ins",
    "noise-init",
    "sigmoid",
    "cosine",
    "sigmoid-cosine",
    "sigmoid-cosine-chroma",
];

fn variant_config(variant: &str, iters: usize, lr: f64) -> Result<ValidCondenseConfig> {
    let mut c = CondenseConfig {
        iters,
        lr,
        // Every variant is a change to the reference (pixels clamped, full chroma step).
        // The default schedule's proportions (20% warm-up, 30% assigning, 10 refreshes).
        warmup: iters / 5,
        assign: iters * 3 / 10,
        assign_every: (iters * 3 / 100).max(1),
        ..CondenseConfig::reference()
    };
    match variant {
        "ref" => {}
        "ins" => (c.w_group, c.w_pair) = (0.0, 0.0),
        "noise-init" => c.init = InitMode::Noise,
        "sigmoid" => c.param = PixelParam::Sigmoid,
        // The default's switches (sigmoid pixels, chroma step 0.25) at this budget.
        "natural" => (c.param, c.chroma_lr) = (PixelParam::Sigmoid, 0.25),
        "cosine" => c.lr_schedule = LrSchedule::Cosine,
        "sigmoid-cosine" => (c.param, c.lr_schedule) = (PixelParam::Sigmoid, LrSchedule::Cosine),
        "sigmoid-cosine-chroma" => {
            (c.param, c.lr_schedule) = (PixelParam::Sigmoid, LrSchedule::Cosine);
            c.chroma_lr = 0.25;
        }
        other => bail!("unknown variant {other} (known: {})", VARIANTS.join(", ")),
    }
    Ok(c.check()?)
}

/// The default run's patch grid (`idc condense`: x2, HR 96, step 48).
fn patch() -> ValidPatchConfig {
    PatchConfig {
        scale: 2,
        hr_patch: 96,
        step: 48,
        thresh_size: 0,
        task: None,
    }
    .check()
    .expect("a valid grid")
}

fn instances(o: &Opts) -> Result<Vec<Instance>> {
    let mut paths = list_candidates(&o.images)?;
    paths.sort();
    paths
        .iter()
        .take(o.max_images)
        .map(|p| {
            let src = probe_image(&o.images, p, &patch())?;
            let (lr, _) = load_pairs(&src, &patch())?;
            Ok(Instance { name: src.name, lr })
        })
        .collect()
}

fn main() -> Result<()> {
    burn_idc::tune_allocator();
    let o = parse_args()?;
    let device = default_device();
    let builtin = load_builtin::<TrainBackend>(2, &device)?.0;
    let extractor: SrNet<TrainBackend> = match &o.extractor {
        Some(dir) => load_model_dir::<TrainBackend>(dir, &device)?.0,
        None => builtin.clone(),
    };
    let insts = instances(&o)?;
    let cells_dir = o.out.join("cells");
    std::fs::create_dir_all(&cells_dir)?;
    let mut cells = Vec::new();
    // Cheapest budgets first: a partial run already has every variant's short cells.
    for &iters in &o.iters {
        for variant in &o.variants {
            for &lr in &o.lrs {
                let name = format!("{variant}-i{iters}-lr{lr}");
                let file = cells_dir.join(format!("{name}.json"));
                if let Ok(bytes) = std::fs::read(&file) {
                    cells.push(serde_json::from_slice::<Cell>(&bytes)?);
                    continue;
                }
                if o.report_only {
                    continue;
                }
                let config = variant_config(variant, iters, lr)?;
                let started = Instant::now();
                let condenser =
                    Condenser::new(config.clone(), &extractor, &builtin, device.clone())?;
                let mut items = Vec::new();
                for (k, inst) in insts.iter().enumerate() {
                    // Seed = image index: each image its own draws, the same in every cell.
                    let r = condenser.condense(inst, k as u64)?;
                    if k == 0 {
                        save_strip(&r.lr, &cells_dir.join(format!("{name}.png")))?;
                    }
                    let realism = r.report.realism.context("no realism measured")?;
                    items.push(InstanceRealism {
                        instance: inst.name.clone(),
                        realism,
                    });
                }
                let cell = Cell {
                    name: name.clone(),
                    variant: variant.clone(),
                    iters,
                    lr,
                    config,
                    realism: RealismSummary::of(items).context("no images")?,
                    wall_s: started.elapsed().as_secs_f64(),
                };
                std::fs::write(&file, serde_json::to_vec_pretty(&cell)?)?;
                eprintln!("{name}: {:.1} s", cell.wall_s);
                cells.push(cell);
                write_tables(&o, &insts, &cells)?;
            }
        }
    }
    // Table order: variant (as listed), then budget, then learning rate.
    let rank = |c: &Cell| {
        o.variants
            .iter()
            .position(|v| v == &c.variant)
            .unwrap_or(usize::MAX)
    };
    cells.sort_by(|a, b| {
        (rank(a), a.iters)
            .cmp(&(rank(b), b.iters))
            .then(a.lr.total_cmp(&b.lr))
    });
    write_tables(&o, &insts, &cells)?;
    write_sheets(&o, &insts, &cells)
}

/// The first synthetic patches of a cell, side by side.
fn save_strip(lr: &[Image], path: &Path) -> Result<()> {
    let Some(first) = lr.first() else {
        return Ok(());
    };
    let (h, w) = (first.height, first.width);
    let mut canvas = Canvas::new(STRIP * (w + 2), h);
    for (i, img) in lr.iter().take(STRIP).enumerate() {
        canvas.blit(img, i * (w + 2), 0, 1);
    }
    save_png(path, &canvas.into_image())?;
    Ok(())
}

fn write_tables(o: &Opts, insts: &[Instance], cells: &[Cell]) -> Result<()> {
    let mut md = format!(
        "# Realism sweep\n\n{} images of `{}` (the first by name), x2, HR 96 / step 48, ratio \
         0.1, the built-in x2 EDSR as teacher{}; mean over the images of each measure of \
         `condense::realism` (synthetic against the image's own real LR patches).\n\n\
         | cell | out of gamut | saturation excess | hf ratio | histogram distance | fresh NCFD \
         |\n|---|---:|---:|---:|---:|---:|\n",
        insts.len(),
        o.images
            .file_name()
            .map_or("?".into(), |n| n.to_string_lossy()),
        match &o.extractor {
            Some(_) => " and a given extractor",
            None => " and extractor",
        },
    );
    if let Some(c) = cells.first() {
        let spread = spread_markdown_cells(&c.realism.mean.real_spread);
        md += &format!("| real subsets (mean ± std) | {spread} |\n");
    }
    let mut timings = String::from("| cell | wall s |\n|---|---:|\n");
    for c in cells {
        md += &format!("| {} | {} |\n", c.name, markdown_cells(&c.realism.mean));
        timings += &format!("| {} | {:.1} |\n", c.name, c.wall_s);
    }
    std::fs::write(o.out.join("table.md"), md)?;
    let json: Vec<_> = cells
        .iter()
        .map(|c| {
            serde_json::json!({"cell": c.name, "variant": c.variant, "iters": c.iters,
            "lr": c.lr, "mean": c.realism.mean})
        })
        .collect();
    std::fs::write(o.out.join("table.json"), serde_json::to_vec_pretty(&json)?)?;
    std::fs::write(o.out.join("timings.md"), timings)?;
    Ok(())
}

/// One sheet per variant: a row per (iters, lr) cell of its synthetic patches (first image),
/// under a row of real patches of the same image; enlarged twice so speckle is visible.
fn write_sheets(o: &Opts, insts: &[Instance], cells: &[Cell]) -> Result<()> {
    const ZOOM: usize = 2;
    let Some(first) = insts.first() else {
        return Ok(());
    };
    let (h, w) = (first.lr[0].height, first.lr[0].width);
    let label_w = 150;
    let row_h = ZOOM * h.max(text_height(1)) + 4;
    for variant in &o.variants {
        let mut rows: Vec<&Cell> = cells.iter().filter(|c| &c.variant == variant).collect();
        rows.sort_by(|a, b| a.iters.cmp(&b.iters).then(a.lr.total_cmp(&b.lr)));
        let mut canvas = Canvas::new(label_w + ZOOM * STRIP * (w + 2), (rows.len() + 1) * row_h);
        canvas.text("real", 2, 2, 1, label_w);
        let step = (first.lr.len() / STRIP).max(1);
        for (i, img) in first.lr.iter().step_by(step).take(STRIP).enumerate() {
            canvas.blit(img, label_w + ZOOM * i * (w + 2), 0, ZOOM);
        }
        for (r, c) in rows.iter().enumerate() {
            let y = (r + 1) * row_h;
            canvas.text(&format!("i{} lr{}", c.iters, c.lr), 2, y + 2, 1, label_w);
            let strip = o.out.join("cells").join(format!("{}.png", c.name));
            canvas.blit(&decode_image(&strip)?, label_w, y, ZOOM);
        }
        save_png(
            &o.out.join(format!("sheet-{variant}.png")),
            &canvas.into_image(),
        )?;
    }
    Ok(())
}
