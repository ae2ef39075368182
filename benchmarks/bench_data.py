"""Speed of the data layer: corpus generation and features (x realtime), cached reload (seconds).

Run: python benchmarks/bench_data.py [--preset easy|hard|meta|languages]   (targets: >= 100x, >= 1000x, < 1 s)
"""
import argparse
import os
import sys
import tempfile
import time

os.environ["MTLKIT_CACHE"] = tempfile.mkdtemp(prefix="mtlkit-bench-")   # a cold cache, before mtlkit reads it

import torch  # noqa: E402

from mtlkit.config import fast_mode  # noqa: E402
from mtlkit.data import build_corpus, corpus_config, make_corpus  # noqa: E402
from mtlkit.features import Features  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="easy", choices=["easy", "hard", "meta", "languages"])
    preset = parser.parse_args().preset
    config = corpus_config(preset)
    print(f"preset {preset}: {config.speakers} speakers x {config.utterances_per_speaker} utterances"
          f"{' (fast mode)' if fast_mode() else ''}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}")

    start = time.perf_counter()
    corpus = build_corpus(config)
    seconds = time.perf_counter() - start
    audio = corpus.duration()
    print(f"generation: {audio:.0f} s of audio in {seconds:.2f} s = {audio / seconds:.0f}x realtime (target >= 100x)")

    features = Features()
    waves = [torch.from_numpy(u.wave) for u in corpus]
    start = time.perf_counter()
    with torch.no_grad():
        for w in waves:
            features(w)
    seconds = time.perf_counter() - start
    print(f"features (log-mel 40, per utterance): {audio / seconds:.0f}x realtime (target >= 1000x)")

    make_corpus(preset)                                     # builds and writes the cache
    start = time.perf_counter()
    again = make_corpus(preset)
    seconds = time.perf_counter() - start
    assert again.root is not None and len(again) == len(corpus)
    print(f"cached reload of {len(again)} utterances: {seconds:.3f} s (target < 1 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
