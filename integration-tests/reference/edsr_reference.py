#!/usr/bin/env python3
"""PyTorch reference for the EDSR parity test (integration-tests/tests/models.rs).

Pinned versions (throw-away virtualenv):
    python -m venv venv && venv/bin/pip install torch==2.1.2 numpy==1.26.4 opencv-python-headless==4.8.1.78 \
        torchvision==0.16.2 scipy tqdm lmdb pyyaml addict future yapf requests scikit-image tb-nightly wheel
    venv/bin/pip install --no-build-isolation --no-deps basicsr==1.4.2
    venv/bin/python integration-tests/reference/edsr_reference.py

Builds BasicSR 1.4.2's own `EDSR` (16 features, 2 blocks) for x2 and x4 with fixed random weights
(seeded; the biases are randomised too so a bias mix-up cannot pass), saves each as a BasicSR-style
`.pth` (x2 under `params`, x4 under `params_ema` to exercise both key paths) and writes the
network's output on a small seeded input to JSON. Outputs go to `fixtures/` beside this script.
"""
import json
import os

import glob
import sys

import cv2
import numpy as np
import torch

from basicsr.archs.edsr_arch import EDSR
from basicsr.metrics.psnr_ssim import calculate_psnr, calculate_ssim
from basicsr.utils.img_util import img2tensor, tensor2img
from basicsr.utils.matlab_functions import imresize

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")


def main():
    os.makedirs(OUT, exist_ok=True)
    for scale, key, seed in [(2, "params", 2), (4, "params_ema", 4)]:
        torch.manual_seed(seed)
        net = EDSR(num_in_ch=3, num_out_ch=3, num_feat=16, num_block=2, upscale=scale,
                   res_scale=1, img_range=255.0, rgb_mean=(0.4488, 0.4371, 0.4040))
        with torch.no_grad():
            for name, p in net.named_parameters():
                if name.endswith("bias"):
                    p.uniform_(-0.05, 0.05)
        net.eval()
        pth = os.path.join(OUT, f"edsr_16x2_x{scale}.pth")
        torch.save({key: net.state_dict()}, pth)

        g = torch.Generator().manual_seed(100 + scale)
        x = torch.rand(1, 3, 9, 11, generator=g)
        with torch.no_grad():
            y = net(x)
            feat = net.conv_first((x - net.mean) * net.img_range)
            feat = net.conv_after_body(net.body(feat)) + feat
        ref = {
            "torch": torch.__version__,
            "basicsr": "1.4.2",
            "scale": scale,
            "arch": "edsr:16x2",
            "state_dict_key": key,
            "input_shape": list(x.shape),
            "input": x.flatten().tolist(),
            "output_shape": list(y.shape),
            "output": y.flatten().tolist(),
            "features_shape": list(feat.shape),
            "features": feat.flatten().tolist(),
        }
        with open(os.path.join(OUT, f"edsr_16x2_x{scale}.json"), "w") as f:
            json.dump(ref, f)
        print(f"x{scale}: {pth} ({os.path.getsize(pth)} bytes), output {tuple(y.shape)}")
        evaluate(net, scale)


def data_dir():
    d = os.environ.get("IDC_DATA") or os.path.join(HERE, "..", "..", "..", "shared", "data")
    return d if os.path.isdir(d) else None


def evaluate(net, scale):
    """BasicSR test protocol on Set5 (if the data are there): GT = mod_crop(HR), LR = imresize(GT,
    1/scale) saved as uint8, SR = tensor2img(net(LR)), PSNR/SSIM with crop_border = scale on RGB
    and Y. Also the bicubic baseline (imresize(LR, scale)). Writes only numbers."""
    d = data_dir()
    if d is None:
        print("no data: skipping the Set5 reference", file=sys.stderr)
        return
    files = sorted(glob.glob(os.path.join(d, "test", "Set5", "*.png")))
    rows, bic_rows = [], []
    for f in files:
        hr = cv2.imread(f, cv2.IMREAD_COLOR)  # BGR uint8, as BasicSR reads
        h, w = hr.shape[:2]
        gt = hr[: h - h % scale, : w - w % scale]
        lr = imresize(gt.astype(np.float64) / 255.0, 1.0 / scale)
        lr = np.clip(np.round(lr * 255.0), 0, 255).astype(np.uint8)  # the LR PNG
        x = img2tensor(lr.astype(np.float32) / 255.0, bgr2rgb=True, float32=True).unsqueeze(0)
        with torch.no_grad():
            sr = tensor2img(net(x))
        bic = imresize(lr.astype(np.float64) / 255.0, scale)
        bic = np.clip(np.round(bic * 255.0), 0, 255).astype(np.uint8)
        for out, img in ((rows, sr), (bic_rows, bic)):
            out.append({
                "file": os.path.basename(f),
                "psnr_rgb": calculate_psnr(img, gt, scale, test_y_channel=False),
                "ssim_rgb": calculate_ssim(img, gt, scale, test_y_channel=False),
                "psnr_y": calculate_psnr(img, gt, scale, test_y_channel=True),
                "ssim_y": calculate_ssim(img, gt, scale, test_y_channel=True),
            })

    def summary(rs):
        keys = ["psnr_rgb", "ssim_rgb", "psnr_y", "ssim_y"]
        out = {k: float(np.mean([r[k] for r in rs])) for k in keys}
        out["images"] = rs
        return out

    with open(os.path.join(OUT, f"edsr_16x2_x{scale}_set5.json"), "w") as f:
        json.dump({"model": summary(rows), "bicubic": summary(bic_rows)}, f, indent=1)
    print(f"x{scale} Set5: model {summary(rows)['psnr_rgb']:.4f} dB, bicubic {summary(bic_rows)['psnr_rgb']:.4f} dB")


if __name__ == "__main__":
    main()
