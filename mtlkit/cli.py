"""The ``mtlkit`` command line: ``mtlkit corpus make | info | download``, ``mtlkit compare`` and ``mtlkit meta``."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .data import PRESETS, corpus_config, load_corpus
from .data.espeak import EspeakError
from .data.generate import build_corpus


def _corpus_make(args) -> int:
    from .data.corpus import check_new_folder

    check_new_folder(args.out)                        # before minutes of synthesis, not after
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


LIMIT_HELP = "real corpora: at most this many utterances per speaker (seeded)"


def _load(folder, args):
    """The corpus at ``folder``; a real corpus limited to --max-per-speaker utterances per speaker if given."""
    limit = getattr(args, "max_per_speaker", None)
    return load_corpus(folder, max_per_speaker=limit) if limit else load_corpus(folder)


def _corpus_info(args) -> int:
    print(_load(args.folder, args).describe())
    return 0


def _corpus_download(args) -> int:
    from .data.real import download

    folder = download(args.name, args.out, progress=not args.quiet)
    print(f"{args.name} is in {folder}; read it with: mtlkit corpus info {folder}")
    return 0


def _names(text: str) -> list:
    return [t.strip() for t in text.split(",") if t.strip()]


def _checked(text: str, kind: str, valid) -> list:
    """The comma list ``text``, each item one of ``valid`` (ValueError naming the bad item and the choices)."""
    from .config import check_choice, plural

    items = _names(text)
    if not items:
        raise ValueError(f"--{kind.replace(' ', '-')} is empty; valid {plural(kind)}: {', '.join(map(str, valid))}")
    for item in items:
        check_choice(kind, item, tuple(valid))
    return items


def _numbers(text: str, kind: str, low: int = 0) -> list:
    """The comma list ``text`` as integers >= ``low`` (ValueError naming the bad item)."""
    out = []
    for item in _names(text):
        try:
            value = int(item)
        except ValueError:
            raise ValueError(f"--{kind} takes integers separated by commas, got {item!r} in {text!r}") from None
        if value < low:
            raise ValueError(f"--{kind} takes integers >= {low}, got {value}")
        out.append(value)
    if not out:
        raise ValueError(f"--{kind} is empty")
    return out


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
    from .data.corpus import TASKS
    from .models.multitask import SHARINGS
    from .weighting import WEIGHTINGS

    tasks, sharings = _checked(args.tasks, "task", TASKS), _checked(args.sharing, "sharing", SHARINGS)
    weightings, seeds = _checked(args.weighting, "weighting", WEIGHTINGS), _numbers(args.seeds, "seeds")
    options = dict(label_fraction=_fractions(args.label_fraction))           # all checked before any work
    corpus = _load(args.data, args) if args.data else make_corpus(args.preset, seed=args.corpus_seed)
    if args.epochs is not None:
        options["epochs"] = args.epochs
    records = compare(corpus, tasks=tasks, sharings=sharings, weightings=weightings, seeds=seeds, out=args.out,
                      progress=not args.quiet, force=args.force, **options)
    print(table(records))
    figure = Path(args.out).with_suffix(".png")
    plot(records, figure)
    print(f"results: {args.out}   figure: {figure}")
    return 0


def _meta(args) -> int:
    from .data import make_corpus
    from .meta.experiment import meta_compare
    from .meta.methods import METHODS

    methods, shots = _checked(args.methods, "method", METHODS), _numbers(args.shots, "shots", low=1)
    inner = {k: v for k, v in (("inner_lr", args.inner_lr), ("inner_steps", args.inner_steps)) if v is not None}
    preset = args.preset or ("languages" if args.family == "language" else "meta")
    corpus = _load(args.data, args) if args.data else make_corpus(preset, seed=args.corpus_seed)
    records = meta_compare(corpus, family=args.family, methods=methods, shots=shots, steps=args.steps,
                           meta_steps=args.meta_steps, meta_batch=args.meta_batch, tasks=args.tasks,
                           n_way=args.n_way, queries=args.queries, label=args.label, seed=args.seed, out=args.out,
                           progress=not args.quiet, outer_lr=args.outer_lr, optimizer=args.optimizer,
                           encoder=args.encoder, held_out=_names(args.held_out) if args.held_out else None, **inner)
    print(f"{len(records)} results: {Path(args.out) / 'results.json'}   figure: {Path(args.out) / 'results.png'}")
    return 0


class _Help(argparse.HelpFormatter):
    """Help that ends each option's line with its default, unless it has none or the text already says it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if not any(action.default is v for v in (None, False, argparse.SUPPRESS)) and "default" not in text:
            text += " (default: %(default)s)"
        return text


