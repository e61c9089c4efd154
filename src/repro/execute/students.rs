//! The students (training and evaluation, every table) and the ablation's sets.

use super::*;

/// The students and the ablation's sets.
impl Ctx<'_> {
    pub(super) fn ratio_table(&self) -> Result<&RatioTable> {
        preset_part(&self.preset.ratio_table, "ratio table")
    }

    pub(super) fn ablation(&self) -> Result<&AblationSpec> {
        preset_part(&self.preset.ablation, "ablation")
    }

    /// The ablation may run on the first `max_images` training images (its cost is six
    /// condensed sets); the subset is part of every ablation stage's key.
    pub(super) fn ablation_dir(&self, state: &mut State) -> Result<PathBuf> {
        if let Some(dir) = &state.ablation_dir {
            return Ok(dir.clone());
        }
        let dst = self.work.join("data").join("ablation");
        let dir = subset_dir(&self.train_dir, &dst, self.ablation()?.max_images)?;
        state.ablation_dir = Some(dir.clone());
        Ok(dir)
    }

    /// The tag that keys a student's set and the function that loads it; `None` when the set
    /// has not finished (report-only), so the student is not tried.
    pub(super) fn student_data<'s>(
        &'s self,
        data: &'s Data,
        state: &'s State,
    ) -> Result<Option<(String, DataFn<'s>)>> {
        let finished = |name: &str| -> Result<Option<PathBuf>> {
            let set = state.set(name)?;
            Ok(set.done.then(|| set.dir.clone()))
        };
        let tag_of = |dir: &Path| dir.to_string_lossy().into_owned();
        Ok(match data {
            Data::Whole => {
                let f = || {
                    Ok(DynSet::new(SrPatchDataset::new(
                        &self.train_dir,
                        self.patch.clone(),
                    )?))
                };
                Some(("whole".to_string(), Box::new(f) as DataFn))
            }
            Data::Idc => {
                let dir = state.set(IDC_SET)?.dir.clone();
                let images = self.train_dir.clone();
                let cfg = self.condense.clone();
                Some(self.condensed(state, "extractor", images, dir, cfg, 0))
            }
            Data::Selected { set } => finished(set)?.map(|dir| {
                let tag = tag_of(&dir);
                let f = move || Ok(DynSet::new(SelectionDataset::open(&dir.join("shards"))?));
                (tag, Box::new(f) as DataFn)
            }),
            Data::TeacherLabeled { set } => {
                let teacher = state.model("teacher")?;
                finished(set)?.map(|dir| {
                    let tag = format!("{}+teacher:{}", dir.to_string_lossy(), teacher.fingerprint);
                    let f = move || self.teacher_labeled(&teacher.model_dir, &dir);
                    (tag, Box::new(f) as DataFn)
                })
            }
            Data::AblationIdc(v) => {
                let images = state.ablation_dir.clone().unwrap_or_default();
                finished(&ablation_set_name(&v.name))?.map(|dir| {
                    let cfg = v.config.clone();
                    self.condensed(state, "extractor", images, dir, cfg, v.condense_seed)
                })
            }
            Data::RatioIdc { set, ratio } => {
                let mut cfg = self.preset.condense.clone();
                cfg.ratio = *ratio;
                let images = self.train_dir.clone();
                finished(set)?.map(|dir| self.condensed(state, "extractor", images, dir, cfg, 0))
            }
            Data::SweepIdc(c) => {
                let images = state
                    .sweep_dirs
                    .as_ref()
                    .map(|d| d.0.clone())
                    .unwrap_or_default();
                finished(&sweep_set_name(&c.name))?.map(|dir| {
                    let cfg = CondenseConfig::clone(&c.config);
                    self.condensed(state, c.extractor_role(), images, dir, cfg, c.set_seed)
                })
            }
        })
    }

    /// A condensed set in `dir` (of `images`, condensed with the extractor of `role`), loaded
    /// and never condensed, keyed by its folder.
    pub(super) fn condensed<'s>(
        &'s self,
        state: &'s State,
        role: &'static str,
        images: PathBuf,
        dir: PathBuf,
        cfg: CondenseConfig,
        seed: u64,
    ) -> (String, DataFn<'s>) {
        let tag = dir.to_string_lossy().into_owned();
        let f = move || {
            let mode = CacheMode::LoadOnly;
            let ds = self.build_idc(state, role, &images, &dir, &cfg, seed, mode)?;
            Ok(DynSet::new(ds))
        };
        (tag, Box::new(f) as DataFn)
    }

    /// A selected set with the teacher's HR targets.
    pub(super) fn teacher_labeled(&self, teacher_dir: &Path, set_dir: &Path) -> Result<DynSet> {
        let teacher = load_model_dir::<DefaultBackend>(teacher_dir, &self.device)?.0;
        let sel = SelectionDataset::open(&set_dir.join("shards"))?;
        Ok(DynSet::new(TeacherLabeled::new::<DefaultBackend, _, _>(
            &sel,
            &teacher,
            &self.device,
            16,
        )?))
    }

    /// The training budget of a main-table student: its family's.
    fn family_spec(&self, s: &Student) -> Result<&TrainSpec> {
        let Some(arch) = &s.family else {
            return Ok(&self.preset.student);
        };
        let spec = self.preset.more_students.iter().find(|f| &f.arch == arch);
        spec.ok_or_else(|| IdcError::Internal(format!("a step needs student family {arch}")))
    }

    pub(super) fn train(
        &self,
        name: &str,
        s: &Student,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<()> {
        let spec = match s.table {
            Table::Main => self.family_spec(s)?,
            Table::Ablation => &self.ablation()?.student,
            Table::Sweep => &self.sweep()?.student,
            Table::Ratio => self.ratio_table()?.student(&self.preset.student),
        };
        // Sweep students are validated and scored on held-out training images only.
        let (tests, valid) = match s.table {
            Table::Sweep => {
                let holdout = self.sweep_dirs(state)?.1;
                let valid = holdout.first().map(|(_, d)| d.clone());
                (holdout, valid)
            }
            _ => (self.test_dirs.clone(), self.valid_dir.clone()),
        };
        let trained = match self.student_data(&s.data, state)? {
            None => None,
            Some((tag, data)) => {
                let cfg = train_config(spec, self.task, s.seed)?;
                let key = StudentKey {
                    method: &s.method,
                    set: &tag,
                    spec,
                    scale: self.preset.scale,
                    task: self.preset.task,
                    seed: s.seed,
                    tests: &tests,
                };
                let st = Stage::new(self.work, name, &key);
                let valid = valid.as_deref();
                if_done(progress.stage(&st, |dir| train_in(&cfg, &*data, valid, dir)))?
            }
        };
        state.trained = trained;
        Ok(())
    }

    pub(super) fn eval(
        &self,
        name: &str,
        s: &Student,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<()> {
        let Some(summary) = state.trained.take() else {
            return Ok(());
        };
        let tests = match s.table {
            Table::Sweep => self.sweep_dirs(state)?.1,
            _ => self.test_dirs.clone(),
        };
        let st = Stage::new(self.work, name, &(&summary.fingerprint, &tests));
        let eval: Option<Vec<(String, Scores)>> = if_done(progress.stage(&st, |_| {
            evaluate_dir(&summary.model_dir, &tests, &self.task)
        }))?;
        let Some(eval) = eval else {
            return Ok(());
        };
        if s.table == Table::Sweep {
            let cell = s.method.trim_start_matches("sweep-");
            if let Some(r) = state.sweep.iter_mut().find(|r| r.cell == cell) {
                r.holdout_psnr
                    .extend(eval.iter().map(|(_, sc)| sc.psnr_rgb));
            }
            return Ok(());
        }
        let result = StudentResult {
            method: s.method.clone(),
            seed: s.seed,
            items: summary.config.iters,
            train_seconds: summary.wall_seconds,
            final_loss: summary.final_loss,
            validation: summary.validation,
            eval,
            family: s.family.clone(),
        };
        match s.table {
            Table::Ablation => state.ablation.push(result),
            Table::Ratio => state.ratio.push(result),
            _ => state.students.push(result),
        }
        Ok(())
    }

    pub(super) fn ablation_set(
        &self,
        name: &str,
        v: &AblationVariant,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<()> {
        let a = self.ablation()?;
        let images = self.ablation_dir(state)?;
        let key = (
            &v.config,
            &self.pool_key,
            &state.model("extractor")?.fingerprint,
            &state.model("teacher")?.fingerprint,
            a.max_images,
        );
        // Seed 0 keeps the key it had before condensation seeds were varied.
        let st = match v.condense_seed {
            0 => Stage::new(self.work, name, &key),
            s => Stage::new(self.work, name, &(key, s)),
        };
        let made: Option<usize> = if_done(progress.stage(&st, |dir| {
            let ds = self.build_idc(
                state,
                "extractor",
                &images,
                dir,
                &v.config,
                v.condense_seed,
                CacheMode::LazyCondense,
            )?;
            ds.condense_all()?;
            Ok(ds.len())
        }))?;
        let done = made.is_some();
        state.sets.insert(name.into(), SetDir { dir: st.dir, done });
        Ok(())
    }

    /// Control at the ablation's ratio: real patches drawn at random, the same number from
    /// each image as IDC makes (`per_instance`), with the teacher's HR targets. What separates
    /// it from the IDC variants is only the condensation of the LR patches.
    pub(super) fn ablation_random_set(
        &self,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<()> {
        let (ratio, max_images) = (self.ablation()?.ratio, self.ablation()?.max_images);
        let images = self.ablation_dir(state)?;
        let draw = RandomDraw {
            name: ABLATION_RANDOM_SET,
            images: &images,
            ratio,
            max_images,
        };
        self.random_set(draw, state, progress)
    }

    /// Stage `draw.name`: real patches of `draw.images` drawn at random per image (seed 0), the
    /// control every condensed set is compared with.
    pub(super) fn random_set(
        &self,
        draw: RandomDraw,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<()> {
        let pool = SrPatchDataset::new(draw.images, self.patch.clone())?;
        let cfg = SelectConfig {
            method: SelectMethod::Random,
            ratio: draw.ratio,
            seed: 0,
            per_instance: true,
            ..SelectConfig::default()
        }
        .check()?;
        let key = (&cfg, &instances_key(&pool), &self.patch, draw.max_images);
        let st = Stage::new(self.work, draw.name, &key);
        let made: Option<usize> = if_done(progress.stage(&st, |dir| {
            let r = select_to_cache::<DefaultBackend, SrNet<DefaultBackend>>(
                &pool,
                &dir.join("shards"),
                &self.patch,
                &cfg,
                None,
                &self.device,
            )?;
            Ok(r.selected)
        }))?;
        let done = made.is_some();
        state
            .sets
            .insert(draw.name.into(), SetDir { dir: st.dir, done });
        Ok(())
    }
}
