#!/usr/bin/env python3
"""Same-GPU PyTorch eager reference for `benches/edsr.rs` (and the `condense_step` floor).

Shapes as the Rust benches: EDSR-tiny x2 (32 features, 4 blocks, res_scale 1, img_range 255,
DIV2K mean), batch 16 of 48x48 LR, fp32, eager (no torch.compile, TF32 off so the numbers
compare with Burn's fp32 kernels). Rows (median ms over --iters runs after --warmup runs, each
synchronised):
  forward; features (body + skip); pixel shuffle x2 alone; train step (forward + L1 + backward +
  Adam, betas 0.9/0.99, eps 1e-8, lr 2e-4); input gradient (frozen model, L2 feature loss);
  condense_step floor (EDSR 64x16 features forward + input gradient on 4 x 48x48); one
  iteration of a per-instance condensation loop (the paper's code condenses one image at a time)
  on `condense_throughput`'s workload, as a *lower bound* of PyTorch's cost: EDSR 64x16 features
  of 5 synthetic 48x48 patches, batch-norm by the real statistics, 64 random 3x3 Fourier filters
  on real (45 cached feature maps) and synthetic features, 4x4 unfolding, NCFD at T = 256 at
  instance level only (no group or pair terms), backward to the patches, Adam.
Prints a markdown table. `--device cpu` runs the same on the CPU (a smoke test).
"""
import argparse
import statistics
import time

import torch
from torch import nn
import torch.nn.functional as F

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


class ResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(x)))


class Edsr(nn.Module):
    """BasicSR's EDSR layout (x2: one conv to 4c + pixel shuffle)."""

    def __init__(self, feat, blocks, scale=2):
        super().__init__()
        self.register_buffer("mean", torch.tensor(DIV2K_MEAN).view(1, 3, 1, 1))
        self.conv_first = nn.Conv2d(3, feat, 3, padding=1)
        self.body = nn.Sequential(*[ResBlock(feat) for _ in range(blocks)])
        self.conv_after_body = nn.Conv2d(feat, feat, 3, padding=1)
        self.up = nn.Conv2d(feat, feat * scale * scale, 3, padding=1)
        self.shuffle = nn.PixelShuffle(scale)
        self.conv_last = nn.Conv2d(feat, 3, 3, padding=1)

    def features(self, x):
        f = self.conv_first((x - self.mean) * 255.0)
        return self.conv_after_body(self.body(f)) + f

    def forward(self, x):
        y = self.conv_last(self.shuffle(self.up(self.features(x))))
        return y / 255.0 + self.mean


def timed(dev, iters, warmup, fn):
    """(median ms of the steady state, ms of the first warm-up call)."""
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    first = None
    for i in range(max(warmup, 1)):
        t = time.perf_counter()
        fn()
        sync()
        if i == 0:
            first = (time.perf_counter() - t) * 1e3
    runs = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        sync()
        runs.append((time.perf_counter() - t) * 1e3)
    return statistics.median(runs), first


def local_cf(feat, filters, freqs, mean, std, patch=4):
    """Mean characteristic function of every 4x4 local patch's 16 unfolded samples: [N, T] x 2."""
    z = F.conv2d((feat - mean) / std, filters, padding=filters.shape[-1] // 2)
    n, c, h, w = z.shape
    z = z.view(n, c, h // patch, patch, w // patch, patch).permute(0, 2, 4, 3, 5, 1)
    arg = z.reshape(-1, patch * patch, c) @ freqs.t()  # [dists, samples, T]
    return arg.cos().mean(1), arg.sin().mean(1)


def condense_iteration(base, dev, p, n_real=45, n_syn=5, c_out=64, freqs=256):
    """One step of a per-instance loop: fresh RLFF filters and frequencies, instance NCFD, Adam."""
    with torch.no_grad():
        real = base.features(torch.rand(n_real, 3, p, p, device=dev))
        mean = real.mean((0, 2, 3), keepdim=True)
        std = (real.var((0, 2, 3), keepdim=True) + 1e-5).sqrt()
    syn = torch.rand(n_syn, 3, p, p, device=dev).requires_grad_(True)
    opt = torch.optim.Adam([syn], lr=1e-2)
    c = real.shape[1]

    def step():
        filters = torch.randn(c_out, c, 3, 3, device=dev)
        t = torch.randn(freqs, c_out, device=dev)
        with torch.no_grad():
            rc, rs = local_cf(real, filters, t, mean, std)
            rc, rs = rc.mean(0), rs.mean(0)
        sc, ss = local_cf(base.features(syn), filters, t, mean, std)
        loss = ((sc.mean(0) - rc) ** 2 + (ss.mean(0) - rs) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=48)
    args = ap.parse_args()
    dev = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    n, p = args.batch, args.size

    tiny = Edsr(32, 4).to(dev).eval()
    x = torch.rand(n, 3, p, p, device=dev)
    pre = torch.rand(n, 4 * 32, p, p, device=dev)
    rows = []
    with torch.no_grad():
        rows.append(("forward", timed(dev, args.iters, args.warmup, lambda: tiny(x))))
        rows.append(("- of which features (body + skip)",
                     timed(dev, args.iters, args.warmup, lambda: tiny.features(x))))
        rows.append(("- pixel shuffle x2 alone",
                     timed(dev, args.iters, args.warmup, lambda: F.pixel_shuffle(pre, 2))))

    model = Edsr(32, 4).to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=2e-4, betas=(0.9, 0.99), eps=1e-8)
    hr = torch.rand(n, 3, 2 * p, 2 * p, device=dev)

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = (model(x) - hr).abs().mean()
        loss.backward()
        opt.step()

    rows.append(("train step (fwd + L1 + bwd + Adam)",
                 timed(dev, args.iters, args.warmup, train_step)))

    frozen = Edsr(32, 4).to(dev).eval().requires_grad_(False)
    target = frozen.features(x).detach()

    def input_grad():
        inp = x.detach().requires_grad_(True)
        loss = (frozen.features(inp) - target).pow(2).mean()
        (g,) = torch.autograd.grad(loss, inp)
        return g

    rows.append(("input gradient (frozen model, features L2)",
                 timed(dev, args.iters, args.warmup, input_grad)))

    base = Edsr(64, 16).to(dev).eval().requires_grad_(False)
    syn = torch.rand(4, 3, p, p, device=dev)

    def floor():
        inp = syn.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(base.features(inp).mean(), inp)
        return g.sum().item()

    rows.append(("condense_step floor: EDSR 64x16 fwd+bwd, 4 x 48x48",
                 timed(dev, args.iters, args.warmup, floor)))

    rows.append(("per-instance condense iteration (lower bound; 5 syn / 45 real)",
                 timed(dev, args.iters, args.warmup, condense_iteration(base, dev, p))))

    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(f"PyTorch {torch.__version__} eager fp32 (TF32 off) on {name}; EDSR-tiny x2, "
          f"batch {n}, LR {p}x{p}; median of {args.iters} after {args.warmup} warm-up")
    print()
    print("| pass | median ms | first call ms |")
    print("|---|---:|---:|")
    for label, (med, first) in rows:
        print(f"| {label} | {med:.2f} | {first:.1f} |")


if __name__ == "__main__":
    main()