def _listed(values) -> str:
    return ", ".join(map(str, values))


def parser() -> argparse.ArgumentParser:
    """The argument parser of the ``mtlkit`` command: every option has a help line, its default and its choices,
    taken from the registries the library uses (so the help cannot drift from the code)."""
    from . import __version__
    from .compare import DEFAULT_SHARINGS, DEFAULT_WEIGHTINGS
    from .data.corpus import TASKS
    from .data.real import NOT_DOWNLOADABLE, SOURCES
    from .meta.episodes import FAMILIES
    from .meta.experiment import DEFAULT_METHODS
    from .meta.methods import METHODS, OPTIMIZERS
    from .meta.model import ENCODERS
    from .models.multitask import SHARINGS
    from .weighting import WEIGHTINGS

    top = argparse.ArgumentParser(prog="mtlkit", description="Multi-task and meta-learning on speech.",
                                  formatter_class=_Help)
    top.add_argument("--version", action="version", version=f"mtlkit {__version__}")
    commands = top.add_subparsers(dest="command", required=True)
    corpus = commands.add_parser("corpus", help="make or inspect a speech corpus", formatter_class=_Help
                                 ).add_subparsers(dest="action", required=True)
    make = corpus.add_parser("make", help="generate a labelled corpus offline with eSpeak NG", formatter_class=_Help)
    make.add_argument("--out", required=True, help="new folder to write (must not exist or be empty)")
    make.add_argument("--preset", default="easy", choices=sorted(PRESETS), help="which generated corpus")
    make.add_argument("--speakers", type=int, help="number of speakers (default: the preset's)")
    make.add_argument("--utterances-per-speaker", type=int, help="utterances per speaker (default: the preset's)")
    make.add_argument("--seed", type=int, default=0, help="the corpus seed (same seed, same audio)")
    make.set_defaults(run=_corpus_make)
    info = corpus.add_parser("info", help="counts per label, duration and detected layout of a corpus folder",
                             formatter_class=_Help)
    info.add_argument("folder", help="a corpus folder: the kit's format or a real corpus's layout")
    info.add_argument("--max-per-speaker", type=int, help=LIMIT_HELP)
    info.set_defaults(run=_corpus_info)
    fetch = corpus.add_parser("download", help="download and extract a real corpus (checksummed, resumable)",
                              formatter_class=_Help)
    fetch.add_argument("name", choices=sorted(SOURCES) + sorted(NOT_DOWNLOADABLE),
                       help=f"the corpus: {_listed(sorted(SOURCES) + sorted(NOT_DOWNLOADABLE))}")
    fetch.add_argument("--out", required=True, help="folder to download into (the corpus lands in a new subfolder)")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    fetch.set_defaults(run=_corpus_download)

    comp = commands.add_parser("compare", help="train a grid of sharing strategies x weightings x seeds",
                               formatter_class=_Help)
    comp.add_argument("--data", help="a corpus folder (default: the generated corpus of --preset)")
    comp.add_argument("--max-per-speaker", type=int, help=LIMIT_HELP)
    comp.add_argument("--preset", default="easy", choices=sorted(PRESETS), help="the generated corpus without --data")
    comp.add_argument("--corpus-seed", type=int, default=0, help="the generated corpus's seed")
    comp.add_argument("--tasks", default="vad,speaker,emotion,keyword", help=f"comma list of: {_listed(TASKS)}")
    comp.add_argument("--sharing", default=",".join(DEFAULT_SHARINGS),
                      help=f"comma list of: {_listed(SHARINGS)} ('separate' is always trained as the baseline)")
    comp.add_argument("--weighting", default=",".join(DEFAULT_WEIGHTINGS), help=f"comma list of: {_listed(WEIGHTINGS)}")
    comp.add_argument("--seeds", default="0", help="comma list of training seeds, e.g. 0,1,2")
    comp.add_argument("--epochs", type=int, help="epochs per run (default: 20, 8 in fast mode)")
    comp.add_argument("--label-fraction", action="append", metavar="TASK=FRACTION",
                      help="keep the labels of only this share of training utterances (repeatable)")
    comp.add_argument("--out", default="mtlkit-results/compare.json",
                      help="results JSON; a rerun trains only runs it lacks (new settings, or an edited mtlkit)")
    comp.add_argument("--force", action="store_true", help="retrain every run even if the results JSON has it")
    comp.add_argument("--quiet", action="store_true", help="no progress bars")
    comp.set_defaults(run=_compare)

    meta = commands.add_parser("meta", help="few-shot adaptation: meta-learning methods x shots on held-out tasks",
                               formatter_class=_Help)
    meta.add_argument("--data", help="a corpus folder (default: the generated corpus of --preset)")
    meta.add_argument("--max-per-speaker", type=int, help=LIMIT_HELP)
    meta.add_argument("--preset", choices=sorted(PRESETS),
                      help="the generated corpus (default: 'languages' for --family language, else 'meta')")
    meta.add_argument("--corpus-seed", type=int, default=0, help="the generated corpus's seed")
    meta.add_argument("--family", default="speaker_adaptation", choices=FAMILIES,
                      help=f"the task family: {_listed(FAMILIES)}")
    meta.add_argument("--held-out", help="test accents, noise conditions or languages, comma-separated "
                      "(default: the most frequent accent or condition; six languages of six families)")
    meta.add_argument("--label", choices=("emotion", "keyword"),
                      help="what speaker_adaptation tasks classify: emotion (the default) or keyword")
    meta.add_argument("--methods", default=",".join(DEFAULT_METHODS), help=f"comma list of: {_listed(METHODS)}")
    meta.add_argument("--shots", default="1,5", help="K values (labelled utterances per class), comma-separated")
    meta.add_argument("--n-way", type=int, default=5, help="classes per episode")
    meta.add_argument("--queries", type=int, default=3, help="query utterances per class")
    meta.add_argument("--steps", type=int, default=5, help="adaptation steps at test time")
    meta.add_argument("--meta-steps", type=int, help="outer steps (default: 300, 60 in fast mode)")
    meta.add_argument("--meta-batch", type=int, default=16, help="tasks per outer step")
    meta.add_argument("--tasks", type=int, default=100, help="test episodes per method")
    meta.add_argument("--inner-steps", type=int, help="adaptation steps during meta-training (default: each "
                      "method's own, 5; cavia 2)")
    meta.add_argument("--inner-lr", type=float, help="learning rate of the adaptation steps (default: each "
                      "method's own, 0.1; cavia 1.0)")
    meta.add_argument("--outer-lr", type=float, default=3e-3, help="learning rate of the outer (meta) steps")
    meta.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZERS),
                      help=f"the outer optimiser: {_listed(sorted(OPTIMIZERS))}")
    meta.add_argument("--encoder", default="cnn", choices=ENCODERS, help=f"the meta-learner's encoder: {_listed(ENCODERS)}")
    meta.add_argument("--seed", type=int, default=0, help="meta-training seed (the test episodes follow from it)")
    meta.add_argument("--out", default="mtlkit-results/meta", help="folder for results.json and results.png")
    meta.add_argument("--quiet", action="store_true", help="no progress bars or per-method lines")
    meta.set_defaults(run=_meta)
    return top


def main(argv=None) -> int:
    """Run the command line; errors in the input are printed as one line and exit with status 2, eSpeak NG
    failures without a traceback and with status 1."""
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError, FloatingPointError) as err:      # OSError: missing, taken, unwritable, offline
        print(f"mtlkit: error: {err}", file=sys.stderr)
        return 2
    except EspeakError as err:                   # not the input's fault: status 1, the worker's output below
        print(f"mtlkit: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
