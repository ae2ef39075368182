"""Step time of every loss weighting relative to a plain ``equal`` step, in the same run (hard sharing, 4 tasks).

Gradient-based methods are timed at both granularities (task gradients on the shared representation and on the
shared parameters), interleaved round by round with the equal step so that drift on a shared machine cancels.
Run: python benchmarks/bench_weighting.py [--steps 10] [--only famo,upgrad]
Targets: gradient-based methods <= 1.5x equal (on the representation, the default); loss-based FAMO <= 1.1x.
The ratios are machine-independent already; the first line gives the machine's calibration unit (calibrate.py) and
the equal step's seconds can be read against it.
"""
import argparse
import time

import torch

from mtlkit.data import make_corpus
from mtlkit.features import FeatureDataset, collate
from mtlkit.models import MultiTaskModel
from mtlkit.train import train_step
from mtlkit.weighting import GRAD_ON, WEIGHTINGS, make_weighting

from calibrate import calibrate, describe

TASKS = ["vad", "speaker", "emotion", "keyword"]


def make_run(name: str, data, grad_on: str):
    """A fresh model, weighting and optimizer, and a function taking one timed training step on a batch."""
    torch.manual_seed(0)
    model = MultiTaskModel({t: 2 if t == "vad" else len(data.classes[t]) for t in TASKS}, sharing="hard")
    weigher = make_weighting(name, TASKS)
    optimizer = torch.optim.Adam(list(model.parameters()) + list(weigher.parameters()), lr=1e-3)

    def step(batch) -> float:
        start = time.perf_counter()
        train_step(model, weigher, optimizer, batch, TASKS, grad_on=grad_on)
        return time.perf_counter() - start
    return step


def median(xs: list) -> float:
    return sorted(xs)[len(xs) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--only", help="comma list of weightings to time (default: all)")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(WEIGHTINGS)
    for name in names:
        if name not in WEIGHTINGS:
            parser.error(f"unknown weighting {name!r}; valid: {', '.join(WEIGHTINGS)}")
    corpus = make_corpus("easy").split("train")
    data = FeatureDataset(corpus, TASKS)
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(len(data), generator=g)
    batches = [collate([data[int(i)] for i in order[s:s + 32]]) for s in range(0, min(32 * 8, len(data) - 31), 32)]
    print(describe(calibrate()), f"; torch threads {torch.get_num_threads()}")
    print(f"hard sharing, 4 tasks, batch 32; per method {args.steps} timed steps (after 2 warm-up), interleaved with "
          f"a plain equal step (one backward); ratio = median step / median equal step of the same rounds")
    print(f"{'weighting':<12}{'equal s/step':>14}" + "".join(f"{'x equal (' + where + ')':>28}" for where in GRAD_ON))
    for name in names:
        if name == "equal":
            continue
        granularities = GRAD_ON if WEIGHTINGS[name].needs_grads else ("representation",)
        runs = {"equal": make_run("equal", data, "parameters")}     # no task gradients: a plain backward
        runs.update({where: make_run(name, data, where) for where in granularities})
        times = {key: [] for key in runs}
        for k in range(args.steps + 2):
            for key, step in runs.items():
                t = step(batches[k % len(batches)])
                if k >= 2:
                    times[key].append(t)
        base = median(times["equal"])
        cells = [f"{median(times[where]) / base:>28.2f}" if where in times else f"{'-':>28}" for where in GRAD_ON]
        if not WEIGHTINGS[name].needs_grads:
            cells = [f"{median(times['representation']) / base:>28.2f}", f"{'(no task gradients)':>28}"]
        default = f"  default: {WEIGHTINGS[name].grad_on}" if WEIGHTINGS[name].needs_grads else ""
        print(f"{name:<12}{base:>14.3f}" + "".join(cells) + default)


if __name__ == "__main__":
    main()
