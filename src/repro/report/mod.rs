//! Tables, plot and README of a reproduction run, all derived from [`RunOutcome`].
//!
//! - `table1.json` / `table1.md`: mean RGB PSNR (and its seed standard deviation) and SSIM per
//!   method and test set (Table 1 analogue).
//! - `table2.md`: iterations each set needs to reach two target PSNRs on the validation set.
//! - `table3.md`: the ablation (if the preset has one).
//! - `convergence.png`: validation PSNR vs iteration, mean line and min-max band over seeds.
//! - `run.json`: everything, for tools.
//! - `sweep.md` / `sweep.json` and `sweep-{psnr,hf,saturation}.png`: the budget sweep (if the
//!   preset has one).
//! - `<name>.md` / `<name>.json` (e.g. `table5`): the ratio table (if the preset has one).
//! - A preset without a main table writes these, `run.json`, `preset.json` and its README.
//!
//! A difference between two methods is called significant only when it exceeds twice the larger
//! of their seed standard deviations (and both have at least two seeds).
//!
//! `aggregate` turns the outcome into numbers, `render` turns those into file contents, `write`
//! puts the files into the output folder.
//!
//! [`RunOutcome`]: crate::repro::RunOutcome

mod aggregate;
mod ratio;
mod render;
mod sweep;
mod table3;
mod write;

pub use aggregate::{CONTROLS, Cell, METHODS, curve, iterations_to, mean_std, table1};
pub use render::CONTROL_NOTE;
pub use write::{write_all, write_all_as};

#[cfg(test)]
mod tests {
    use super::aggregate::{iterations_to, mean_std};
    use super::table3::table3_md;
    use crate::repro::TEST_SETS;
    use crate::repro::outcome::{Scores, StudentResult};

    #[test]
    fn mean_std_matches_hand_values() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0]);
        assert!((m - 2.0).abs() < 1e-12 && (s - 1.0).abs() < 1e-12);
        assert_eq!(mean_std(&[5.0]), (5.0, 0.0));
    }

    fn result(method: &str, psnr: f64) -> StudentResult {
        let scores = Scores {
            psnr_rgb: psnr,
            ssim_rgb: 0.9,
            psnr_y: psnr,
            ssim_y: 0.9,
        };
        StudentResult {
            method: method.into(),
            seed: 0,
            items: 1,
            train_seconds: 1.0,
            final_loss: None,
            validation: Vec::new(),
            eval: TEST_SETS.iter().map(|s| (s.to_string(), scores)).collect(),
            family: None,
        }
    }

    #[test]
    fn table3_shows_each_variant_against_the_full_method() {
        let spec = crate::repro::Preset::cpu()
            .ablation
            .expect("cpu has an ablation");
        let rs = vec![
            result("abl-ins", 30.0),
            result("abl-ins+group+pair", 30.5),
            result("abl-rlff-off", 30.75),
            result("abl-random+T", 30.25),
        ];
        let md = table3_md(&spec, &rs);
        let rows: Vec<&str> = md
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| variant"))
            .collect();
        assert_eq!(rows.len(), 4, "{md}");
        assert!(
            rows[0].starts_with("| ins | 30.00 (-0.50) / 0.9000"),
            "{md}"
        );
        assert!(
            rows[1].starts_with("| ins+group+pair | 30.50 / 0.9000"),
            "{md}"
        );
        assert!(rows[2].contains("30.75 (+0.25)"), "{md}");
        assert!(rows[3].starts_with("| random+T | 30.25 (-0.25)"), "{md}");
        assert!(md.contains("`random+T`: control"), "{md}");
        assert!(md.contains("no difference here is claimed"), "{md}");
    }

    #[test]
    fn table3_marks_only_differences_beyond_twice_the_full_methods_spread() {
        let spec = crate::repro::Preset::cpu()
            .ablation
            .expect("cpu has an ablation");
        // Full method: three seeds, mean 30.5, sample std 0.1.
        let rs = vec![
            result("abl-ins", 30.0),
            result("abl-ins+group+pair", 30.4),
            result("abl-ins+group+pair", 30.5),
            result("abl-ins+group+pair", 30.6),
            result("abl-rlff-off", 30.65),
        ];
        let md = table3_md(&spec, &rs);
        assert!(md.contains("| ins | 30.00 (-0.50*) / 0.9000"), "{md}");
        assert!(
            md.contains("| ins+group+pair | 30.50 ± 0.10 / 0.9000"),
            "{md}"
        );
        assert!(md.contains("| rlff-off | 30.65 (+0.15) / 0.9000"), "{md}");
        assert!(md.contains("3 for `ins+group+pair`"), "{md}");
        assert!(
            md.contains("exceeds twice the seed std of `ins+group+pair` (3 seeds"),
            "{md}"
        );

        // A second condensation of the full method 0.4 dB higher: the run-to-run std (0.28)
        // now bounds the claims, so -0.50 is no longer one and -0.70 still is.
        let mut rs = rs;
        rs.push(result("abl-ins+group+pair@1", 30.9));
        rs.push(result("abl-unfold-off", 29.8));
        let md = table3_md(&spec, &rs);
        assert!(md.contains("| ins | 30.00 (-0.50) / 0.9000"), "{md}");
        assert!(
            md.contains("| unfold-off | 29.80 (-0.70*) / 0.9000"),
            "{md}"
        );
        assert!(
            md.contains("| ins+group+pair@1 | 30.90 (+0.40) / 0.9000"),
            "{md}"
        );
        assert!(
            md.contains("two condensation runs of the full method"),
            "{md}"
        );
    }

    #[test]
    fn table2_places_no_targets_when_whole_does_not_beat_bicubic() {
        use super::aggregate::{families, method_curves};
        use super::render::table2_md;
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/results/cpu/run.json");
        let bytes = std::fs::read(path).expect("committed cpu run.json");
        let mut outcome: crate::repro::outcome::RunOutcome =
            serde_json::from_slice(&bytes).expect("run.json parses");
        let preset = outcome.preset.clone();
        let family = families(&preset).remove(0);
        let curves = method_curves(&outcome, family.key);
        assert!(table2_md(&outcome, &family, &curves).contains("| Whole | "));

        let valid = preset.valid_set().to_string();
        for (set, scores) in &mut outcome.bicubic {
            if *set == valid {
                scores.psnr_rgb = 99.0;
            }
        }
        let md = table2_md(&outcome, &family, &curves);
        assert!(
            md.contains("No targets") && md.contains("(99.00 dB)"),
            "{md}"
        );
        assert!(!md.contains("| Whole | "), "{md}");
    }

    #[test]
    fn iterations_to_target() {
        let c = vec![(100.0, 30.0, 30.0, 30.0), (200.0, 31.0, 31.0, 31.0)];
        assert_eq!(iterations_to(&c, 30.5), Some(200));
        assert_eq!(iterations_to(&c, 32.0), None);
    }
}
