//! Tests of [`super`]: presets, shapes, BasicSR masks and indices, padding, seeding, keys.

use super::*;
use crate::models::weights::swinir_names::{
    basicsr_to_burn_key, burn_to_basicsr_key, is_recomputed_buffer,
};
use burn::backend::Flex;
use burn::tensor::Distribution;

type B = Flex;

fn small(upsampler: Upsampler, scale: usize) -> SwinIrConfig {
    SwinIrConfig {
        upscale: scale,
        img_size: 16,
        window_size: 4,
        embed_dim: 8,
        depths: vec![2, 1],
        num_heads: vec![2, 4],
        mlp_ratio: 2.0,
        upsampler,
        ..SwinIrConfig::default()
    }
}

#[test]
fn presets_validate_and_bad_configs_fail() {
    let l = SwinIrConfig::from_arch("swinir-light", 2).unwrap();
    assert_eq!(
        (l.embed_dim, l.window_size, l.upsampler),
        (60, 8, Upsampler::PixelShuffleDirect)
    );
    let c = SwinIrConfig::from_arch("swinir-classical", 4).unwrap();
    assert_eq!(
        (c.embed_dim, c.depths.len(), c.upsampler),
        (180, 6, Upsampler::PixelShuffle)
    );
    SwinIrConfig::from_arch("swinir-tiny", 3).unwrap();
    // Scale 1 (denoising) is BasicSR's no-up-sampler variant.
    let d = SwinIrConfig::from_arch("swinir-tiny", 1).unwrap();
    assert_eq!((d.upscale, d.upsampler), (1, Upsampler::None));
    assert!(SwinIrConfig::from_arch("swinir-huge", 2).is_err());
    let bad = [
        SwinIrConfig {
            num_heads: vec![7; 4],
            ..l.clone()
        },
        SwinIrConfig {
            num_heads: vec![6; 3],
            ..l.clone()
        },
        SwinIrConfig {
            upscale: 1,
            ..l.clone()
        },
        SwinIrConfig {
            upsampler: Upsampler::NearestConv,
            ..l.clone()
        },
        SwinIrConfig {
            upsampler: Upsampler::None,
            ..l.clone()
        },
        SwinIrConfig {
            window_size: 0,
            ..l.clone()
        },
        SwinIrConfig {
            in_chans: 1,
            ..l.clone()
        },
        SwinIrConfig {
            img_range: f32::NAN,
            ..l.clone()
        },
    ];
    for b in bad {
        assert!(b.validate().is_err(), "{b:?} accepted");
    }
}

#[test]
fn light_has_basicsr_parameter_count() {
    // Hand count of BasicSR's SwinIR lightweight x2 layers (embed 60, 4x6, window 8, mlp 2;
    // relative_position_index / attn_mask are buffers, not parameters).
    let cfg = SwinIrConfig::from_arch("swinir-light", 2).unwrap();
    let m = cfg.init_seeded::<B>(&Default::default(), 1);
    assert_eq!(m.num_params(), 910_152);
}

#[test]
fn shapes_for_every_upsampler_and_odd_sizes() {
    let device = Default::default();
    let cases = [
        (Upsampler::PixelShuffle, 2),
        (Upsampler::PixelShuffle, 3),
        (Upsampler::PixelShuffle, 4),
        (Upsampler::PixelShuffleDirect, 2),
        (Upsampler::PixelShuffleDirect, 4),
        (Upsampler::NearestConv, 4),
        (Upsampler::None, 1),
    ];
    for (up, s) in cases {
        let mut cfg = small(up, s);
        cfg.resi_connection = if s == 4 {
            ResiConnection::ThreeConv
        } else {
            ResiConnection::OneConv
        };
        let m = cfg.init_seeded::<B>(&device, 3);
        let x = Tensor::<B, 4>::random([2, 3, 5, 9], Distribution::Uniform(0.0, 1.0), &device);
        assert_eq!(
            m.forward(x.clone()).dims(),
            [2, 3, 5 * s, 9 * s],
            "{up:?} x{s}"
        );
        assert_eq!(m.features(x).dims(), [2, 8, 5, 9]);
    }
}

#[test]
fn mask_matches_basicsr_regions() {
    // 8x8 grid, window 4, shift 2: window (1,1) holds tokens from 4 regions.
    let m = shifted_window_mask(8, 8, 4, 2);
    let (n, nw) = (16, 4);
    assert_eq!(m.len(), nw * n * n);
    // Window 0 lies entirely in region (0,0): no masking.
    assert!(m[..n * n].iter().all(|&v| v == 0.0));
    // Window 3 (bottom-right): token 0 (row 4, col 4) region (1,1); token 3 (row 4, col 7)
    // region (1,2); token 2 (row 4, col 6) region (1,2).
    let w3 = &m[3 * n * n..];
    assert_eq!(w3[3], -100.0);
    assert_eq!(w3[2 * n + 3], 0.0);
    assert_eq!(w3[1], 0.0);
    // Token 15 (row 7, col 7) region (2,2) differs from token 11 (row 6, col 7) region (2,2)?
    // Row 6 >= 8 - 2: region 2, so same.
    assert_eq!(w3[11 * n + 15], 0.0);
    assert_eq!(w3[5 * n + 15], -100.0);
    // Symmetric, zero diagonal.
    for a in 0..n {
        assert_eq!(w3[a * n + a], 0.0);
        for b in 0..n {
            assert_eq!(w3[a * n + b], w3[b * n + a]);
        }
    }
}

