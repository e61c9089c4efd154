//! The budget sweep's stages and its contact-sheet rows.

use super::*;

impl State {
    /// `(label, shards folder)` of the sweep's finished sets for `sweep-sheet.png`: the random
    /// control, then the cells in table order.
    pub(crate) fn sweep_sheet_rows(&self, preset: &Preset) -> Vec<(String, PathBuf)> {
        let Some(sw) = &preset.sweep else {
            return Vec::new();
        };
        let cells = sw.cells(&preset.condense).unwrap_or_default();
        let control = (SWEEP_RANDOM_SET.to_string(), "random (real)".to_string());
        let named = cells.into_iter().map(|c| (sweep_set_name(&c.name), c.name));
        std::iter::once(control)
            .chain(named)
            .filter_map(|(stage, label)| {
                let set = self.sets.get(&stage).filter(|s| s.done)?;
                Some((label, set.dir.join("shards")))
            })
            .collect()
    }
}

/// The budget sweep's stages.
impl Ctx<'_> {
    pub(super) fn sweep(&self) -> Result<&SweepSpec> {
        preset_part(&self.preset.sweep, "sweep")
    }

    /// The first `max_images` training images (condensed) and the `holdout_images` after them
    /// (each student's only score), made once.
    pub(super) fn sweep_dirs(
        &self,
        state: &mut State,
    ) -> Result<(PathBuf, Vec<(String, PathBuf)>)> {
        if let Some(dirs) = &state.sweep_dirs {
            return Ok(dirs.clone());
        }
        let sw = self.sweep()?;
        let data = self.work.join("data");
        let images = subset_dir(&self.train_dir, &data.join("sweep"), Some(sw.max_images))?;
        let holdout = holdout_dir(
            &self.train_dir,
            &data.join("holdout"),
            sw.max_images,
            sw.holdout_images,
        )?;
        let dirs = (images, vec![(HOLDOUT_SET.to_string(), holdout)]);
        state.sweep_dirs = Some(dirs.clone());
        Ok(dirs)
    }

    /// The control rows' random set (the sweep's images at its ratio) and their result rows.
    pub(super) fn sweep_random_set(
        &self,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<()> {
        let sw = self.sweep()?;
        let images = self.sweep_dirs(state)?.0;
        let draw = RandomDraw {
            name: SWEEP_RANDOM_SET,
            images: &images,
            ratio: sw.ratio,
            max_images: Some(sw.max_images),
        };
        self.random_set(draw, state, progress)?;
        for name in [SWEEP_RANDOM, SWEEP_RANDOM_TEACHER] {
            state.sweep.push(SweepResult::control(name));
        }
        Ok(())
    }

    /// A cell's condensed set and its realism (from the set's manifest).
    pub(super) fn sweep_set(
        &self,
        name: &str,
        c: &SweepCell,
        state: &mut State,
        progress: &mut Progress,
    ) -> Result<()> {
        let (images, _) = self.sweep_dirs(state)?;
        let key = (
            &c.config,
            &self.pool_key,
            &state.model(c.extractor_role())?.fingerprint,
            &state.model("teacher")?.fingerprint,
            self.sweep()?.max_images,
        );
        // A repeat's seed joins the key; seed 0 keeps the key the cells had before repeats.
        let st = match c.set_seed {
            0 => Stage::new(self.work, name, &key),
            seed => Stage::new(self.work, name, &(key, seed)),
        };
        let made: Option<usize> = if_done(progress.stage(&st, |dir| {
            let role = c.extractor_role();
            let ds = self.build_idc(
                state,
                role,
                &images,
                dir,
                &c.config,
                c.set_seed,
                CacheMode::LazyCondense,
            )?;
            ds.condense_all()?;
            Ok(ds.len())
        }))?;
        let done = made.is_some();
        let realism = match done {
            true => Manifest::read(&st.dir.join("shards"))?.realism_summary(),
            false => None,
        };
        state.sweep.push(SweepResult {
            cell: c.name.clone(),
            variant: c.variant.clone(),
            iters: c.iters,
            lr: c.lr,
            strong: c.strong,
            set_seed: c.set_seed,
            realism,
            holdout_psnr: Vec::new(),
        });
        state.sets.insert(name.into(), SetDir { dir: st.dir, done });
        Ok(())
    }
}
