"""MAML meta-step: mtlkit (torch.func, vmap over tasks) against learn2learn (clone/adapt per task), same run.

Run: python benchmarks/bench_meta.py [--meta-batch 16] [--steps 5] [--repeats 5]   (target: >= 1.5x faster)

Same model (MetaNet, CNN encoder), same tasks (speaker adaptation episodes of the 'meta' preset), same inner
steps and learning rate, second order. Prints the median seconds per meta-step, the speed-up, the largest
difference between the two meta-gradients, and the peak memory of each (growth of the peak RSS over the
process's state before its first step, each implementation in its own process). Also times mtlkit's
per-task loop and the cnn_lstm encoder (loop only: LSTM has no vmap rule).
"""
import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def setup(meta_batch: int, encoder: str = "cnn"):
    from mtlkit.data import make_corpus
    from mtlkit.meta import EpisodeSampler, MetaNet

    corpus = make_corpus("meta")
    sampler = EpisodeSampler(corpus, "speaker_adaptation", n_way=5, k_shot=5, queries=3)
    rng = np.random.default_rng(0)
    batch = sampler.tensors([sampler.sample("train", rng) for _ in range(meta_batch)])
    torch.manual_seed(0)
    return MetaNet(5, encoder=encoder), batch


def step_mtlkit(model, batch, steps, lr, vectorize):
    from mtlkit.meta import meta_loss

    params = dict(model.named_parameters())
    loss = meta_loss(model, params, dict(model.named_buffers()), batch, vectorize=vectorize, steps=steps, lr=lr)
    return torch.autograd.grad(loss, list(params.values()))


def step_l2l(model, batch, steps, lr):
    import learn2learn as l2l

    maml, total = l2l.algorithms.MAML(model, lr=lr), 0.0
    for i in range(len(batch["y_s"])):
        learner = maml.clone()
        for _ in range(steps):
            learner.adapt(F.cross_entropy(learner(batch["x_s"][i], batch["len_s"][i]), batch["y_s"][i]))
        total = total + F.cross_entropy(learner(batch["x_q"][i], batch["len_q"][i]), batch["y_q"][i])
    return torch.autograd.grad(total / len(batch["y_s"]), list(model.parameters()))


def measure(which: str, meta_batch: int, steps: int, repeats: int) -> dict:
    """Median seconds per meta-step and peak-RSS growth (MB) of one implementation, in this process."""
    encoder = "cnn_lstm" if which == "mtlkit-lstm-loop" else "cnn"
    model, batch = setup(meta_batch, encoder)
    run = {"mtlkit-vmap": lambda: step_mtlkit(model, batch, steps, 0.3, True),
           "mtlkit-loop": lambda: step_mtlkit(model, batch, steps, 0.3, False),
           "mtlkit-lstm-loop": lambda: step_mtlkit(model, batch, steps, 0.3, False),
           "learn2learn": lambda: step_l2l(model, batch, steps, 0.3)}[which]
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return dict(seconds=float(np.median(times[1:])), peak_mb=(peak - base) / 1024)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meta-batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.meta_batch, args.steps, args.repeats)))
        return
    model, batch = setup(args.meta_batch)
    ours, ref = step_mtlkit(model, batch, args.steps, 0.3, True), step_l2l(model, batch, args.steps, 0.3)
    diff = max((a - b).abs().max().item() for a, b in zip(ours, ref))
    results = {}
    for which in ("learn2learn", "mtlkit-vmap", "mtlkit-loop", "mtlkit-lstm-loop"):
        out = subprocess.run([sys.executable, __file__, "--measure", which, "--meta-batch", str(args.meta_batch),
                              "--steps", str(args.steps), "--repeats", str(args.repeats)],
                             capture_output=True, text=True, check=True)
        results[which] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"MAML meta-step, second order, meta-batch {args.meta_batch}, {args.steps} inner steps, 5-way 5-shot "
          f"(3 queries per class), {torch.get_num_threads()} threads")
    base = results["learn2learn"]["seconds"]
    for which, r in results.items():
        print(f"  {which:<18} {r['seconds']:.3f} s/step   speed-up vs learn2learn {base / r['seconds']:.2f}x   "
              f"peak memory +{r['peak_mb']:.0f} MB")
    print(f"  max |meta-gradient difference| mtlkit-vmap vs learn2learn: {diff:.2e}")


if __name__ == "__main__":
    main()