#[test]
fn relative_index_matches_basicsr_formula() {
    let idx = relative_position_index(3);
    assert_eq!(idx.len(), 81);
    // Token 0 with itself: offset (0,0) -> (2)*(5)+2 = 12; token 0 vs 8 (2,2 apart) -> 0.
    assert_eq!(idx[0], 12);
    assert_eq!(idx[8], 0);
    assert_eq!(idx[8 * 9], 24);
    assert!(idx.iter().all(|&i| (0..25).contains(&i)));
}

#[test]
fn shifted_attention_is_local_in_the_padded_frame() {
    // A change in one corner pixel must not reach the far corner of a large map in a
    // one-block (unshifted) network: windows are independent.
    let device = Default::default();
    let cfg = SwinIrConfig {
        depths: vec![1],
        num_heads: vec![2],
        ..small(Upsampler::PixelShuffleDirect, 2)
    };
    let m = cfg.init_seeded::<B>(&device, 5);
    let x = Tensor::<B, 4>::random([1, 3, 16, 16], Distribution::Uniform(0.0, 1.0), &device);
    let mut v = x.to_data().into_vec::<f32>().unwrap();
    v[0] += 0.5;
    let x2 = Tensor::<B, 4>::from_data(TensorData::new(v, [1, 3, 16, 16]), &device);
    let d = (m.features(x) - m.features(x2)).abs();
    let far = d
        .clone()
        .slice([0..1, 0..8, 8..16, 8..16])
        .max()
        .into_scalar();
    let near = d.slice([0..1, 0..8, 0..4, 0..4]).max().into_scalar();
    assert_eq!(far, 0.0);
    assert!(near > 0.0);
}

#[test]
fn padding_equals_explicit_reflect_then_crop() {
    let device = Default::default();
    let cfg = small(Upsampler::PixelShuffle, 2);
    let m = cfg.init_seeded::<B>(&device, 9);
    let x = Tensor::<B, 4>::random([1, 3, 6, 7], Distribution::Uniform(0.0, 1.0), &device);
    let padded = x
        .clone()
        .pad([(0, 2), (0, 1)], burn::tensor::ops::PadMode::Reflect);
    assert_eq!(padded.dims(), [1, 3, 8, 8]);
    let full = m.forward(padded).slice([0..1, 0..3, 0..12, 0..14]);
    let y = m.forward(x);
    let diff = (full - y).abs().max().into_scalar();
    assert!(diff < 1e-6, "{diff}");
    // Mirror beyond the size (PyTorch refuses) still gives a valid padded map.
    let tiny = Tensor::<B, 4>::random([1, 3, 2, 3], Distribution::Uniform(0.0, 1.0), &device);
    assert_eq!(m.forward(tiny).dims(), [1, 3, 4, 6]);
}

#[test]
fn seeding_and_fingerprint() {
    let device = Default::default();
    let cfg = small(Upsampler::PixelShuffleDirect, 2);
    let a = cfg.init_seeded::<B>(&device, 7);
    let b = cfg.init_seeded::<B>(&device, 7);
    let c = cfg.init_seeded::<B>(&device, 8);
    assert_eq!(Teacher::fingerprint(&a), Teacher::fingerprint(&b));
    assert_ne!(Teacher::fingerprint(&a), Teacher::fingerprint(&c));
    // LayerNorm initialised to 1/0, Linear biases 0.
    let g = a.norm.gamma.val().into_data().into_vec::<f32>().unwrap();
    assert!(g.iter().all(|&v| v == 1.0));
    let qb = a.layers[0].residual_group.blocks[0]
        .attn
        .qkv
        .bias
        .as_ref()
        .unwrap()
        .val();
    assert_eq!(qb.abs().max().into_scalar(), 0.0);
}

#[test]
fn key_names_round_trip() {
    let cases = [
        (
            "layers.0.residual_group.blocks.1.norm1.weight",
            "layers.0.residual_group.blocks.1.norm1.gamma",
            true,
        ),
        ("layers.2.conv.weight", "layers.2.conv.0.weight", true),
        ("layers.2.conv.4.bias", "layers.2.conv.2.bias", false),
        ("conv_after_body.weight", "conv_after_body.0.weight", true),
        (
            "conv_before_upsample.0.weight",
            "conv_before_upsample.weight",
            true,
        ),
        ("upsample.2.weight", "upsample.1.weight", true),
        ("patch_embed.norm.bias", "patch_embed.norm.beta", true),
        ("norm.weight", "norm.gamma", true),
        (
            "layers.0.residual_group.blocks.0.attn.qkv.weight",
            "layers.0.residual_group.blocks.0.attn.qkv.weight",
            true,
        ),
    ];
    for (b, burn, one) in cases {
        assert_eq!(basicsr_to_burn_key(b).as_deref(), Some(burn), "{b}");
        assert_eq!(burn_to_basicsr_key(burn, one), b, "{burn}");
    }
    assert_eq!(basicsr_to_burn_key("upsample.1.weight"), None);
    assert!(is_recomputed_buffer(
        "layers.0.residual_group.blocks.1.attn_mask"
    ));
}
