"""The ``mtlkit`` command line: ``mtlkit corpus make``, ``mtlkit corpus info`` and ``mtlkit compare``."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .data import PRESETS, corpus_config, load_corpus
from .data.generate import build_corpus


def _corpus_make(args) -> int:
    overrides = {"seed": args.seed}
    if args.speakers is not None:
        overrides["speakers"] = args.speakers
    if args.utterances_per_speaker is not None:
        overrides["utterances_per_speaker"] = args.utterances_per_speaker
    config = corpus_config(args.preset, **overrides)
    start = time.perf_counter()
    corpus = build_corpus(config)
    corpus.save(args.out)
    seconds = time.perf_counter() - start
    print(f"wrote {len(corpus)} utterances ({corpus.duration() / 60:.1f} min of audio) to {args.out} "
          f"in {seconds:.1f} s")
    return 0


def _corpus_info(args) -> int:
    print(load_corpus(args.folder).describe())
    return 0


def _names(text: str) -> list:
    return [t.strip() for t in text.split(",") if t.strip()]


def _fractions(items) -> dict:
    out = {}
    for item in items or []:
        task, _, value = item.partition("=")
        try:
            out[task] = float(value)
        except ValueError:
            raise ValueError(f"--label-fraction takes TASK=FRACTION, got {item!r}") from None
    return out


def _compare(args) -> int:
    from .compare import compare, plot, table
    from .data import make_corpus

    corpus = load_corpus(args.data) if args.data else make_corpus(args.preset, seed=args.corpus_seed)
    options = dict(label_fraction=_fractions(args.label_fraction))
    if args.epochs is not None:
        options["epochs"] = args.epochs
    records = compare(corpus, tasks=_names(args.tasks), sharings=_names(args.sharing),
                      weightings=_names(args.weighting), seeds=[int(s) for s in _names(args.seeds)], out=args.out,
                      progress=not args.quiet, **options)
    print(table(records))
    figure = Path(args.out).with_suffix(".png")
    plot(records, figure)
    print(f"results: {args.out}   figure: {figure}")
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mtlkit`` command."""
    top = argparse.ArgumentParser(prog="mtlkit", description="Multi-task and meta-learning on speech.")
    commands = top.add_subparsers(dest="command", required=True)
    corpus = commands.add_parser("corpus", help="make or inspect a speech corpus").add_subparsers(
        dest="action", required=True)
    make = corpus.add_parser("make", help="generate a labelled corpus offline with eSpeak NG")
    make.add_argument("--out", required=True, help="new folder to write (must not exist or be empty)")
    make.add_argument("--preset", default="easy", choices=sorted(PRESETS))
    make.add_argument("--speakers", type=int, help="number of speakers (default: the preset's)")
    make.add_argument("--utterances-per-speaker", type=int, help="utterances per speaker (default: the preset's)")
    make.add_argument("--seed", type=int, default=0)
    make.set_defaults(run=_corpus_make)
    info = corpus.add_parser("info", help="counts per label, duration and detected layout of a corpus folder")
    info.add_argument("folder")
    info.set_defaults(run=_corpus_info)

    from .compare import DEFAULT_SHARINGS, DEFAULT_WEIGHTINGS

    comp = commands.add_parser("compare", help="train a grid of sharing strategies x weightings x seeds")
    comp.add_argument("--data", help="a corpus folder (default: the generated corpus of --preset)")
    comp.add_argument("--preset", default="easy", choices=sorted(PRESETS))
    comp.add_argument("--corpus-seed", type=int, default=0)
    comp.add_argument("--tasks", default="vad,speaker,emotion,keyword")
    comp.add_argument("--sharing", default=",".join(DEFAULT_SHARINGS))
    comp.add_argument("--weighting", default=",".join(DEFAULT_WEIGHTINGS))
    comp.add_argument("--seeds", default="0")
    comp.add_argument("--epochs", type=int, help="default: 20 (8 in fast mode)")
    comp.add_argument("--label-fraction", action="append", metavar="TASK=FRACTION",
                      help="keep the labels of only this share of training utterances (repeatable)")
    comp.add_argument("--out", default="mtlkit-results/compare.json", help="results JSON (re-runs train only new runs)")
    comp.add_argument("--quiet", action="store_true", help="no progress bars")
    comp.set_defaults(run=_compare)
    return top


def main(argv=None) -> int:
    """Run the command line; errors in the input are printed as one line and exit with status 2."""
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError, FileExistsError, FloatingPointError) as err:
        print(f"mtlkit: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
