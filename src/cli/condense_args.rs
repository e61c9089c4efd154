//! The command line of `idc condense`: its flags ([`Args`]), `--shard i/n`, the `--config` JSON
//! merged over the defaults (unknown fields are errors) and checked against `--ratio`, the task
//! and the HR folder. Kept apart from the run so `idc train --condense-config` reads the same
//! config files the same way.

use crate::condense::{CondenseConfig, ValidCondenseConfig};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

/// Arguments of `idc condense`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// HR images; default: $IDC_DATA/train if set, else four built-in photographs.
    #[arg(long)]
    pub hr_dir: Option<PathBuf>,
    #[arg(long, default_value = "idc-cache")]
    pub cache: PathBuf,
    #[arg(long, default_value_t = 2)]
    pub scale: usize,
    /// --task denoise --sigma S: condense clean patches for denoising (scale 1; see
    /// ARCHITECTURE.md, "Tasks"); --scale is then ignored.
    #[command(flatten)]
    pub task: super::TaskArgs,
    /// Condensation ratio; default: the `--config` file's `ratio`, else 0.1. Giving both with
    /// different values is an error.
    #[arg(long)]
    pub ratio: Option<f64>,
    /// Extractor model directory (or BasicSR `.pth` with --arch-config); default: the built-in
    /// pretrained model of --scale, else a small one trained first.
    #[arg(long)]
    pub extractor: Option<PathBuf>,
    /// BasicSR `network_g` JSON: the architecture of a `.pth` --extractor, or of the default
    /// extractor trained when --extractor is absent (default edsr-tiny).
    #[arg(long)]
    pub arch_config: Option<PathBuf>,
    #[arg(long)]
    pub teacher: Option<PathBuf>,
    /// Worker i of n: handles instances j with j mod n == i.
    #[arg(long)]
    pub shard: Option<String>,
    /// Condense config (JSON; fields left out keep their defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
    /// HR patch side of the patch grid.
    #[arg(long, default_value_t = 96)]
    pub hr_patch: usize,
    /// Stride of the patch grid.
    #[arg(long, default_value_t = 48)]
    pub step: usize,
    /// Base seed (each instance derives its own from it and its name).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Iterations for the extractor trained when --extractor is absent and no built-in model
    /// exists for --scale.
    #[arg(long, default_value_t = 300)]
    pub extractor_iters: usize,
    /// Re-condense every instance even if its shard is valid.
    #[arg(long)]
    pub rebuild: bool,
    /// Continue past failed instances (default: stop at the first); the exit status is still
    /// non-zero when any instance failed.
    #[arg(long)]
    pub keep_going: bool,
    /// Instances condensed together (one extractor pass per step over all their synthetic
    /// patches); default: 2 on the CPU (small instances are dominated by per-op overhead: the
    /// default run's condensing CPU time drops from 118 s to 72 s, benches/README.md), 16 with
    /// CUDA (`burn_idc::condense::default_batch_instances`).
    #[arg(long)]
    pub batch_instances: Option<usize>,
    /// What shards hold: `full` (LR and HR patches) or `lr-only` (HR remade on load by the
    /// teacher, which `<cache>/teacher.json` names; part of the shard key).
    #[arg(long, default_value = "full")]
    pub store: String,
}

/// Parses `i/n` with `i < n`.
pub fn parse_shard(s: &str) -> anyhow::Result<(usize, usize)> {
    let (i, n) = s
        .split_once('/')
        .with_context(|| format!("--shard {s:?}: expected i/n, e.g. 0/4"))?;
    let i: usize = i
        .trim()
        .parse()
        .with_context(|| format!("--shard {s:?}: bad index"))?;
    let n: usize = n
        .trim()
        .parse()
        .with_context(|| format!("--shard {s:?}: bad count"))?;
    if n == 0 || i >= n {
        bail!("--shard {s:?}: need 0 <= i < n");
    }
    Ok((i, n))
}

/// Reads a JSON condense config, filling fields it leaves out from the defaults. Unknown fields
/// (also nested) are errors naming the field.
pub fn read_config(path: &Path) -> anyhow::Result<CondenseConfig> {
    config_from_json(read_config_json(path)?, path)
}

/// The JSON object of a `--config` file, read with a size bound.
fn read_config_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text = crate::fsutil::read_bounded(path, 1 << 20)
        .with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// The condense config: `--config` (if any) with the command line's `--ratio`, which must agree
/// with the file's `ratio` when both are given.
pub fn resolve_config(args: &Args) -> anyhow::Result<ValidCondenseConfig> {
    let mut config = match &args.config {
        Some(p) => {
            let user = read_config_json(p)?;
            let in_file = user.get("ratio").and_then(|v| v.as_f64());
            if let (Some(cli), Some(file)) = (args.ratio, in_file)
                && cli != file
            {
                bail!(
                    "--ratio {cli} conflicts with \"ratio\": {file} in {}; give it once",
                    p.display()
                );
            }
            config_from_json(user, p)?
        }
        None => CondenseConfig::default(),
    };
    if let Some(r) = args.ratio {
        config.ratio = r;
    }
    config.validate_schedule()?;
    Ok(config.check()?)
}

fn config_from_json(user: serde_json::Value, path: &Path) -> anyhow::Result<CondenseConfig> {
    CondenseConfig::default()
        .with_json(user)
        .with_context(|| format!("{}: not a condense config", path.display()))
}

/// The HR folder to use and a note on where it came from.
pub fn resolve_hr_dir(args: &Args) -> anyhow::Result<PathBuf> {
    if let Some(d) = &args.hr_dir {
        return Ok(d.clone());
    }
    if let Some(data) = std::env::var_os("IDC_DATA").filter(|v| !v.is_empty()) {
        let d = PathBuf::from(data).join("train");
        eprintln!(
            "idc condense: no --hr-dir, using $IDC_DATA/train = {}",
            d.display()
        );
        return Ok(d);
    }
    let d = super::work_dir().join("photos");
    let files = crate::image::photos::write_photos(&d)?;
    eprintln!(
        "idc condense: no --hr-dir and IDC_DATA unset: using the {} built-in photographs \
         (public domain / CC0, assets/photos/) in {}",
        files.len(),
        d.display()
    );
    Ok(d)
}

/// `--task sr` takes `--scale` (default 2); `--task denoise --sigma S` is scale 1.
pub fn resolve_task(args: &Args) -> anyhow::Result<crate::task::Task> {
    let scale = (args.task.task == "sr").then_some(args.scale);
    args.task.resolve(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_spec() {
        assert_eq!(parse_shard("1/4").unwrap(), (1, 4));
        for bad in ["4/4", "1", "a/2", "0/0", "-1/3"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn partial_config_keeps_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.json");
        std::fs::write(&p, r#"{"iters": 3, "ncfd": {"num_freqs": 8}}"#).unwrap();
        let c = read_config(&p).unwrap();
        let d = CondenseConfig::default();
        assert_eq!(c.iters, 3);
        assert_eq!(c.ncfd.num_freqs, 8);
        assert_eq!(c.ncfd.sigma, d.ncfd.sigma);
        assert_eq!(c.groups, d.groups);
        std::fs::write(&p, r#"{"iters": "x"}"#).unwrap();
        assert!(read_config(&p).is_err());
    }
}
