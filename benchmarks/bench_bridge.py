"""Bridge benchmarks: checkpoint reading vs torch.load, and the streaming pass's memory/speed.

Usage: python benchmarks/bench_bridge.py [--gb 1.0] [--trials 10] [--dir /tmp/bench_bridge]
torch is optional (only for the reading comparison and to write torch.save files).

The streaming pass is timed in wall-clock and in CPU time of this process (``process_time``,
best of ``--repeat``): on a shared machine the wall-clock figure measures the other jobs as
much as the pass, the CPU-time figure what one core does. The same files are then loaded
with ``torch.load(weights_only=True)`` (and ``mmap=True``), as a baseline that only reads.
"""

import argparse
import os
import shutil
import time
import tracemalloc

import numpy as np

from stochthermo.bridge import diagnose_run, open_runs, read_checkpoint


def write_torch_dir(folder, n_files, n_params, seed=0):
    import torch

    g = torch.Generator().manual_seed(seed)
    os.makedirs(folder, exist_ok=True)
    width = 1000
    for i in range(n_files):
        sd = {"fc1.weight": torch.randn(n_params // width - 1, width, generator=g),
              "fc1.bias": torch.randn(width, generator=g)}
        torch.save(sd, os.path.join(folder, f"step_{i:05d}.pt"))


def bench_read(folder, repeat=3):
    import torch

    files = sorted(os.path.join(folder, f) for f in os.listdir(folder))
    for f in files:  # warm the page cache for both readers
        with open(f, "rb") as fh:
            while fh.read(1 << 24):
                pass
    t_ours, t_torch = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for f in files:
            read_checkpoint(f)
        t_ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for f in files:
            torch.load(f, weights_only=True)
        t_torch.append(time.perf_counter() - t0)
    a = read_checkpoint(files[0])
    b = torch.load(files[0], weights_only=True)
    assert all(np.array_equal(a[k], b[k].numpy()) for k in a)
    return min(t_ours), min(t_torch), sum(os.path.getsize(f) for f in files)


def timed(fn, repeat):
    """Best wall-clock and best CPU time of ``repeat`` calls of ``fn``."""
    walls, cpus = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus)


def torch_load_all(root, mmap=False):
    import torch

    files = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(root) for f in fs)
    for f in files:
        sd = torch.load(f, weights_only=True, mmap=mmap)
        float(sd["w"][::4096].sum())  # touch the data


def write_run(root, n_trials, n_ckpt, n_params, fmt="npz", seed=0):
    rng = np.random.default_rng(seed)
    theta0 = rng.normal(size=n_params).astype(np.float32)
    for j in range(n_trials):
        folder = os.path.join(root, f"trial{j:02d}")
        os.makedirs(folder, exist_ok=True)
        theta = theta0.copy()
        for s in range(n_ckpt):
            path = os.path.join(folder, f"step_{s:05d}.{fmt}")
            if fmt == "pt":
                import torch

                torch.save({"w": torch.from_numpy(theta)}, path)
            elif fmt == "safetensors":
                from safetensors.numpy import save_file

                save_file({"w": theta}, path)
            else:
                np.savez(path, w=theta)
            theta += 1e-3 * rng.standard_normal(n_params, dtype=np.float32)


def raw_read_time(root):
    files = [os.path.join(dp, f) for dp, _, fs in os.walk(root) for f in fs]
    buf = bytearray(1 << 24)
    t0 = time.perf_counter()
    for f in files:
        with open(f, "rb", buffering=0) as fh:
            while fh.readinto(buf):
                pass
    return time.perf_counter() - t0, sum(os.path.getsize(f) for f in files)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--dir", default="/tmp/bench_bridge")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--formats", default="pt,safetensors")
    args = ap.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    rows = []
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError:
        have_torch = False
    if have_torch:
        for n_files, n_params in ((200, 25_000), (20, 2_500_000)):
            folder = os.path.join(args.dir, f"read_{n_params}")
            write_torch_dir(folder, n_files, n_params)
            ours, theirs, nbytes = bench_read(folder)
            rows.append((f"read {n_files} torch.save files of {n_params * 4 / 1e6:.1f} MB",
                         f"{ours:.3f} s", f"{theirs:.3f} s", f"{theirs / ours:.2f}x",
                         f"{nbytes / ours / 1e9:.2f} GB/s"))
    n_ckpt = 10
    n_params = int(args.gb * 1e9 / 4 / args.trials / n_ckpt)
    print()
    print("| benchmark | stochthermo | torch.load(weights_only=True) | speed-up | throughput |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    for fmt in args.formats.split(","):
        if fmt == "pt" and not have_torch:
            continue
        run_root = os.path.join(args.dir, f"stream_{fmt}")
        write_run(run_root, args.trials, n_ckpt, n_params, fmt=fmt)
        raw_read_time(run_root)
        raw_t, nbytes = raw_read_time(run_root)  # page cache warm, like the pass below
        (run,) = open_runs(run_root)
        tracemalloc.start()
        res = diagnose_run(run, max_lag=3)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        wall, cpu = timed(lambda run=run: diagnose_run(run, max_lag=3), args.repeat)
        budget = args.trials * n_params * 4
        print()
        print(f"streaming pass: {args.trials} trials x {n_ckpt} checkpoints x {n_params} "
              f"float32 params ({fmt}), {nbytes / 1e9:.2f} GB; noise_var[0] = "
              f"{res.noise_var[0]:.3e} (expected 1.000e-06)")
        print("| quantity | value |")
        print("|---|---|")
        print(f"| pass, wall clock | {wall:.2f} s ({nbytes / wall / 1e9:.2f} GB/s) |")
        print(f"| pass, CPU time of this process | {cpu:.2f} s ({nbytes / cpu / 1e9:.2f} GB/s) |")
        if have_torch and fmt in ("pt", "safetensors"):
            if fmt == "pt":
                tw, tc = timed(lambda r=run_root: torch_load_all(r), args.repeat)
                print(f"| torch.load of the same files, wall / CPU | {tw:.2f} s / {tc:.2f} s "
                      f"({nbytes / tc / 1e9:.2f} GB/s CPU) |")
                tw, tc = timed(lambda r=run_root: torch_load_all(r, mmap=True), args.repeat)
                print(f"| torch.load(mmap=True), wall / CPU | {tw:.2f} s / {tc:.2f} s "
                      f"({nbytes / tc / 1e9:.2f} GB/s CPU) |")
        print(f"| raw read of the same files (page cache) | {raw_t:.2f} s "
              f"({nbytes / raw_t / 1e9:.2f} GB/s) |")
        print(f"| peak traced memory | {peak / 1e6:.1f} MB |")
        print(f"| peak / (trials x params) | {peak / budget:.2f} (limit 2) |")
        shutil.rmtree(run_root, ignore_errors=True)
    shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
