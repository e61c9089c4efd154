#!/usr/bin/env python3
"""PyTorch (CPU, eager, fp32) peer of `benches/edsr.rs`, `benches/swinir.rs`, `benches/condense_step.rs`.

Same shapes, passes, timing rule (median of `--iters` runs after one warm-up; the upper median
for an even count) and row labels as the Rust benches, so `compare.py` can pair the rows.
Networks: BasicSR 1.4.2's own `EDSR` and `SwinIR` classes (arch modules loaded without running
`basicsr/__init__.py`, see `basicsr_archs`). Random inputs and weights; values do not matter.

    python benches/peer/peer.py --bench edsr --threads 2 [--iters 5]
"""
import argparse
import importlib
import os
import sys
import time
import types
import warnings

import torch
import torch.nn.functional as F

BASICSR_SWINIR = {  # `SwinIrConfig::from_arch` presets (x2, window 8, mlp 2, img_size 64)
    "swinir-tiny": dict(embed_dim=24, depths=[2, 2], num_heads=[4, 4]),
    "swinir-light": dict(embed_dim=60, depths=[6] * 4, num_heads=[6] * 4),
}


def basicsr_archs():
    """`basicsr.archs.edsr_arch` and `swinir_arch` without `basicsr/__init__.py`.

    The package `__init__` (and `archs/__init__`) import the data and model code, which needs
    torchvision, cv2 and more. The arch modules need only `arch_util`, whose module-level imports
    (torchvision, the DCN ops, the logger) serve `DCNv2Pack` alone, so those get empty stubs.
    """
    spec = importlib.util.find_spec("basicsr")
    if spec is None:
        sys.exit("basicsr is not installed: see benches/peer/README.md")
    root = spec.submodule_search_locations[0]

    def stub(name, path=None, **attrs):
        mod = types.ModuleType(name)
        if path is not None:
            mod.__path__ = [os.path.join(root, path)]
        mod.__dict__.update(attrs)
        sys.modules[name] = mod

    stub("basicsr", "")
    stub("basicsr.archs", "archs")
    stub("basicsr.utils", "utils", get_root_logger=lambda *a, **k: None)
    stub("basicsr.ops", "ops")
    stub("basicsr.ops.dcn", ModulatedDeformConvPack=torch.nn.Module, modulated_deform_conv=None)
    sys.modules.setdefault("torchvision", types.ModuleType("torchvision"))
    try:
        import distutils.version  # noqa: F401  (arch_util; gone from Python 3.12)
    except ImportError:
        stub("distutils")
        stub("distutils.version", LooseVersion=str)
    edsr = importlib.import_module("basicsr.archs.edsr_arch")
    swinir = importlib.import_module("basicsr.archs.swinir_arch")
    return edsr.EDSR, swinir.SwinIR


warnings.filterwarnings("ignore", message="torch.meshgrid")  # inside BasicSR's SwinIR
EDSR, SwinIR = basicsr_archs()


def edsr(feat, blocks):
    """BasicSR EDSR x2 as `EdsrConfig` (res_scale 1, img_range 255, DIV2K mean)."""
    return EDSR(3, 3, num_feat=feat, num_block=blocks, upscale=2, res_scale=1, img_range=255.0)


def network(arch):
    if arch == "edsr-tiny":
        return edsr(32, 4)
    return SwinIR(upscale=2, in_chans=3, img_size=64, window_size=8, img_range=1.0, mlp_ratio=2,
                  upsampler="pixelshuffledirect", resi_connection="1conv", drop_path_rate=0.0,
                  **BASICSR_SWINIR[arch])


def features(net, x):
    """The crate's `FeatureExtractor::features`: the deep features plus the long skip."""
    first = net.conv_first((x - net.mean) * net.img_range)
    if isinstance(net, EDSR):
        return net.conv_after_body(net.body(first)) + first
    return net.conv_after_body(net.forward_features(first)) + first


