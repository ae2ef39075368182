"""The ``mtlkit`` command line: ``mtlkit corpus make`` and ``mtlkit corpus info``."""
from __future__ import annotations

import argparse
import sys
import time

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
    return top


def main(argv=None) -> int:
    """Run the command line; errors in the input are printed as one line and exit with status 2."""
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        print(f"mtlkit: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
