"""Step time of every loss weighting relative to ``equal``, measured in the same run (hard sharing, 4 tasks).

Run: python benchmarks/bench_weighting.py [--steps 20]   (target: gradient-based methods <= 1.5x equal)
"""
import argparse
import time

import torch

from mtlkit.data import make_corpus
from mtlkit.features import FeatureDataset, collate
from mtlkit.models import MultiTaskModel
from mtlkit.train import train_step
from mtlkit.weighting import WEIGHTINGS, make_weighting

TASKS = ["vad", "speaker", "emotion", "keyword"]


def time_steps(name: str, data, batches, steps: int) -> float:
    """Median seconds per training step of one weighting (after 2 warm-up steps)."""
    torch.manual_seed(0)
    model = MultiTaskModel({t: 2 if t == "vad" else len(data.classes[t]) for t in TASKS}, sharing="hard")
    weigher = make_weighting(name, TASKS)
    optimizer = torch.optim.Adam(list(model.parameters()) + list(weigher.parameters()), lr=1e-3)
    times = []
    for k in range(steps + 2):
        start = time.perf_counter()
        train_step(model, weigher, optimizer, batches[k % len(batches)], TASKS)
        times.append(time.perf_counter() - start)
    return sorted(times[2:])[len(times[2:]) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    corpus = make_corpus("easy").split("train")
    data = FeatureDataset(corpus, TASKS)
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(len(data), generator=g)
    batches = [collate([data[int(i)] for i in order[s:s + 32]]) for s in range(0, 32 * 8, 32)]
    print(f"hard sharing, 4 tasks, batch 32, {args.steps} steps each, torch threads {torch.get_num_threads()}")
    base = time_steps("equal", data, batches, args.steps)
    print(f"{'weighting':<12}{'s/step':>9}{'x equal':>9}")
    for name in WEIGHTINGS:
        t = base if name == "equal" else time_steps(name, data, batches, args.steps)
        flag = "  (gradient-based)" if WEIGHTINGS[name].needs_grads else ""
        print(f"{name:<12}{t:>9.3f}{t / base:>9.2f}{flag}")


if __name__ == "__main__":
    main()
