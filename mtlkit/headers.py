"""Notebook headers and the README's notebook table, written from one source: the repository URL in pyproject.

Every notebook starts with an "Open in Colab" badge cell and the Colab install cell; the README lists every
notebook with its one-line summary (``metadata.mtlkit.summary`` of the notebook) and its badge.
``python -m mtlkit.headers`` rewrites them; ``--check`` lists what drifted and exits 1 (the hygiene test runs it).
"""
from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
START, END = "<!-- notebooks: written by python -m mtlkit.headers -->", "<!-- end of notebooks -->"


def repository_url(root: Path = ROOT) -> str:
    """The Repository entry of pyproject.toml's [project.urls], e.g. https://github.com/owner/name."""
    urls = tomllib.loads((root / "pyproject.toml").read_text())["project"].get("urls", {})
    url = urls.get("Repository", "").rstrip("/")
    if not url.startswith("https://github.com/") or url.count("/") != 4:
        raise ValueError(f"pyproject.toml [project.urls] Repository = {url!r}: need https://github.com/OWNER/NAME")
    return url


def colab_url(notebook: str, url: str, branch: str = "main") -> str:
    """The Colab address that opens ``notebooks/<notebook>`` of the repository's ``branch`` from GitHub."""
    return f"https://colab.research.google.com/github/{url.removeprefix('https://github.com/')}/blob/{branch}/" \
           f"notebooks/{notebook}"


def badge(notebook: str, url: str) -> str:
    """Markdown of the "Open in Colab" badge of a notebook."""
    return f"[![Open In Colab]({BADGE})]({colab_url(notebook, url)})"


def install_cell(url: str, learn2learn: bool = False) -> str:
    """The first code cell: in Colab only, installs the kit (and learn2learn if ``learn2learn``), reports the hardware."""
    if not learn2learn:
        install = f'    %pip install -q "mtlkit @ git+{url}"\n'
    else:   # A failed build prints its log's tail and the notebook goes on: its learn2learn cells skip themselves.
        install = (f'    %pip install -q "mtlkit[l2l] @ git+{url}"\n'
                   "    !python -m mtlkit.install_learn2learn --quiet    # builds learn2learn from source: a few minutes\n")
    return ("import sys\n"
            "if 'google.colab' in sys.modules:\n"
            + install +
            "    from mtlkit.config import device_report\n"
            "    print(device_report())")


def uses_learn2learn(nb: dict) -> bool:
    """Whether a code cell of the notebook (its header aside) imports learn2learn."""
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    return any("google.colab" not in src and ("import_learn2learn(" in src or "import learn2learn" in src)
               for src in code)


def _cell(kind: str, source: str, cell_id: str) -> dict:
    cell = dict(cell_type=kind, id=cell_id, metadata={}, source=source.splitlines(keepends=True))
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def with_header(nb: dict, name: str, url: str) -> dict:
    """The notebook with its first two cells replaced by (or, if missing, preceded by) the badge and install cells.

    Only a notebook that imports learn2learn installs it: its build from source takes minutes."""
    cells = nb["cells"]
    have = len(cells) >= 2 and cells[0]["cell_type"] == "markdown" and "colab-badge" in "".join(cells[0]["source"]) \
        and "google.colab" in "".join(cells[1]["source"])
    body = cells[2:] if have else [c for c in cells if not (c["cell_type"] == "code"
                                                              and "google.colab" in "".join(c["source"]))]
    stem = name[:2]
    head = [_cell("markdown", badge(name, url), f"{stem}-badge"),
            _cell("code", install_cell(url, uses_learn2learn({"cells": body})), f"{stem}-install")]
    return {**nb, "cells": head + body}


def readme_table(notebooks: list[Path], url: str) -> str:
    """The README's notebook table: number, notebook, one-line summary, Colab badge."""
    rows = [START, "| # | notebook | what you learn | |", "|---|---|---|---|"]
    for path in notebooks:
        summary = json.loads(path.read_text())["metadata"].get("mtlkit", {}).get("summary")
        if not summary:
            raise ValueError(f"{path}: no metadata.mtlkit.summary (the one-line summary of the README table)")
        rows.append(f"| {path.name[:2]} | [`{path.stem}`](notebooks/{path.name}) | {summary} | "
                    f"{badge(path.name, url)} |")
    return "\n".join(rows + [END])


def drift(root: Path = ROOT, write: bool = False) -> list[str]:
    """What differs from the headers and table the repository URL implies; with ``write``, fix it."""
    url, found = repository_url(root), []
    notebooks = sorted((root / "notebooks").glob("*.ipynb"))
    for path in notebooks:
        text = path.read_text()
        nb = json.loads(text)
        fixed = json.dumps(with_header(nb, path.name, url), indent=1, ensure_ascii=False) + "\n"
        if json.loads(fixed)["cells"][:2] != nb["cells"][:2]:
            found.append(f"{path.relative_to(root)}: header")
            if write:
                path.write_text(fixed)
    readme = (root / "README.md").read_text()
    if START not in readme or END not in readme:
        raise ValueError(f"README.md lacks the markers {START!r} ... {END!r} around the notebook table")
    before, rest = readme.split(START, 1)
    table = readme_table(notebooks, url)
    if START + rest.split(END, 1)[0] + END != table:
        found.append("README.md: notebook table")
        if write:
            (root / "README.md").write_text(before + table + rest.split(END, 1)[1])
    return found


def main(argv=None) -> int:
    """``python -m mtlkit.headers [--check]``."""
    parser = argparse.ArgumentParser(prog="python -m mtlkit.headers", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only list what drifted; exit 1 if anything did")
    args = parser.parse_args(argv)
    found = drift(write=not args.check)
    for line in found:
        print(("drifted: " if args.check else "rewrote: ") + line)
    return 1 if found and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
