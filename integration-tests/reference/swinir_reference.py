#!/usr/bin/env python3
"""PyTorch reference for the SwinIR parity test (integration-tests/tests/swinir.rs).

Pinned versions (throw-away virtualenv, ~2.5 GB with PyPI's CUDA torch wheels):
    python3 -m venv /root/.cache/idc-ref/venv && /root/.cache/idc-ref/venv/bin/pip install \
        torch==2.1.2 torchvision==0.16.2 numpy==1.26.4 opencv-python-headless==4.8.1.78 \
        scipy tqdm lmdb pyyaml addict future yapf requests scikit-image wheel
    /root/.cache/idc-ref/venv/bin/pip install --no-build-isolation --no-deps basicsr==1.4.2
    IDC_DATA=/work/shared/data /root/.cache/idc-ref/venv/bin/python \
        integration-tests/reference/swinir_reference.py

Builds BasicSR 1.4.2's own `SwinIR` in two small seeded-random configurations: x2
`pixelshuffledirect` (resi_connection 1conv, weights saved in float32 under `params`) and x4
`pixelshuffle` (3conv, weights rounded to float16 and saved in float16 under `params_ema`,
without the `relative_position_index` / `attn_mask` buffers, so the file stays small (~600 KB,
the two 64->256 up-sampling convs that BasicSR fixes dominate) and the half-precision import path
is exercised; the PyTorch outputs are
computed with the same rounded weights in float32). Every parameter, biases and LayerNorms
included, is randomised so a mix-up cannot pass; the reconstruction convs are scaled down so the outputs stay
inside (0, 1) and the 8-bit PSNR is sensitive to small errors. Writes to `fixtures/` beside this script:
`swinir_<name>.pth`, `swinir_<name>.net.json` (the `network_g` options, as a user's option file
holds them), `swinir_<name>.json` (output and features on a seeded 11x13 input, i.e. not a
multiple of the window, run through BasicSR's `SwinIRModel.test` padding), and
`swinir_<name>_set5.json` (BasicSR-protocol PSNR/SSIM on Set5, whose LR sizes are mostly not
multiples of the window, if `IDC_DATA` points at the data).
"""
import glob
import json
import os
import sys

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from basicsr.archs.swinir_arch import SwinIR
from basicsr.metrics.psnr_ssim import calculate_psnr, calculate_ssim
from basicsr.utils.img_util import img2tensor, tensor2img
from basicsr.utils.matlab_functions import imresize

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")

CONFIGS = [
    ("x2_direct", "params", False, dict(
        type="SwinIR", upscale=2, in_chans=3, img_size=16, window_size=8, img_range=1.0,
        depths=[2, 2], embed_dim=12, num_heads=[2, 3], mlp_ratio=2, upsampler="pixelshuffledirect",
        resi_connection="1conv")),
    ("x4_classic", "params_ema", True, dict(
        type="SwinIR", upscale=4, in_chans=3, img_size=16, window_size=8, img_range=1.0,
        depths=[2], embed_dim=12, num_heads=[3], mlp_ratio=2, upsampler="pixelshuffle",
        resi_connection="3conv", ape=False)),
]


def test_forward(net, x, window_size, scale):
    """BasicSR 1.4.2 `SwinIRModel.test`: reflect-pad to window multiples, run, crop."""
    _, _, h, w = x.size()
    mod_pad_h = (window_size - h % window_size) % window_size
    mod_pad_w = (window_size - w % window_size) % window_size
    img = F.pad(x, (0, mod_pad_w, 0, mod_pad_h), "reflect")
    with torch.no_grad():
        out = net(img)
        first = net.conv_first((img - net.mean.type_as(img)) * net.img_range)
        feat = net.conv_after_body(net.forward_features(first)) + first
    return out[:, :, : h * scale, : w * scale], feat[:, :, :h, :w]