def time_ms(iters, fn):
    """`common::median_ms`: one warm-up call, then the upper median of `iters` timed calls."""
    fn()
    runs = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t) * 1e3)
    return sorted(runs)[len(runs) // 2]


def adam(params):
    """The benches' `AdamConfig`: betas (0.9, 0.99), eps 1e-8, lr 2e-4, no weight decay."""
    return torch.optim.Adam(params, lr=2e-4, betas=(0.9, 0.99), eps=1e-8)


def train_step_fn(model, lr, hr, after=lambda: None):
    opt = adam(model.parameters())

    def step():
        opt.zero_grad(set_to_none=True)
        (model(lr) - hr).abs().mean().backward()
        opt.step()
        after()

    return step


def input_grad_fn(frozen, x):
    frozen.requires_grad_(False)
    with torch.no_grad():
        target = features(frozen, x)

    def step():
        inp = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad((features(frozen, inp) - target).pow(2).mean(), inp)
        return g

    return step


def bench_edsr(iters):
    n, p = 16, 48
    torch.manual_seed(0)
    model = edsr(32, 4)
    x = torch.rand(n, 3, p, p)
    pre = torch.rand(n, 4 * 32, p, p)
    with torch.no_grad():
        fwd = time_ms(iters, lambda: model(x))
        feat = time_ms(iters, lambda: features(model, x))
        shuffle = time_ms(iters, lambda: F.pixel_shuffle(pre, 2).contiguous())
    hr = torch.rand(n, 3, 2 * p, 2 * p)
    train = time_ms(iters, train_step_fn(edsr(32, 4), x, hr))
    grad = time_ms(iters, input_grad_fn(edsr(32, 4), x))
    print(f"EDSR-tiny x2 (32 features, 4 blocks), batch {n}, LR {p}x{p}, {torch_name()}, "
          f"median of {iters}")
    print()
    print("| pass | median ms |")
    print("|---|---:|")
    for label, ms in [("forward", fwd), ("- of which features (body + skip)", feat),
                      ("- pixel shuffle x2 alone", shuffle),
                      ("train step (fwd + L1 + bwd + Adam)", train),
                      ("input gradient (frozen model, features L2)", grad)]:
        print(f"| {label} | {ms:.1f} |")


def bench_swinir(iters, skip):
    n = int(os.environ.get("IDC_BENCH_BATCH", "4"))
    p = 48
    print(f"x2, batch {n}, LR {p}x{p}, {torch_name()}, median of {iters}")
    print()
    print("| network | forward ms | train step ms | input gradient ms |")
    print("|---|---:|---:|---:|")
    for arch in ["edsr-tiny", "swinir-tiny", "swinir-light"]:
        if arch in skip:
            continue
        torch.manual_seed(0)
        x = torch.rand(n, 3, p, p)
        hr = torch.rand(n, 3, 2 * p, 2 * p)
        model = network(arch)
        with torch.no_grad():
            fwd = time_ms(iters, lambda: model(x))
        # The Rust step ends with a forward of one 8x8 crop (its sync point); so does this one.
        train_model = network(arch)
        train = time_ms(iters, train_step_fn(train_model, x, hr,
                                             lambda: train_model(x[:1, :, :8, :8])))
        grad = time_ms(iters, input_grad_fn(network(arch), x))
        print(f"| {arch} | {fwd:.1f} | {train:.1f} | {grad:.1f} |", flush=True)


def ncfd(cf_r, cf_s, alpha=0.5):
    """`ncfd::ncfd_from_cf` per row: mean_t sqrt(alpha amp + (1 - alpha) phase)."""
    (re_r, im_r), (re_s, im_s) = cf_r, cf_s
    a_r = (re_r.square() + im_r.square() + 1e-12).sqrt()
    a_s = (re_s.square() + im_s.square() + 1e-12).sqrt()
    amp = (a_r - a_s).square()
    phase = a_r * a_s * ((re_r / a_r - re_s / a_s).square() + (im_r / a_r - im_s / a_s).square())
    return (alpha * amp + (1 - alpha) * phase.clamp_min(1e-12)).sqrt().mean(-1)


def fourier_bank(c, k):
    """`rlff::FilterBank`: the 2 c k^2 cos/sin filters of the per-pixel neighbourhood DFT."""
    cp = c * k * k
    ang = 2 * torch.pi * ((torch.arange(cp)[:, None] * torch.arange(cp)) % cp) / cp
    return torch.cat([ang.cos(), ang.sin()]).view(2 * cp, c, k, k).float()


class CondenseIteration:
    """A lower bound of one `Condenser` step on the `condense_step` workload, in plain torch.

    Real side (built once, untimed, like the Rust setup): 32 real patches' features, batch-norm
    statistics, a fixed random grouping of the real local patches into M groups, a fixed group
    assignment and nearest-pair choice of the synthetic local patches (the k-means, quotas and
    pairing searches are left out: the lower bound). Per step: draw C_out of the 2 c k^2 Fourier
    filters and T frequencies (or take bank entry j mod B, whose real characteristic functions
    and paired real samples were computed at setup), then the real per-group cos/sin sums
    (fresh draws only, no grad, chunked), the synthetic features with gradient, batch norm,
    RLFF conv, 4x4 unfolding, L2 normalisation, the instance + group NCFD, the pair L1, backward
    to the pixels and Adam (lr 1e-2, betas 0.9/0.999, eps 1e-8).
    """

    def __init__(self, extractor, real, syn, bank, c_out=64, k=3, p=4, T=1024, M=4, chunk=16384):
        self.net, self.k, self.p, self.M, self.chunk = extractor, k, p, M, chunk
        with torch.no_grad():
            fr = features(extractor, real)
        c = fr.shape[1]
        self.mean = fr.mean((0, 2, 3), keepdim=True)
        self.std = (fr.var((0, 2, 3), unbiased=False, keepdim=True) + 1e-5).sqrt()
        self.real_bn = (fr - self.mean) / self.std
        self.filters = fourier_bank(c, k)
        self.c_out, self.T = c_out, T
        g = torch.Generator().manual_seed(0)
        n_real_local = real.shape[0] * (real.shape[2] // p) * (real.shape[3] // p)
        self.real_labels = torch.randint(M, (n_real_local,), generator=g)
        n_syn_local = syn.shape[0] * (syn.shape[2] // p) * (syn.shape[3] // p)
        syn_labels = torch.arange(n_syn_local) % M
        onehot = F.one_hot(syn_labels, M).T.float()
        self.patch_w = onehot / onehot.sum(1, keepdim=True)  # [M, Ns']
        self.sample_w = self.patch_w.repeat_interleave(p * p, 1) / (p * p)  # [M, Ns' p^2]
        # Input windows (k // 2 halo) of each synthetic local patch's paired real local patch.
        pad = F.pad(self.real_bn, [k // 2] * 4)
        win = pad.unfold(2, p + 2 * (k // 2), p).unfold(3, p + 2 * (k // 2), p)
        win = win.permute(0, 2, 3, 1, 4, 5).reshape(-1, c, p + k - 1, p + k - 1)
        self.pair_windows = win[torch.randint(win.shape[0], (n_syn_local,), generator=g)]
        self.syn = syn.clone().requires_grad_(True)
        self.opt = torch.optim.Adam([self.syn], lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
        self.bank = [self.real_side(*self.draw()) for _ in range(bank)]
        self.j = 0

    def draw(self):
        idx = torch.randperm(self.filters.shape[0])[: self.c_out]
        return self.filters[idx], torch.randn(self.c_out, self.T)

    def local(self, bn, filters, padding):
        """RLFF conv, p x p local patches unfolded to p^2 samples, L2-normalised: [L, p^2, C_out]."""
        z = F.conv2d(bn, filters, padding=padding)
        n, c, h, w = z.shape
        p = self.p
        z = z.view(n, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1).reshape(-1, p * p, c)
        return F.normalize(z, dim=-1)

    @torch.no_grad()
    def real_side(self, filters, freqs):
        """Real instance and per-group CFs under one draw, and the paired real samples."""
        samples = self.local(self.real_bn, filters, self.k // 2)
        labels = self.real_labels.repeat_interleave(self.p * self.p)
        samples = samples.reshape(-1, self.c_out)
        re = torch.zeros(self.M, self.T)
        im = torch.zeros(self.M, self.T)
        for s in range(0, samples.shape[0], self.chunk):
            proj = samples[s: s + self.chunk] @ freqs
            onehot = F.one_hot(labels[s: s + self.chunk], self.M).T.float()
            re += onehot @ proj.cos()
            im += onehot @ proj.sin()
        counts = torch.bincount(labels, minlength=self.M).float()[:, None]
        inst = (re.sum(0, keepdim=True) / samples.shape[0], im.sum(0, keepdim=True) / samples.shape[0])
        pairs = self.local(self.pair_windows, filters, 0).flatten(1)
        return filters, freqs, inst, (re / counts, im / counts), pairs

    def __call__(self):
        if self.bank:
            filters, freqs, inst, group, pairs = self.bank[self.j % len(self.bank)]
        else:
            filters, freqs, inst, group, pairs = self.real_side(*self.draw())
        self.j += 1
        bn = (features(self.net, self.syn) - self.mean) / self.std
        local = self.local(bn, filters, self.k // 2)
        proj = local.reshape(-1, self.c_out) @ freqs
        cos, sin = proj.cos(), proj.sin()
        syn_inst = (cos.mean(0, keepdim=True), sin.mean(0, keepdim=True))
        syn_group = (self.sample_w @ cos, self.sample_w @ sin)
        pair = self.patch_w @ (local.flatten(1) - pairs).abs().mean(1)
        loss = ncfd(inst, syn_inst).sum() + ncfd(group, syn_group).sum() + pair.sum()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()


def bench_condense_step(iters):
    torch.manual_seed(0)
    extractor = edsr(64, 16).requires_grad_(False)
    real = torch.rand(32, 3, 48, 48)
    syn = real[:4].clone()

    def floor():
        x = syn.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(features(extractor, x).mean(), x)
        return g.sum().item()

    rows = [("floor: EDSR 64x16 fwd+bwd, 4 x 48x48", time_ms(iters, floor))]
    for bank, name in [(0, " (fresh draws)"), (8, " (bank)")]:
        step = CondenseIteration(extractor, real, syn, bank)
        rows.append((f"iteration, B = {bank}{name}", time_ms(iters, step)))
    print(f"condense_step on {torch_name()}; real patches: uniform random (lower bound: fixed "
          f"groups and pairs); {iters} timed iterations")
    print()
    print("| case | median ms / iteration | x floor |")
    print("|---|---:|---:|")
    for label, ms in rows:
        print(f"| {label} | {ms:.1f} | {ms / rows[0][1]:.2f} |")


def torch_name():
    return f"PyTorch {torch.__version__} CPU eager fp32, {torch.get_num_threads()} threads"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", required=True, choices=["edsr", "swinir", "condense_step"])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--iters", type=int, help="timed runs (default: IDC_BENCH_ITERS, else as the Rust bench)")
    ap.add_argument("--skip", default=os.environ.get("IDC_BENCH_SKIP", ""),
                    help="comma-separated swinir networks to leave out (e.g. swinir-light)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    default = {"edsr": 5, "swinir": 3, "condense_step": 6}[args.bench]
    iters = max(1, args.iters or int(os.environ.get("IDC_BENCH_ITERS", default)))
    if args.bench == "edsr":
        bench_edsr(iters)
    elif args.bench == "swinir":
        bench_swinir(iters, set(filter(None, args.skip.split(","))))
    else:
        bench_condense_step(iters)


if __name__ == "__main__":
    main()
