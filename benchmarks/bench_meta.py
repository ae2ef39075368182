"""MAML meta-step: mtlkit (torch.func, vmap over tasks) against learn2learn (clone/adapt per task), same run.

Run: python benchmarks/bench_meta.py [--meta-batch 16] [--steps 5] [--width 32] [--repeats 5] [--rounds 3]
Target: mtlkit >= 1.5x faster than learn2learn at meta-batch 16.

Same model (the kit's MetaNet, CNN encoder), same tasks (5-way 5-shot speaker-adaptation episodes of the 'meta'
preset, 3 queries per class), same inner steps and learning rate, second order. Prints the seconds per meta-step,
the speed-up, the largest difference between the two meta-gradients, and the peak memory of each: the growth of
peak RSS during the steps (sampled every 5 ms). Each implementation runs in its own small process that only loads
the saved episodes, once per round, rows rotated from round to round: the same code's speed differs between
processes (measured: mtlkit's loop 0.50 s/step in one, 0.95 s in the next). A row gives the median over rounds of
each process's median of --repeats steps after a warm-up, and the fastest and slowest process. One-time costs (the
imports, learn2learn's alone about 200 MB, and a first meta-step on one task, which loads what torch loads lazily)
are paid before measuring and printed apart. Also times vmap in chunks of 4 tasks (chunk_size bounds memory),
mtlkit's per-task loop, and the cnn_lstm encoder (a loop: LSTM has no vmap rule); that row is a different model, so
it has no ratio against learn2learn.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from calibrate import calibrate, describe

LR = 0.1


def step_mtlkit(model, batch, steps, vectorize, chunk_size=None):
    from mtlkit.meta import meta_loss

    params = dict(model.named_parameters())
    loss = meta_loss(model, params, dict(model.named_buffers()), batch, vectorize=vectorize, steps=steps, lr=LR,
                     chunk_size=chunk_size)
    return torch.autograd.grad(loss, list(params.values()))


def step_l2l(model, batch, steps):
    from mtlkit.meta import import_learn2learn
    l2l = import_learn2learn()

    maml, total = l2l.algorithms.MAML(model, lr=LR), 0.0
    for i in range(len(batch["y_s"])):
        learner = maml.clone()
        for _ in range(steps):
            learner.adapt(F.cross_entropy(learner(batch["x_s"][i], batch["len_s"][i]), batch["y_s"][i]))
        total = total + F.cross_entropy(learner(batch["x_q"][i], batch["len_q"][i]), batch["y_q"][i])
    return torch.autograd.grad(total / len(batch["y_s"]), list(model.parameters()))


def rss_mb() -> float:
    """The current resident set size of this process in MB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


class PeakRSS:
    """Samples the RSS every 5 ms in a thread; ``peak`` is the largest value seen."""

    def __enter__(self):
        self.peak, self.running = rss_mb(), True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.005)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()


def measure(which: str, data: str, steps: int, width: int, repeats: int) -> dict:
    """Seconds per meta-step (the median of the timed steps) and memory (MB) of one implementation.

    One-time setup (the imports, learn2learn's too, and a first meta-step on one task, which loads what torch and
    learn2learn load lazily) is done and reported before measuring; then a warm-up step on the whole batch and
    ``repeats`` timed steps run inside the peak-RSS window.
    """
    start_mb = rss_mb()
    from mtlkit.meta import MetaNet, import_learn2learn

    if which == "learn2learn":
        import_learn2learn()
    batch = torch.load(data)
    torch.manual_seed(0)
    model = MetaNet(5, width=width, encoder="cnn_lstm" if which == "mtlkit-lstm-loop" else "cnn")
    run = {"mtlkit-vmap": lambda b: step_mtlkit(model, b, steps, True),
           "mtlkit-vmap-chunk4": lambda b: step_mtlkit(model, b, steps, True, chunk_size=4),
           "mtlkit-loop": lambda b: step_mtlkit(model, b, steps, False),
           "mtlkit-lstm-loop": lambda b: step_mtlkit(model, b, steps, False),
           "learn2learn": lambda b: step_l2l(model, b, steps)}[which]
    run({key: value[:1] for key, value in batch.items()})
    base, times = rss_mb(), []
    with PeakRSS() as memory:
        for _ in range(repeats + 1):
            start = time.perf_counter()
            run(batch)
            times.append(time.perf_counter() - start)
    return dict(seconds=float(np.median(times[1:])), peak_mb=memory.peak - base, setup_mb=base - start_mb)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meta-batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5, help="timed meta-steps per process (after one warm-up)")
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes per row, interleaved with the others")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.data, args.steps, args.width, args.repeats)))
        return
    from mtlkit.data import make_corpus
    from mtlkit.meta import EpisodeSampler, MetaNet

    sampler = EpisodeSampler(make_corpus("meta"), "speaker_adaptation", n_way=5, k_shot=5, queries=3)
    rng = np.random.default_rng(0)
    batch = sampler.tensors([sampler.sample("train", rng) for _ in range(args.meta_batch)])
    torch.manual_seed(0)
    model = MetaNet(5, width=args.width)
    ours, ref = step_mtlkit(model, batch, args.steps, True), step_l2l(model, batch, args.steps)
    diff = max((a - b).abs().max().item() for a, b in zip(ours, ref))
    rows = ("learn2learn", "mtlkit-vmap", "mtlkit-vmap-chunk4", "mtlkit-loop", "mtlkit-lstm-loop")
    runs = {which: [] for which in rows}
    with tempfile.TemporaryDirectory() as tmp:
        data = str(Path(tmp) / "batch.pt")
        torch.save(batch, data)
        for k in range(args.rounds):                   # a fresh process per row and round, rows rotated per round
            for which in rows[k % len(rows):] + rows[:k % len(rows)]:
                out = subprocess.run([sys.executable, __file__, "--measure", which, "--data", data, "--steps",
                                      str(args.steps), "--width", str(args.width), "--repeats", str(args.repeats)],
                                     capture_output=True, text=True, check=True)
                runs[which].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(describe(calibrate()))
    print(f"MAML meta-step, second order, meta-batch {args.meta_batch}, {args.steps} inner steps (lr {LR}), "
          f"5-way 5-shot + 3 queries per class, width {args.width}, {torch.get_num_threads()} threads")
    print(f"  {args.rounds} rounds, each row in a fresh process per round: the median over rounds of each process's "
          f"median of {args.repeats} timed meta-steps (after one warm-up) [the fastest and slowest process]; peak "
          f"memory: growth of the process's RSS during the steps; one-time: imports and a first one-task step")
    median = {which: float(np.median([r["seconds"] for r in runs[which]])) for which in rows}
    for which in rows:
        seconds = [r["seconds"] for r in runs[which]]
        ratio = (f"speed-up vs learn2learn {median['learn2learn'] / median[which]:.2f}x"
                 if which != "mtlkit-lstm-loop" else f"{'(a different model: no ratio)':<29}")
        print(f"  {which:<18} {median[which]:.3f} s/step [{min(seconds):.3f}-{max(seconds):.3f}]   {ratio}   "
              f"peak memory +{np.median([r['peak_mb'] for r in runs[which]]):.0f} MB   "
              f"one-time +{np.median([r['setup_mb'] for r in runs[which]]):.0f} MB")
    print("  mtlkit-lstm-loop runs the cnn_lstm encoder (a BiLSTM after the CNN; no vmap rule, so a loop), the other "
          "rows the same CNN encoder")
    print(f"  max |meta-gradient difference| mtlkit-vmap vs learn2learn: {diff:.2e}")


if __name__ == "__main__":
    main()
