//! The condensation config's tests (defaults, validation, JSON round trips).

use super::*;

#[test]
fn defaults_and_paper_validate() {
    CondenseConfig::default().validate().unwrap();
    assert_eq!(*ValidCondenseConfig::default(), CondenseConfig::default());
    let p = CondenseConfig::paper();
    p.validate().unwrap();
    assert_eq!(p.iters, 20_000);
    assert_eq!(p.freq_bank, 0);
}

#[test]
fn rejects_bad_fields() {
    let mut c = CondenseConfig::default();
    c.ratio = 0.0;
    assert!(c.validate().is_err());
    let mut c = CondenseConfig::default();
    c.rlff.kernel = 2;
    assert!(c.validate().is_err());
    let mut c = CondenseConfig::default();
    c.ncfd.alpha = 1.5;
    assert!(c.validate().is_err());
    let mut c = CondenseConfig::default();
    c.lr = f64::NAN;
    assert!(c.validate().is_err());
}

#[test]
fn serde_round_trip_and_init_names() {
    let c = CondenseConfig::paper();
    let j = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<CondenseConfig>(&j).unwrap(), c);
    for (s, m) in [
        ("\"real\"", InitMode::Real),
        ("\"noise\"", InitMode::Noise),
        ("\"real-noise\"", InitMode::RealNoise),
        ("\"real+noise\"", InitMode::RealNoise),
    ] {
        assert_eq!(serde_json::from_str::<InitMode>(s).unwrap(), m);
    }
}

