"""Speed of the data layer: corpus generation and features (x realtime), a cold cached reload (seconds).

Run: python benchmarks/bench_data.py [--preset easy|hard|meta|languages]   (targets: >= 100x, >= 1000x, < 1 s)

Generation starts from an empty cache. One-off setup (copying eSpeak NG's data into the cache) is timed on its
own; every speaker is then spoken in a fresh worker process (reproducibility), whose start-up is part of each
generation and is shown separately. Realtime factors are given for the whole audio (with the silence before,
between and after the words) and for speech only (the words' spans). The generated corpus is saved to the cache as
make_corpus saves it; the reload runs in a new process, after the files were evicted from the page cache
(fsync, then posix_fadvise DONTNEED: no root needed), and is checked to be the generated corpus sample for sample.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["MTLKIT_CACHE"] = tempfile.mkdtemp(prefix="mtlkit-bench-")   # a cold cache, before mtlkit reads it

import numpy as np  # noqa: E402
import torch  # noqa: E402

from mtlkit.config import cache_dir, fast_mode  # noqa: E402
from mtlkit.data import build_corpus, corpus_config, espeak  # noqa: E402
from mtlkit.features import Features  # noqa: E402

RELOAD = """
import json, sys, time
start = time.perf_counter()
from mtlkit.data import make_corpus
imported = time.perf_counter()
corpus = make_corpus(sys.argv[1])
done = time.perf_counter()
print(json.dumps(dict(imports=imported - start, reload=done - imported, root=str(corpus.root))))
"""


def evict(folder: Path) -> int:
    """Write every file of folder to disk and drop it from the page cache; returns the bytes evicted."""
    total = 0
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                total += os.fstat(fd).st_size
            finally:
                os.close(fd)
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="easy", choices=["easy", "hard", "meta", "languages"])
    preset = parser.parse_args().preset
    config = corpus_config(preset)
    print(f"preset {preset}: {config.speakers} speakers x {config.utterances_per_speaker} utterances"
          f"{' (fast mode)' if fast_mode() else ''}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}")

    start = time.perf_counter()
    espeak._private_data_dir()
    print(f"one-off setup (eSpeak NG data copied into the empty cache): {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    espeak._run_in_fresh_process(("", "en", []))
    print(f"start-up of one worker process (one per speaker, {config.speakers} in all, 2 at a time; part of "
          f"generation): {time.perf_counter() - start:.2f} s")

    start = time.perf_counter()
    corpus = build_corpus(config)
    seconds = time.perf_counter() - start
    audio = corpus.duration()
    speech = sum(b - a for u in corpus for a, b in u.word_spans)
    print(f"generation: {audio:.0f} s of audio ({speech:.0f} s of it speech) in {seconds:.2f} s = "
          f"{audio / seconds:.0f}x realtime, {speech / seconds:.0f}x speech-only (target >= 100x)")

    features = Features()
    waves = [torch.from_numpy(u.wave) for u in corpus]
    with torch.no_grad():
        features(waves[0])                                  # warm-up
        start = time.perf_counter()
        for w in waves:
            features(w)
    seconds = time.perf_counter() - start
    print(f"features (log-mel 40, per utterance): {audio / seconds:.0f}x realtime, {speech / seconds:.0f}x "
          f"speech-only (target >= 1000x)")

    folder = corpus.save(cache_dir() / "corpora" / config.key())    # where make_corpus(preset) looks
    size = evict(folder)
    done = subprocess.run([sys.executable, "-c", RELOAD, preset], capture_output=True, text=True, check=True,
                          env=dict(os.environ))
    times = json.loads(done.stdout.strip().splitlines()[-1])
    assert times["root"] == str(folder), (times["root"], folder)
    from mtlkit.data import load_corpus
    again = load_corpus(folder)
    same = [u.id for u in again] == [u.id for u in corpus] and all(
        np.array_equal(u.wave, v.wave) and np.array_equal(u.snr_db, v.snr_db, equal_nan=True)
        and (u.words, u.emotion, u.noise, u.rt60) == (v.words, v.emotion, v.noise, v.rt60)
        for u, v in zip(corpus, again))
    assert same, "the reloaded corpus is not the generated one"
    print(f"cached reload of {len(corpus)} utterances ({size / 2 ** 20:.0f} MB, evicted from the page cache) in a new "
          f"process: {times['reload']:.3f} s (target < 1 s), after {times['imports']:.2f} s of imports; the same "
          f"corpus as generated, sample for sample")
    return 0


if __name__ == "__main__":
    sys.exit(main())