def main():
    os.makedirs(OUT, exist_ok=True)
    for i, (name, key, half, opt) in enumerate(CONFIGS):
        torch.manual_seed(1000 + i)
        kwargs = {k: v for k, v in opt.items() if k != "type"}
        net = SwinIR(**kwargs)
        with torch.no_grad():
            recon = ("upsample.", "conv_before_upsample.", "conv_last.")
            for pname, p in net.named_parameters():
                is_norm_weight = pname.split(".")[-2] in ("norm", "norm1", "norm2") \
                    and pname.endswith("weight")
                std = 0.01 if pname.startswith(recon) else (0.2 if p.dim() > 1 else 0.05)
                p.copy_(torch.randn_like(p) * std + (1.0 if is_norm_weight else 0.0))
            if half:
                for p in net.parameters():
                    p.copy_(p.half().float())
        net.eval()
        state = net.state_dict()
        if half:
            # Without the recomputed buffers (some published checkpoints drop them too).
            state = {k: v.half() for k, v in state.items()
                     if not k.endswith(("relative_position_index", "attn_mask"))}
        pth = os.path.join(OUT, f"swinir_{name}.pth")
        torch.save({key: state}, pth)
        with open(os.path.join(OUT, f"swinir_{name}.net.json"), "w") as f:
            json.dump(opt, f, indent=1)

        g = torch.Generator().manual_seed(200 + i)
        x = torch.rand(1, 3, 11, 13, generator=g)
        y, feat = test_forward(net, x, opt["window_size"], opt["upscale"])
        ref = {
            "torch": torch.__version__,
            "basicsr": "1.4.2",
            "network_g": opt,
            "state_dict_key": key,
            "half_weights": half,
            "input_shape": list(x.shape),
            "input": x.flatten().tolist(),
            "output_shape": list(y.shape),
            "output": y.flatten().tolist(),
            "features_shape": list(feat.shape),
            "features": feat.flatten().tolist(),
        }
        with open(os.path.join(OUT, f"swinir_{name}.json"), "w") as f:
            json.dump(ref, f)
        print(f"{name}: {pth} ({os.path.getsize(pth)} bytes), output {tuple(y.shape)}")
        evaluate(net, name, opt["upscale"], opt["window_size"])


def data_dir():
    d = os.environ.get("IDC_DATA") or os.path.join(HERE, "..", "..", "..", "shared", "data")
    return d if os.path.isdir(d) else None


def evaluate(net, name, scale, window_size):
    """BasicSR test protocol on Set5 (as edsr_reference.py), SwinIR padding included."""
    d = data_dir()
    if d is None:
        print("no data: skipping the Set5 reference", file=sys.stderr)
        return
    files = sorted(glob.glob(os.path.join(d, "test", "Set5", "*.png")))
    rows = []
    for f in files:
        hr = cv2.imread(f, cv2.IMREAD_COLOR)
        h, w = hr.shape[:2]
        gt = hr[: h - h % scale, : w - w % scale]
        lr = imresize(gt.astype(np.float64) / 255.0, 1.0 / scale)
        lr = np.clip(np.round(lr * 255.0), 0, 255).astype(np.uint8)
        x = img2tensor(lr.astype(np.float32) / 255.0, bgr2rgb=True, float32=True).unsqueeze(0)
        sr, _ = test_forward(net, x, window_size, scale)
        sr = tensor2img(sr)
        rows.append({
            "file": os.path.basename(f),
            "lr_size": list(lr.shape[:2]),
            "psnr_rgb": calculate_psnr(sr, gt, scale, test_y_channel=False),
            "ssim_rgb": calculate_ssim(sr, gt, scale, test_y_channel=False),
            "psnr_y": calculate_psnr(sr, gt, scale, test_y_channel=True),
            "ssim_y": calculate_ssim(sr, gt, scale, test_y_channel=True),
        })
    keys = ["psnr_rgb", "ssim_rgb", "psnr_y", "ssim_y"]
    out = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    out["images"] = rows
    with open(os.path.join(OUT, f"swinir_{name}_set5.json"), "w") as f:
        json.dump({"model": out}, f, indent=1)
    print(f"{name} Set5: model {out['psnr_rgb']:.4f} dB")


if __name__ == "__main__":
    main()
