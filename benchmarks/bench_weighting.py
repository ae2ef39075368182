"""Step time of every loss weighting relative to a plain ``equal`` step, in the same run (hard sharing, 4 tasks).

Gradient-based methods are timed at both granularities (task gradients on the shared representation and on the
shared parameters). Every run (and a baseline: a plain equal step) takes one step per round, round robin, and each
ratio is taken against the baseline step of the same round, so drift on a shared machine cancels; each cell prints
the median ratio and its interquartile range, and the methods that cost exactly what the baseline costs (equal,
fixed, uncertainty, dwa, rlw) show the noise floor.
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
EQUAL_COST = ("equal", "fixed", "uncertainty", "dwa", "rlw")
"""Loss weightings whose step is the baseline's (a weighted sum of the losses, one backward): the noise floor."""


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


def quantile(xs: list, q: float) -> float:
    """The q-quantile of xs by linear interpolation (q=0.5 is the median)."""
    return float(torch.quantile(torch.tensor(xs, dtype=torch.float64), q))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=10, help="timed rounds (after 2 warm-up rounds); default 10")
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
    runs = {("baseline", "parameters"): make_run("equal", data, "parameters")}     # a plain single-backward step
    for name in names:
        granularities = GRAD_ON if WEIGHTINGS[name].needs_grads else ("representation",)
        runs.update({(name, where): make_run(name, data, where) for where in granularities})
    keys = list(runs)
    times = {key: [] for key in keys}
    for k in range(args.steps + 2):                    # round robin: every run takes one step per round,
        shift = k % len(keys)                          # starting at a different run each round
        for key in keys[shift:] + keys[:shift]:
            t = runs[key](batches[k % len(batches)])
            if k >= 2:
                times[key].append(t)
    base = times[("baseline", "parameters")]
    print(describe(calibrate()), f"; torch threads {torch.get_num_threads()}")
    print(f"hard sharing, 4 tasks, batch 32; {len(keys)} runs interleaved round robin, {args.steps} timed rounds "
          f"(after 2 warm-up); baseline: a plain equal step (one backward), median {quantile(base, 0.5):.3f} s")
    print("each cell: median over rounds of (step / baseline step of the same round) [25%-75% of those ratios]")
    print(f"{'weighting':<12}" + "".join(f"{'x equal (' + where + ')':>30}" for where in GRAD_ON))
    ratios = {key: [t / b for t, b in zip(times[key], base)] for key in keys if key[0] != "baseline"}

    def cell(key) -> str:
        r = ratios[key]
        return f"{quantile(r, 0.5):.2f} [{quantile(r, 0.25):.2f}-{quantile(r, 0.75):.2f}]"
    for name in names:
        if WEIGHTINGS[name].needs_grads:
            cells = [cell((name, where)) for where in GRAD_ON]
            note = f"  default: {WEIGHTINGS[name].grad_on}"
        else:
            cells, note = [cell((name, "representation")), "(no task gradients)"], ""
        print(f"{name:<12}" + "".join(f"{c:>30}" for c in cells) + note)
    floor = [n for n in names if n in EQUAL_COST]
    if floor:
        medians = [quantile(ratios[(n, "representation")], 0.5) for n in floor]
        print(f"noise floor: {', '.join(floor)} do exactly the baseline's work (one weighted sum, one backward); "
              f"their medians span {min(medians):.2f}-{max(medians):.2f}x, so differences within that are noise")


if __name__ == "__main__":
    main()
