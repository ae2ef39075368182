"""Progress of a long run: a tqdm bar, nothing, or a function called as ``progress(done, total)`` (widgets)."""
from __future__ import annotations


class _Callback:
    """A progress bar that reports to a function ``progress(done, total)``."""

    def __init__(self, report, total: int):
        self.report, self.total, self.done = report, total, 0
        report(0, total)

    def update(self, n: int = 1):
        self.done += n
        self.report(self.done, self.total)

    def close(self):
        pass


def progress_bar(total: int, progress, desc: str):
    """``progress`` True: a tqdm.auto bar (cleared when done); False or None: silent; a function: called as
    ``progress(done, total)``. The result has ``update(n)`` and ``close()``."""
    if callable(progress):
        return _Callback(progress, total)
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not progress, desc=desc, leave=False)
