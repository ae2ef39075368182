"""The calibration workload: a fixed piece of work, timed on the machine that runs a benchmark.

Dividing a benchmark's seconds by the calibration seconds of the same run gives figures in calibration units
(cu) that mean the same on a fast and on a slow machine. The workload is plain PyTorch on seeded random tensors,
written out here and independent of mtlkit's code, so that speeding up the kit does not move the yardstick. It
has the shape of the kit's two kinds of work; one cu is the median of 5 timings (after a warm-up) of

- one epoch of hard sharing on the fast corpus: 6 Adam steps, batch 32 x 150 frames x 40 log-mel, of a CNN
  (2 x Conv1d 64 + LayerNorm) + 2 residual BiLSTM layers (64) with four heads, and
- one second-order MAML meta-step: 8 tasks of 25 support + 15 query utterances (100 frames), 5 inner steps with
  ``create_graph``, a 2-layer CNN (32) + linear head, then the meta-gradient.

The budgets are set in cu, calibrated on the reference machine (an idle 2-vCPU AMD EPYC, like Colab's CPU
runtime) so that there they mean: every notebook <= 45 s in fast mode and <= 120 s in full mode, every widget
Run <= 10 s, the whole ``make test`` (install excluded) <= 8 minutes.

Run: python benchmarks/calibrate.py   (prints this machine's cu in seconds and the budgets in seconds here)
"""
import json
import subprocess
import sys
import time

REFERENCE_SECONDS = 0.37
"""Seconds of one cu on the reference machine (idle 2-vCPU AMD EPYC, 2026-12-01: median of 8 runs, 0.36-0.39 s)."""

BUDGET_SECONDS_ON_REFERENCE = {"notebook, fast mode": 45.0, "notebook, full mode": 120.0, "widget Run": 10.0,
                               "make test (install excluded)": 480.0}
BUDGETS = {name: seconds / REFERENCE_SECONDS for name, seconds in BUDGET_SECONDS_ON_REFERENCE.items()}
"""Budgets in calibration units."""

_WORKLOAD = """
import json, statistics, time
import torch
from torch import nn
from torch.func import functional_call, grad
torch.manual_seed(0)

class BiLSTM(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.f, self.b = nn.LSTM(w, w // 2, batch_first=True), nn.LSTM(w, w // 2, batch_first=True)
    def forward(self, x):
        return x + torch.cat([self.f(x)[0], self.b(x.flip(1))[0].flip(1)], -1)

class Hard(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv1d(40, 64, 5, padding=2), nn.Conv1d(64, 64, 5, padding=2)
        self.n1, self.n2 = nn.LayerNorm(64), nn.LayerNorm(64)
        self.l1, self.l2 = BiLSTM(64), BiLSTM(64)
        self.heads = nn.ModuleList([nn.Linear(64, c) for c in (2, 12, 5, 20)])
    def forward(self, x):
        x = torch.relu(self.n1(self.c1(x.transpose(1, 2)).transpose(1, 2)))
        x = torch.relu(self.n2(self.c2(x.transpose(1, 2)).transpose(1, 2)))
        x = self.l2(self.l1(x))
        return [self.heads[0](x)] + [h(x.mean(1)) for h in self.heads[1:]]

class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2, self.head = nn.Conv1d(40, 32, 5, padding=2), nn.Conv1d(32, 32, 5, padding=2), nn.Linear(32, 5)
    def forward(self, x):
        x = torch.relu(self.c2(torch.relu(self.c1(x.transpose(1, 2)))))
        return self.head(x.mean(-1))

hard, small = Hard(), Small()
optimizer = torch.optim.Adam(hard.parameters(), lr=1e-3)
x, frames = torch.randn(32, 150, 40), torch.randint(0, 2, (32, 150))
labels = [torch.randint(0, c, (32,)) for c in (12, 5, 20)]
tasks = [(torch.randn(25, 100, 40), torch.arange(5).repeat_interleave(5), torch.randn(15, 100, 40),
          torch.arange(5).repeat_interleave(3)) for _ in range(8)]
ce = nn.functional.cross_entropy

def epoch():
    for _ in range(6):
        out = hard(x)
        loss = ce(out[0].flatten(0, 1), frames.flatten()) + sum(ce(o, y) for o, y in zip(out[1:], labels))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

def meta_step():
    theta = dict(small.named_parameters())
    inner = lambda p, xs, ys: ce(functional_call(small, p, (xs,)), ys)
    total = 0.0
    for xs, ys, xq, yq in tasks:
        p = theta
        for _ in range(5):
            g = torch.autograd.grad(inner(p, xs, ys), list(p.values()), create_graph=True)
            p = {k: v - 0.1 * gk for (k, v), gk in zip(p.items(), g)}
        total = total + inner(p, xq, yq)
    torch.autograd.grad(total / len(tasks), list(theta.values()))

def workload():
    start = time.perf_counter()
    epoch()
    meta_step()
    return time.perf_counter() - start

workload()                                                                # warm-up
print(json.dumps(statistics.median(workload() for _ in range(5))))
"""


def cpu_name() -> str:
    """lscpu's model name (or the platform's processor string)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        import platform

        return platform.processor() or "unknown CPU"


def calibrate() -> float:
    """Seconds of one calibration unit on this machine (the workload runs in a fresh Python process)."""
    out = subprocess.run([sys.executable, "-c", _WORKLOAD], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"the calibration workload failed:\n{out.stderr[-2000:]}")
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def describe(seconds: float) -> str:
    """One line: the CPU, the seconds of a cu here, and its ratio to the reference machine."""
    return (f"CPU: {cpu_name()}; 1 cu = {seconds:.2f} s here ({seconds / REFERENCE_SECONDS:.2f}x the reference "
            f"machine's {REFERENCE_SECONDS:.2f} s)")


def main():
    start = time.perf_counter()
    seconds = calibrate()
    print(describe(seconds), f"[measured in {time.perf_counter() - start:.0f} s]")
    for name, cu in BUDGETS.items():
        print(f"budget {name:<30} {cu:7.1f} cu = {cu * seconds:6.1f} s on this machine")


if __name__ == "__main__":
    main()
