#!/usr/bin/env python3
"""NumPy reference for burn-idc's do-nothing denoising baseline (`idc eval --task denoise --arch noisy`).

Protocol (SwinIR/KAIR colour denoising), per image of <data>/denoise/{CBSD68,Kodak24,McMaster}:

  gt    = the 8-bit RGB image (Pillow, converted to RGB)                  float64 in [0, 1]
  noisy = gt + N(0, (sigma / 255)^2) per pixel and channel (NumPy's default_rng, seeded per image)
  out   = round(clip(noisy * 255, 0, 255))                                 uint8 (what a saved PNG holds)
  psnr  = 10 log10(255^2 / mean((out - gt * 255)^2))  over all pixels and channels, no border crop

The noise draws are NumPy's, not burn-idc's, so only the statistic is compared (within 0.05 dB, see
integration-tests/tests/denoise.rs): per image the PSNR of clipped sigma-50 noise varies by ~0.01 dB
between draws. Only numbers are written (no images): per set the image count and the mean PSNR,
and per image its PSNR.

Environment (exact versions used for the committed JSON): Python 3.11.7, numpy==2.4.6, pillow==13.0.0.
Recreate it with `--make-venv DIR` (needs network to PyPI):

  python3 denoise_reference.py --make-venv /root/.cache/idc-ref/denoise-venv
  /root/.cache/idc-ref/denoise-venv/bin/python denoise_reference.py --data ../../../shared/data \
      --out denoise_reference.json
"""
import argparse
import json
import os
import subprocess
import sys

PINS = ["numpy==2.4.6", "pillow==13.0.0"]
SETS = ["CBSD68", "Kodak24", "McMaster"]
EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def make_venv(path):
    subprocess.check_call([sys.executable, "-m", "venv", path])
    subprocess.check_call([os.path.join(path, "bin", "pip"), "install", *PINS])


def psnr_of_noisy(file, sigma, seed):
    import numpy as np
    from PIL import Image

    gt = np.asarray(Image.open(file).convert("RGB"), dtype=np.float64) / 255.0
    rng = np.random.default_rng(seed)
    noisy = gt + rng.normal(0.0, sigma / 255.0, gt.shape)
    out = np.round(np.clip(noisy * 255.0, 0.0, 255.0))
    mse = np.mean((out - gt * 255.0) ** 2)
    return float(10.0 * np.log10(255.0**2 / mse))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--make-venv")
    ap.add_argument("--data", default="../../../shared/data")
    ap.add_argument("--sigma", type=float, default=50.0)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--out", default="denoise_reference.json")
    a = ap.parse_args()
    if a.make_venv:
        make_venv(a.make_venv)
        return
    import numpy
    import PIL

    result = {
        "sigma": a.sigma,
        "seed": a.seed,
        "versions": {"python": sys.version.split()[0], "numpy": numpy.__version__, "pillow": PIL.__version__},
        "sets": {},
    }
    for k, name in enumerate(SETS):
        folder = os.path.join(a.data, "denoise", name)
        files = sorted(f for f in os.listdir(folder) if f.lower().endswith(EXTS))
        per = {f: psnr_of_noisy(os.path.join(folder, f), a.sigma, [a.seed, k, i]) for i, f in enumerate(files)}
        result["sets"][name] = {"images": len(files), "psnr_rgb": sum(per.values()) / len(per), "per_image": per}
        print(f"{name}: {len(files)} images, noisy PSNR {result['sets'][name]['psnr_rgb']:.4f} dB", file=sys.stderr)
    with open(a.out, "w") as fh:
        json.dump(result, fh, indent=1, sort_keys=True)
        fh.write("\n")


if __name__ == "__main__":
    main()