/// The naturalness knobs (issue #25) stay out of the JSON at their reference values, so the
/// fingerprints and cache keys of every config written before them are unchanged.
#[test]
fn naturalness_knobs_are_invisible_at_reference_values() {
    let json = serde_json::to_string(&CondenseConfig::reference()).unwrap();
    let default = serde_json::to_string(&CondenseConfig::default()).unwrap();
    for field in ["param", "lr_schedule", "chroma_lr", "step_lowpass"] {
        assert!(!json.contains(field), "{field} in {json}");
    }
    assert!(!default.contains("step_lowpass"), "{default}");
    assert_eq!(
        CondenseConfig::paper().param,
        PixelParam::Clamp,
        "the paper's pixels"
    );
    let c = CondenseConfig {
        param: PixelParam::Sigmoid,
        lr_schedule: LrSchedule::Cosine,
        chroma_lr: 0.5,
        ..CondenseConfig::reference()
    };
    let json = serde_json::to_string(&c).unwrap();
    assert!(json.contains(r#""param":"sigmoid""#) && json.contains(r#""lr_schedule":"cosine""#));
    assert_eq!(serde_json::from_str::<CondenseConfig>(&json).unwrap(), c);
    for bad in [-0.1, 1.5, f64::NAN] {
        let c = CondenseConfig {
            chroma_lr: bad,
            ..Default::default()
        };
        assert!(c.validate().is_err(), "chroma_lr {bad}");
    }
}

#[test]
fn cosine_schedule_starts_at_lr_and_ends_near_zero() {
    let c = CondenseConfig {
        lr: 0.02,
        iters: 100,
        lr_schedule: LrSchedule::Cosine,
        ..Default::default()
    };
    assert_eq!(c.lr_at(1), 0.02);
    assert!((c.lr_at(51) - 0.01).abs() < 1e-12);
    assert!(c.lr_at(100) < 1e-4 && c.lr_at(100) > 0.0);
    let constant = CondenseConfig::default();
    assert_eq!(constant.lr_at(1), constant.lr_at(constant.iters));
}

#[test]
fn synthetic_count_is_ceil() {
    let c = CondenseConfig {
        ratio: 0.1,
        ..Default::default()
    };
    assert_eq!(c.synthetic_count(1), 1);
    assert_eq!(c.synthetic_count(10), 1);
    assert_eq!(c.synthetic_count(11), 2);
    assert_eq!(c.synthetic_count(32), 4);
    let c = CondenseConfig {
        ratio: 1.0,
        ..Default::default()
    };
    assert_eq!(c.synthetic_count(7), 7);
}

/// One test per field `CondenseConfig::validate` refuses, from [`CondenseConfig::reference`].
/// An all-zero weight set (a rule over three fields) is reported on `w_ins`.
mod invalid_field {
    use super::*;
    use crate::config::invalid_field_tests;

    invalid_field_tests! { CondenseConfig::reference();
        ratio_zero: |c| c.ratio = 0.0 => "ratio";
        ratio_above_one: |c| c.ratio = 1.5 => "ratio";
        ratio_nan: |c| c.ratio = f64::NAN => "ratio";
        iters_zero: |c| c.iters = 0 => "iters";
        lr_zero: |c| c.lr = 0.0 => "lr";
        lr_nan: |c| c.lr = f64::NAN => "lr";
        lr_infinite: |c| c.lr = f64::INFINITY => "lr";
        beta1_one: |c| c.beta1 = 1.0 => "beta1";
        beta1_negative: |c| c.beta1 = -0.1 => "beta1";
        beta2_one: |c| c.beta2 = 1.0 => "beta2";
        adam_eps_zero: |c| c.adam_eps = 0.0 => "adam_eps";
        init_noise_above_one: |c| c.init_noise = 1.5 => "init_noise";
        init_noise_nan: |c| c.init_noise = f64::NAN => "init_noise";
        chroma_lr_negative: |c| c.chroma_lr = -0.1 => "chroma_lr";
        chroma_lr_above_one: |c| c.chroma_lr = 1.5 => "chroma_lr";
        chroma_lr_nan: |c| c.chroma_lr = f64::NAN => "chroma_lr";
        step_lowpass_negative: |c| c.step_lowpass = -0.1 => "step_lowpass";
        step_lowpass_above_one: |c| c.step_lowpass = 1.5 => "step_lowpass";
        step_lowpass_nan: |c| c.step_lowpass = f64::NAN => "step_lowpass";
        rlff_kernel_even: |c| c.rlff.kernel = 2 => "rlff.kernel";
        rlff_kernel_zero: |c| c.rlff.kernel = 0 => "rlff.kernel";
        rlff_patch_zero: |c| c.rlff.patch = 0 => "rlff.patch";
        rlff_c_out_zero: |c| c.rlff.c_out = 0 => "rlff.c_out";
        rlff_bn_eps_zero: |c| c.rlff.bn_eps = 0.0 => "rlff.bn_eps";
        ncfd_num_freqs_zero: |c| c.ncfd.num_freqs = 0 => "ncfd.num_freqs";
        ncfd_sigma_zero: |c| c.ncfd.sigma = 0.0 => "ncfd.sigma";
        ncfd_alpha_above_one: |c| c.ncfd.alpha = 1.5 => "ncfd.alpha";
        ncfd_alpha_nan: |c| c.ncfd.alpha = f64::NAN => "ncfd.alpha";
        groups_zero: |c| c.groups = 0 => "groups";
        assign_every_zero: |c| c.assign_every = 0 => "assign_every";
        w_ins_negative: |c| c.w_ins = -1.0 => "w_ins";
        w_group_nan: |c| c.w_group = f64::NAN => "w_group";
        w_pair_infinite: |c| c.w_pair = f64::INFINITY => "w_pair";
        weights_all_zero: |c| { c.w_ins = 0.0; c.w_group = 0.0; c.w_pair = 0.0 } => "w_ins";
        real_chunk_zero: |c| c.real_chunk = 0 => "real_chunk";
        cf_chunk_zero: |c| c.cf_chunk = 0 => "cf_chunk";
        teacher_chunk_zero: |c| c.teacher_chunk = 0 => "teacher_chunk";
        eval_draws_zero: |c| c.eval_draws = 0 => "eval_draws";
    }

    /// The schedule rule lives in `validate_schedule` (short runs cut it on purpose).
    #[test]
    fn warmup_and_assign_longer_than_iters() {
        let c = CondenseConfig {
            warmup: 80,
            ..CondenseConfig::reference()
        };
        c.clone().check().unwrap();
        crate::config::assert_rejects(c.validate_schedule(), "warmup");
    }

    /// `c_out` is checked only with RLFF on (the "w/o local feature" ablation ignores it).
    #[test]
    fn rlff_c_out_is_free_when_disabled() {
        let mut c = CondenseConfig::reference();
        c.rlff.enabled = false;
        c.rlff.c_out = 0;
        c.check().unwrap();
    }
}
