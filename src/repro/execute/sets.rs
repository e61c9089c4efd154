//! The model stages (extractor, teacher), the condensed and selected sets, and the reference
//! evaluations.

use super::*;

/// The model stages, the sets and the reference evaluations.
impl Ctx<'_> {
    pub(super) fn model(
        &self,
        role: &'static str,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<()> {
        let spec = match role {
            "extractor" => &self.preset.extractor,
            STRONG_EXTRACTOR => self
                .sweep()?
                .strong_extractor
                .as_ref()
                .ok_or_else(|| IdcError::config("sweep.strong_extractor", "not given"))?,
            _ => self
                .preset
                .teacher
                .as_ref()
                .ok_or_else(|| IdcError::config("teacher", "not given"))?,
        };
        let cfg = train_config(spec, self.task, 1000)?;
        let st = Stage::new(self.work, role, &(&cfg, &self.pool_key));
        let whole = || SrPatchDataset::new(&self.train_dir, self.patch.clone());
        let valid = self.valid_dir.as_deref();
        let summary: TrainSummary =
            progress.prerequisite(&st, |dir| train_in(&cfg, &whole, valid, dir))?;
        state.models.insert(role, summary);
        Ok(())
    }

    pub(super) fn load(&self, dir: &Path) -> Result<SrNet<TrainBackend>> {
        Ok(load_model_dir::<TrainBackend>(dir, &self.device)?.0)
    }

    /// IDC's dataset over `images`, condensed (with the extractor of `role`) into (or loaded
    /// from) `cache`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn build_idc(
        &self,
        state: &State,
        role: &str,
        images: &Path,
        cache: &Path,
        cfg: &CondenseConfig,
        seed: u64,
        mode: CacheMode,
    ) -> Result<IdcDataset> {
        // `clone`, not a copy: the CUDA device is not `Copy`.
        #[allow(clippy::clone_on_copy)]
        let device = self.device.clone();
        let extractor = self.load(&state.model(role)?.model_dir)?;
        let builder = IdcDataset::builder(images, self.patch.clone())
            .with_condense_config(cfg.clone().check()?);
        let builder = match self.preset.teacher {
            Some(_) => {
                let teacher = self.load(&state.model("teacher")?.model_dir)?;
                builder.with_models::<TrainBackend, _, _>(extractor, teacher, device)
            }
            None => builder.with_models::<TrainBackend, _, _>(extractor, IdentityTeacher, device),
        };
        builder
            .with_cache_dir(cache.join("shards"))
            .with_mode(mode)
            .with_seed(seed)
            // The Whole pool (SrPatchDataset) skips images below one patch; IDC must too.
            .with_skip_small_images(true)
            .build()
    }

    pub(super) fn idc_set(&self, state: &mut State, progress: &mut Progress) -> Result<()> {
        state.set_patches = self.condense_set(IDC_SET, &self.condense, state, progress)?;
        Ok(())
    }

    /// The ratio table's IDC set at `ratio` (the preset's condensation otherwise).
    pub(super) fn ratio_idc_set(
        &self,
        name: &str,
        ratio: f64,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<()> {
        let mut cfg = self.preset.condense.clone();
        cfg.ratio = ratio;
        let made = self.condense_set(name, &cfg, state, progress)?;
        state.ratio_sets.extend(made.map(|n| (name.to_string(), n)));
        Ok(())
    }

    /// Stage `name`: the whole pool condensed with `cfg` (seed 0); its pair count once done.
    pub(super) fn condense_set(
        &self,
        name: &str,
        cfg: &CondenseConfig,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<Option<usize>> {
        let key = (
            cfg,
            &self.pool_key,
            &state.model("extractor")?.fingerprint,
            &state.teacher_key(self.preset)?,
        );
        let st = Stage::new(self.work, name, &key);
        let made: Option<usize> = if_done(progress.stage(&st, |dir| {
            let mode = CacheMode::LazyCondense;
            let images = &self.train_dir;
            let ds = self.build_idc(state, "extractor", images, dir, cfg, 0, mode)?;
            ds.condense_all()?;
            Ok(ds.len())
        }))?;
        let done = made.is_some();
        state.sets.insert(name.into(), SetDir { dir: st.dir, done });
        Ok(made)
    }

    /// Stage `name`: `method`'s selection of `ratio` of the pool; its pair count once done.
    pub(super) fn select_set(
        &self,
        name: &str,
        method: SelectMethod,
        ratio: f64,
        seed: u64,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<Option<usize>> {
        let cfg = SelectConfig {
            method,
            ratio,
            seed,
            ..SelectConfig::default()
        }
        .check()?;
        let extractor = state.model("extractor")?;
        let st = Stage::new(
            self.work,
            name,
            &(&cfg, &self.pool_key, &extractor.fingerprint),
        );
        let n: Option<usize> = if_done(progress.stage(&st, |dir| {
            // Inference backend: forward passes on the autodiff backend keep their graphs
            // (activations) until a backward that never comes; over a whole pool that
            // exhausted 24 GiB.
            let ex = load_model_dir::<DefaultBackend>(&extractor.model_dir, &self.device)?.0;
            let r = select_to_cache::<DefaultBackend, SrNet<DefaultBackend>>(
                &self.pool,
                &dir.join("shards"),
                &self.patch,
                &cfg,
                Some(&ex),
                &self.device,
            )?;
            Ok(r.selected)
        }))?;
        let done = n.is_some();
        state.sets.insert(name.into(), SetDir { dir: st.dir, done });
        Ok(n)
    }

    /// The main table compares sets of equal size: a selection must have IDC's pair count.
    pub(super) fn check_set_size(
        &self,
        method: SelectMethod,
        n: Option<usize>,
        state: &State,
    ) -> Result<()> {
        match (n, state.set_patches) {
            (Some(n), Some(m)) if n != m => Err(IdcError::InvalidInput(format!(
                "{method} selected {n} patches, IDC made {m}: the sets must be equal in size"
            ))),
            _ => Ok(()),
        }
    }

    /// The task's do-nothing baseline (bicubic or the noisy input) on the test sets.
    pub(super) fn reference(
        &self,
        name: &str,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<()> {
        // The held-back images too (Table 2 places its targets above their bicubic score).
        let mut sets = self.test_dirs.clone();
        sets.extend(
            self.holdout
                .iter()
                .map(|d| (HOLDOUT_SET.to_string(), d.clone())),
        );
        // SR keeps the key it had before denoising joined this pipeline.
        let st = match self.task {
            Task::SuperResolution { scale } => Stage::new(self.work, name, &(&sets, scale)),
            task => Stage::new(self.work, name, &(&sets, task)),
        };
        let scores: Option<Vec<(String, Scores)>> =
            if_done(progress.stage(&st, |_| evaluate_reference(&sets, &self.task)))?;
        state.bicubic = scores.unwrap_or_default();
        Ok(())
    }

    /// The teacher on the test sets: the reference the teacher-labelled sets (IDC, Random+T)
    /// are distilled from (not a Table-1 method).
    pub(super) fn eval_teacher(
        &self,
        name: &str,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<()> {
        let teacher = state.model("teacher")?;
        let key = (&teacher.fingerprint, &self.test_dirs, self.preset.scale);
        let st = Stage::new(self.work, name, &key);
        let scores: Option<Vec<(String, Scores)>> = if_done(progress.stage(&st, |_| {
            evaluate_dir(&teacher.model_dir, &self.test_dirs, &self.task)
        }))?;
        state.teacher = scores.unwrap_or_default();
        Ok(())
    }
}
