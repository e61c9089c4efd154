#!/usr/bin/env python3
"""Reference numbers from BasicSR 1.4.2 for burn-idc's parity tests (integration-tests/tests/foundation.rs).

What it computes, for a few images of <data>/test (default: Set5 bird + woman, Set14 comic + grey bridge)
and scales 2, 3, 4 -- using BasicSR's own code (`basicsr.utils.matlab_functions.imresize`,
`basicsr.metrics.psnr_ssim.calculate_psnr/calculate_ssim`, `basicsr.utils.img_util` conventions):

  hr  = mod_crop(cv2.imread(file, IMREAD_COLOR), s)                       uint8, BGR (grey replicated)
  lr  = round(clip(imresize(hr / 255, 1 / s) * 255))                      uint8 (what an LR PNG holds)
  sr  = round(clip(imresize(lr / 255, s) * 255))                          uint8 (bicubic up-sampling back)
  box = (hr[y,x] + hr[y,x+1] + hr[y+1,x] + hr[y+1,x+1] + 2) // 4          uint8, edge-replicated; integer
        arithmetic, so the Rust side reproduces it bit for bit and the metric check does not depend on resize
  metrics: PSNR/SSIM of sr and of box against hr, RGB and Y, crop_border = s

Only numbers are written (no images): for each LR image its shape, SHA-256 of the planar RGB bytes
(channel, row, column; the layout of burn-idc's `Image`), the sum of all values, and the values at a fixed set
of positions (all border pixels plus 2048 seeded random ones); SHA-256 of sr and box; the metrics.
Also, for one BSD100 JPEG, the same digest of OpenCV's (libjpeg) decoding, to measure decoder agreement.

Environment (exact versions used for the committed JSON): Python 3.11.7, basicsr==1.4.2, torch==2.1.2
(CPU wheel), torchvision==0.16.2, numpy==1.26.4, opencv-python-headless==4.8.1.78, scipy==1.17.1,
scikit-image==0.26.0. Recreate it with `--make-venv DIR` (needs network to PyPI and download.pytorch.org):

  python3 basicsr_reference.py --make-venv /root/.cache/idc-ref/venv
  /root/.cache/idc-ref/venv/bin/python basicsr_reference.py --data ../../../shared/data --out basicsr_reference.json

`import basicsr` works with torchvision 0.16 (it only warns about `functional_tensor`); if a newer torchvision
breaks it, the two modules are loaded from the installed package by file path (see `load_basicsr`).
"""

import argparse
import hashlib
import importlib.util
import json
import os
import subprocess
import sys

PINS = [
    "numpy==1.26.4",
    "opencv-python-headless==4.8.1.78",
    "scipy==1.17.1",
    "scikit-image==0.26.0",
    "basicsr==1.4.2",
]
TORCH_PINS = ["torch==2.1.2", "torchvision==0.16.2"]

DEFAULT_IMAGES = ["test/Set5/bird.png", "test/Set5/woman.png", "test/Set14/comic.png", "test/Set14/bridge.png"]
DEFAULT_JPEGS = ["test/BSD100/101085.jpg"]
SCALES = [2, 3, 4]
N_SAMPLES = 2048


def make_venv(path):
    subprocess.check_call([sys.executable, "-m", "venv", path])
    pip = [os.path.join(path, "bin", "python"), "-m", "pip", "install"]
    subprocess.check_call(pip + ["--upgrade", "pip", "wheel", "setuptools"])
    subprocess.check_call(pip + TORCH_PINS + ["--index-url", "https://download.pytorch.org/whl/cpu"])
    subprocess.check_call(pip + PINS[:-1])
    # basicsr 1.4.2 ships only an sdist whose setup.py needs `wheel` at build time.
    subprocess.check_call(pip + ["--no-build-isolation", PINS[-1]])
    print(f"venv ready: {path}")


def load_basicsr():
    """Returns (imresize, calculate_psnr, calculate_ssim) from the installed BasicSR 1.4.2."""
    try:
        import basicsr
        from basicsr.utils.matlab_functions import imresize
        from basicsr.metrics.psnr_ssim import calculate_psnr, calculate_ssim
        assert basicsr.__version__ == "1.4.2", basicsr.__version__
        return imresize, calculate_psnr, calculate_ssim
    except ImportError:
        # Fallback: load the two files directly (their own imports are basicsr.utils / metrics helpers).
        spec = importlib.util.find_spec("basicsr")
        root = os.path.dirname(spec.origin)
        mods = []
        for rel, name in [("utils/matlab_functions.py", "mf"), ("metrics/psnr_ssim.py", "ps")]:
            s = importlib.util.spec_from_file_location(f"_ref_{name}", os.path.join(root, rel))
            m = importlib.util.module_from_spec(s)
            s.loader.exec_module(m)
            mods.append(m)
        return mods[0].imresize, mods[1].calculate_psnr, mods[1].calculate_ssim


