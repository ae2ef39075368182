"""A widget panel: controls, a Run button, a progress bar and a fixed-height Output; results cached by settings.

Core ipywidgets only, so that panels work on ipywidgets 7.7 (Colab) and 8. Nothing trains until Run is
clicked; sliders never retrain on every move. Introduced in notebooks/01_single_task_baselines.ipynb.
"""
from __future__ import annotations

import base64
import io
import json
import time

import ipywidgets as W


def render(output: W.Output, items) -> None:
    """Replace what ``output`` shows with ``items``: Figures (as PNG), HTML strings, text, or objects with HTML.

    Sets ``output.outputs`` directly, so it works with or without a running kernel (and in headless tests).
    """
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    shown = []
    for item in items:
        if isinstance(item, Figure):
            buffer = io.BytesIO()
            item.savefig(buffer, format="png", dpi=80)
            plt.close(item)
            data = {"image/png": base64.b64encode(buffer.getvalue()).decode(), "text/plain": "<Figure>"}
        elif hasattr(item, "_repr_html_"):
            data = {"text/html": item._repr_html_(), "text/plain": repr(item)}
        elif isinstance(item, str) and item.lstrip().startswith("<"):
            data = {"text/html": item, "text/plain": item}
        else:
            shown.append({"output_type": "stream", "name": "stdout", "text": f"{item}\n"})
            continue
        shown.append({"output_type": "display_data", "data": data, "metadata": {}})
    output.outputs = tuple(shown)


def html_table(rows: list[dict], digits: int = 3) -> str:
    """A small HTML table of dict rows (the keys of the first row are the columns)."""
    if not rows:
        return "<i>nothing yet</i>"
    cols = list(rows[0])
    cell = lambda v: f"{v:.{digits}f}" if isinstance(v, float) else str(v)   # noqa: E731
    head = "".join(f"<th style='padding:2px 8px'>{c}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td style='padding:2px 8px;text-align:right'>{cell(r.get(c, ''))}</td>"
                                    for c in cols) + "</tr>" for r in rows)
    return f"<table style='border-collapse:collapse;font-size:12px'><tr>{head}</tr>{body}</table>"


class Panel:
    """Controls -> Run -> ``compute(settings, progress)`` (cached by settings) -> ``show(result, settings)``.

    ``controls`` change what is computed (part of the cache key); ``views`` only change how a result is
    shown, so moving them redraws at once without computing. Subclasses define ``compute`` and ``show``.
    """

    title = ""
    output_height = "520px"

    def __init__(self, controls: dict, views: dict | None = None):
        self.controls, self.views = controls, views or {}
        self.cache, self.last_error, self.result = {}, None, None
        for w in list(controls.values()) + list(self.views.values()):
            if hasattr(w, "continuous_update"):
                w.continuous_update = False
        self.run_button = W.Button(description="Run", button_style="primary", icon="play")
        self.progress = W.IntProgress(value=0, min=0, max=1, layout=W.Layout(width="220px"))
        self.status = W.HTML("")
        self.output = W.Output(layout=W.Layout(height=self.output_height, overflow="auto",
                                               border="1px solid #ddd"))
        self.run_button.on_click(lambda _: self.run())
        for w in self.views.values():
            w.observe(lambda _: self.redraw(), names="value")
        self.widget = W.VBox([W.HTML(f"<b>{self.title}</b>"), *self.layout(),
                              W.HBox([self.run_button, self.progress, self.status]), self.output])

    def layout(self) -> list:
        """The control rows (override to group them)."""
        return list(self.controls.values()) + list(self.views.values())

    def settings(self) -> dict:
        """The current value of every control (the cache key), without the views."""
        return {name: w.value for name, w in self.controls.items()}

    def view(self) -> dict:
        """The current value of every view control."""
        return {name: w.value for name, w in self.views.items()}

    def compute(self, settings: dict, progress):
        raise NotImplementedError

    def show(self, result, settings: dict) -> list:
        raise NotImplementedError

    def _report(self, done: int, total: int) -> None:
        self.progress.max, self.progress.value = max(total, 1), done

    def run(self) -> None:
        """What the Run button does: compute (unless cached), then show; an error is shown, not raised."""
        settings = self.settings()
        key = json.dumps(settings, sort_keys=True, default=str)
        self.run_button.disabled = True
        self.last_error = None
        try:
            if key in self.cache:
                self.status.value = "from the cache (instant)"
            else:
                self.status.value = "running..."
                start = time.perf_counter()
                self.cache[key] = self.compute(settings, self._report)
                self.status.value = f"done in {time.perf_counter() - start:.1f} s"
            self.result = (self.cache[key], settings)
            self.redraw()
        except Exception as error:                       # shown to the learner; kept for tests
            self.last_error = error
            self.status.value = "<span style='color:#b00'>error</span>"
            render(self.output, [f"<pre style='color:#b00'>{type(error).__name__}: {error}</pre>"])
        finally:
            self.run_button.disabled = False

    def redraw(self) -> None:
        """Show the last result with the current views."""
        if self.result is not None:
            render(self.output, self.show(*self.result))

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
