//! The denoising presets (the paper's Table 5 analogue, issue #19): a ratio table over the
//! whole pool at sigma 50, the identity teacher, tested on CBSD68, Kodak24 and McMaster.

use super::{Preset, RatioRow, RatioTable, TrainSpec};
use crate::condense::CondenseConfig;
use crate::task::Task;

impl Preset {
    /// T91 + BSD200 at sigma 50, 48x48 clean patches, EDSR-tiny (no up-sampler) students of
    /// 1000 iterations, 3 seeds; rows Whole, Random 10% / 1%, IDC 1% / 10% (`table5.md`), and
    /// the noisy input as the reference. Every set holds clean patches; students and the
    /// extractor draw fresh noise per sample; IDC's teacher is the identity. Not run to
    /// completion yet; estimated from the SR `cpu` preset's measured stage times (scale-1
    /// students on 32x32 crops are cheaper than x2 ones; condensation at 48x48 with 20 steps
    /// costs about as much as SR's at 40): extractor ~15 min, two IDC sets ~2.5 h, 15 students
    /// ~3 h, in all about 6 hours. `ratio` and `seeds_baselines` belong to the main table,
    /// which denoising does not run.
    pub fn denoise_cpu() -> Preset {
        let condense = CondenseConfig {
            iters: 20,
            warmup: 5,
            assign: 5,
            assign_every: 5,
            freq_bank: 4,
            ..CondenseConfig::default()
        };
        let spec = |iters, valid_every| TrainSpec {
            arch: "edsr-tiny".into(),
            iters,
            batch: 16,
            lr_patch: 32,
            valid_every,
            lr: None,
        };
        let rows = [
            ("Whole", None),
            ("Random", Some(0.1)),
            ("Random", Some(0.01)),
            ("IDC", Some(0.01)),
            ("IDC", Some(0.1)),
        ];
        Preset {
            name: "denoise-cpu".into(),
            scale: 1,
            task: Some(Task::Denoise { sigma: 50.0 }),
            hr_patch: 48,
            step: 48,
            max_train_images: None,
            ratio: 0.1,
            extractor: spec(1000, 250),
            teacher: None,
            student: spec(1000, 250),
            more_students: Vec::new(),
            holdout_images: None,
            seeds_main: 3,
            seeds_baselines: 1,
            condense,
            ablation: None,
            max_test_images: None,
            test_sets: ["CBSD68", "Kodak24", "McMaster"].map(String::from).to_vec(),
            main_table: false,
            sweep: None,
            ratio_table: Some(RatioTable {
                name: "table5".into(),
                rows: rows.map(|(m, r)| RatioRow::new(m, r)).to_vec(),
                student: None,
            }),
        }
    }

    /// Minutes on 2 cores: the whole denoising pipeline on 4 training and 2 test images per set.
    pub fn denoise_smoke() -> Preset {
        let mut p = Self::denoise_cpu();
        p.name = "denoise-smoke".into();
        p.max_train_images = Some(4);
        p.max_test_images = Some(2);
        p.hr_patch = 32;
        p.step = 32;
        p.extractor = TrainSpec::tiny(4);
        p.student = TrainSpec::tiny(4);
        p.seeds_main = 2;
        p.condense.iters = 4;
        p.condense.warmup = 1;
        p.condense.assign = 1;
        p.condense.assign_every = 1;
        p.condense.eval_draws = 1;
        p.condense.ncfd.num_freqs = 32;
        p
    }
}