def planar_rgb(bgr):
    """HWC BGR uint8 -> CHW RGB uint8 (burn-idc's Image layout)."""
    import numpy as np
    return np.ascontiguousarray(bgr[..., ::-1].transpose(2, 0, 1))


def digest(chw):
    """Hash, sum and sampled values of a CHW uint8 array."""
    import numpy as np
    c, h, w = chw.shape
    flat = chw.reshape(-1)
    border = set()
    for ch in range(c):
        for x in range(w):
            border.add((ch * h + 0) * w + x)
            border.add((ch * h + h - 1) * w + x)
        for y in range(h):
            border.add((ch * h + y) * w + 0)
            border.add((ch * h + y) * w + w - 1)
    rng = np.random.default_rng(0)
    rand = rng.choice(flat.size, size=min(N_SAMPLES, flat.size), replace=False)
    idx = sorted(border.union(int(i) for i in rand))
    return {
        "shape": [int(c), int(h), int(w)],
        "sha256": hashlib.sha256(flat.tobytes()).hexdigest(),
        "sum": int(flat.astype(np.int64).sum()),
        "idx": idx,
        "val": [int(flat[i]) for i in idx],
    }


def box_degrade(hr):
    import numpy as np
    a = hr.astype(np.int32)
    right = np.concatenate([a[:, 1:], a[:, -1:]], axis=1)
    down = np.concatenate([a[1:], a[-1:]], axis=0)
    diag = np.concatenate([right[1:], right[-1:]], axis=0)
    return ((a + right + down + diag + 2) // 4).astype(np.uint8)


def to_u8(x):
    import numpy as np
    return np.clip(x * 255.0, 0, 255).round().astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--make-venv", metavar="DIR", help="create a venv with the pinned versions and exit")
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "basicsr_reference.json"))
    ap.add_argument("--images", nargs="*", default=DEFAULT_IMAGES, help="paths relative to --data")
    ap.add_argument("--jpegs", nargs="*", default=DEFAULT_JPEGS, help="JPEGs for the decoder check")
    args = ap.parse_args()
    if args.make_venv:
        make_venv(args.make_venv)
        return

    import cv2
    import numpy as np
    import torch
    imresize, calculate_psnr, calculate_ssim = load_basicsr()
    torch.set_num_threads(1)  # deterministic BLAS summation order

    out = {
        "generator": "integration-tests/reference/basicsr_reference.py",
        "versions": {
            "python": sys.version.split()[0],
            "basicsr": "1.4.2",
            "torch": torch.__version__,
            "numpy": np.__version__,
            "opencv": cv2.__version__,
        },
        "images": [],
        "jpegs": [],
    }
    for rel in args.images:
        bgr = cv2.imread(os.path.join(args.data, rel), cv2.IMREAD_COLOR)
        assert bgr is not None, rel
        entry = {"file": rel, "height": int(bgr.shape[0]), "width": int(bgr.shape[1]),
                 "sha256": hashlib.sha256(planar_rgb(bgr).tobytes()).hexdigest(), "scales": []}
        for s in SCALES:
            h, w = bgr.shape[0] - bgr.shape[0] % s, bgr.shape[1] - bgr.shape[1] % s
            hr = bgr[:h, :w]  # basicsr.utils.img_util mod-crop
            lr = to_u8(imresize(hr.astype(np.float32) / 255.0, 1 / s))
            sr = to_u8(imresize(lr.astype(np.float32) / 255.0, s))
            assert sr.shape == hr.shape, (sr.shape, hr.shape)
            box = box_degrade(hr)
            metrics = {}
            for kind, img in [("bicubic", sr), ("box", box)]:
                m = {}
                for y in [False, True]:
                    tag = "y" if y else "rgb"
                    m[f"psnr_{tag}"] = float(calculate_psnr(img, hr, crop_border=s, input_order="HWC", test_y_channel=y))
                    m[f"ssim_{tag}"] = float(calculate_ssim(img, hr, crop_border=s, input_order="HWC", test_y_channel=y))
                metrics[kind] = m
            entry["scales"].append({
                "scale": s,
                "hr_size": [int(h), int(w)],
                "lr": digest(planar_rgb(lr)),
                "sr_sha256": hashlib.sha256(planar_rgb(sr).tobytes()).hexdigest(),
                "box_sha256": hashlib.sha256(planar_rgb(box).tobytes()).hexdigest(),
                "metrics": metrics,
            })
            print(rel, s, metrics["bicubic"], file=sys.stderr)
        out["images"].append(entry)
    for rel in args.jpegs:
        bgr = cv2.imread(os.path.join(args.data, rel), cv2.IMREAD_COLOR)
        assert bgr is not None, rel
        d = digest(planar_rgb(bgr))
        d["file"] = rel
        out["jpegs"].append(d)
    with open(args.out, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
