//! Train EDSR on DIV2K-style HR images with Burn, then switch to IDC-condensed data.
//!
//! The whole-data program builds its training set with one constructor:
//!
//! ```ignore
//! let train_set = SrPatchDataset::new(&hr_dir, patch)?;
//! ```
//!
//! Training on condensed data replaces that constructor with the `IdcDataset` builder (the item
//! type, `SrPair`, and everything downstream stay the same):
//!
//! ```ignore
//! let train_set = IdcDataset::builder(&hr_dir, patch).with_ratio(0.1)
//!     .with_cache_dir(cache).with_condense_ahead(4).build()?; // built-in pretrained models
//! ```
//!
//! The first run condenses each image on first access (a background worker condenses ahead of
//! the loader) and caches one shard per image; later runs, other workers and other machines load
//! the shards. The condensation progress (instances done/total, ETA) is a burn-train numeric
//! train metric: pass it with `TrainOptions::with_progress(train_set.progress_metric())` to
//! `train_sr` (as below), or register it on your own `SupervisedTraining` with
//! `.with_idc_hooks(&IdcHooks::new().with_dataset(&train_set))` (`burn_idc::IdcTrainingExt`).
//!
//! Run (both variants are exercised; `IDC_VARIANT=idc` selects the condensed one):
//!
//! ```text
//! cargo run --example swap_div2k -- [HR_DIR] [ITERS]
//! IDC_VARIANT=idc cargo run --example swap_div2k -- [HR_DIR] [ITERS]
//! ```
//!
//! `HR_DIR` defaults to `$IDC_DATA/train`, else the four built-in photographs. The IDC variant
//! condenses with `IDC_EXTRACTOR=<model dir>` (as extractor and teacher) or, by default, the
//! built-in pretrained model of the scale (`models/README.md`).

use burn_idc::{
    IdcDataset, PatchConfig, SrPatchDataset, TrainBackend, TrainConfig, TrainOptions,
    default_device, load_model_dir, train_sr, write_photos,
};
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    burn_idc::tune_allocator();
    let mut args = std::env::args().skip(1);
    let hr_dir = match args.next() {
        Some(d) => PathBuf::from(d),
        None => match std::env::var_os("IDC_DATA") {
            Some(d) => PathBuf::from(d).join("train"),
            None => {
                let d = std::env::temp_dir().join("swap_div2k_photos");
                write_photos(&d)?;
                eprintln!("using the 4 built-in photographs in {}", d.display());
                d
            }
        },
    };
    let iters: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(20);
    let scale = 2;
    let patch = PatchConfig {
        scale,
        hr_patch: 48,
        step: 48,
        thresh_size: 0,
        task: None,
    }
    .check()?;
    let device = default_device();
    let out = std::env::temp_dir().join(format!("swap_div2k_{}", std::process::id()));

    let mut config = TrainConfig::new("edsr-tiny", scale, iters);
    config.batch = 4;
    config.lr_patch = patch.lr_patch();
    let config = config.check()?;

    let summary = if std::env::var("IDC_VARIANT").as_deref() == Ok("idc") {
        // --- condensed data: the 1-3 changed lines ------------------------------------------
        let builder = IdcDataset::builder(&hr_dir, patch).with_ratio(0.1);
        // Without IDC_EXTRACTOR the builder uses the built-in pretrained model of the scale.
        let builder = match std::env::var_os("IDC_EXTRACTOR") {
            Some(dir) => {
                let extractor = load_model_dir::<TrainBackend>(dir.as_ref(), &device)?.0;
                // `clone`, not a copy: the CUDA device is not `Copy` (one line for both).
                #[allow(clippy::clone_on_copy)]
                let d = device.clone();
                builder.with_models::<TrainBackend, _, _>(extractor.clone(), extractor, d)
            }
            None => builder,
        };
        let train_set = builder
            .with_cache_dir(out.join("idc-cache"))
            .with_condense_ahead(4)
            .build()?;
        eprintln!(
            "IdcDataset: {} condensed pairs from {} images",
            train_set.len(),
            train_set.num_instances()
        );
        let options =
            TrainOptions::new(config, out.join("run")).with_progress(train_set.progress_metric());
        train_sr::<TrainBackend, _>(train_set, &options, &device)?
    } else {
        // --- whole data ----------------------------------------------------------------------
        let train_set = SrPatchDataset::new(&hr_dir, patch)?;
        eprintln!(
            "SrPatchDataset: {} pairs",
            burn::data::dataset::Dataset::len(&train_set)
        );
        train_sr::<TrainBackend, _>(
            train_set,
            &TrainOptions::new(config, out.join("run")),
            &device,
        )?
    };
    println!(
        "trained {} iterations in {:.1} s, final loss {:?}; model in {}",
        summary.iterations,
        summary.wall_seconds,
        summary.final_loss,
        summary.model_dir.display()
    );
    Ok(())
}
