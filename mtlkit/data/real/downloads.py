"""Download and extract a real corpus: resumable, checksummed, extracted atomically, never deleting your files.

Steps: fetch the archive into ``<archive>.part`` (resumed with an HTTP Range request when a .part is there),
verify the published checksum, rename it to ``<archive>``, extract into a hidden temporary folder next to the
target and rename that to the target folder in one step. A checksum mismatch moves the download aside to
``<archive>.bad`` and says so; a failed extraction leaves no half folder. The archive is kept (re-extracting
needs no download). Introduced in notebooks/09_bring_your_own_data.ipynb.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ...config import check_choice
from . import crema_d, voxceleb1


@dataclass(frozen=True)
class Source:
    """Where a corpus archive lives: url, its file name, checksum ('sha256:...' / 'md5:...' or None), folder."""

    url: str
    archive: str
    checksum: str | None
    folder: str
    size: str
    checksum_source: str = ""
    content: tuple[str, str] | None = None
    """(subfolder, sha256 of its listing): checked after extraction when the archive itself has no checksum."""


_OPENSLR = "https://www.openslr.org/resources/12/"
_LIBRI_SHA256 = {   # the checksums torchaudio.datasets.librispeech publishes for the openslr archives
    "dev-clean": "76f87d090650617fca0cac8f88b9416e0ebf80350acb97b343a85fa903728ab3",
    "dev-other": "12661c48e8c3fe1de2c1caa4c3e135193bfb1811584f11f569dd12645aa84365",
    "test-clean": "39fde525e59672dc6d1551919b1478f724438a95aa55f874b576be21967e6c23",
    "test-other": "d09c181bba5cf717b3dee7d4d592af11a3ee3a09e08ae025c5506f6ebe961c29",
    "train-clean-100": "d4ddd1d5a6ab303066f14971d768ee43278a5f2a0aa43dc716b0e64ecbbbf6e2",
}
_LIBRI_SIZE = {"dev-clean": "337 MB", "dev-other": "314 MB", "test-clean": "346 MB", "test-other": "328 MB",
               "train-clean-100": "6.3 GB"}

SOURCES = {
    "ravdess": Source("https://zenodo.org/records/1188976/files/Audio_Speech_Actors_01-24.zip?download=1",
                      "Audio_Speech_Actors_01-24.zip", "md5:bc696df654c87fed845eb13823edef8a",
                      "Audio_Speech_Actors_01-24", "208 MB", "the md5 Zenodo lists for the file"),
    "speech_commands": Source("https://storage.googleapis.com/download.tensorflow.org/data/"
                              "speech_commands_v0.02.tar.gz",
                              "speech_commands_v0.02.tar.gz",
                              "sha256:af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
                              "speech_commands_v0.02", "2.4 GB", "torchaudio.datasets.speechcommands"),
    **{f"librispeech-{s}": Source(f"{_OPENSLR}{s}.tar.gz", f"{s}.tar.gz", f"sha256:{h}", f"LibriSpeech-{s}",
                                  _LIBRI_SIZE[s], "torchaudio.datasets.librispeech")
       for s, h in _LIBRI_SHA256.items()},
    # GitHub archives have no published checksum, and GitHub does not promise byte-stable archives: FSDD's
    # release tag is checked by its content instead (the listing digest of recordings/, see listing_digest).
    "fsdd": Source("https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.zip",
                   "free-spoken-digit-dataset-1.0.10.zip", None, "free-spoken-digit-dataset-1.0.10",
                   "16 MB", "computed from the repository's tag v1.0.10",
                   content=("recordings", "1801eae019c063377d98f831d3f93574f259475df7332bb0e3d1b080fb5e6959")),
    "audiomnist": Source("https://github.com/soerenab/AudioMNIST/archive/refs/heads/master.zip",
                         "AudioMNIST-master.zip", None, "AudioMNIST", "1 GB"),
}
"""Corpus name -> Source, for the corpora with a stable public URL."""
NOT_DOWNLOADABLE = {"crema_d": crema_d.HOW_TO_GET, "voxceleb1": voxceleb1.HOW_TO_GET}
"""Corpus name -> how to get it by hand (the loaders' own advice)."""


def _digest(path: Path, kind: str) -> str:
    h = hashlib.new(kind)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def listing_digest(folder: Path) -> str:
    """sha256 of the listing ``sha256sum`` prints for the files of ``folder`` (sorted by name, bytewise).

    The same as ``cd folder && LC_ALL=C sha256sum $(LC_ALL=C ls) | sha256sum`` in a shell.
    """
    lines = "".join(f"{_digest(f, 'sha256')}  {f.name}\n"
                    for f in sorted((p for p in Path(folder).iterdir() if p.is_file()), key=lambda p: p.name.encode()))
    return hashlib.sha256(lines.encode()).hexdigest()


def _bar(total, initial, label, progress):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024, desc=label)


def fetch(url: str, dest: Path, progress: bool = True, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming a .part left by an interrupted download."""
    part = dest.with_name(dest.name + ".part")
    start = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "mtlkit"})
    if start:
        request.add_header("Range", f"bytes={start}-")
    hint = f"without internet, download {url} by hand and save it as {dest}; then run again"
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and start:           # nothing left to fetch: the .part is complete
            os.replace(part, dest)
            return dest
        raise ConnectionError(f"cannot download {url}: HTTP {err.code} {err.reason}; {hint}") from None
    except (urllib.error.URLError, OSError) as err:
        raise ConnectionError(f"cannot download {url}: {getattr(err, 'reason', err)}; {hint}") from None
    with response:
        if start and response.status != 206:    # the server ignored the Range request: start over
            start = 0
        length = response.headers.get("Content-Length")
        total = start + int(length) if length else None
        bar = _bar(total, start, dest.name, progress)
        try:
            with open(part, "ab" if start else "wb") as f:
                while True:
                    block = response.read(1 << 16)
                    if not block:
                        break
                    f.write(block)
                    if bar is not None:
                        bar.update(len(block))
        except (OSError, http.client.HTTPException) as err:
            raise ConnectionError(f"download of {url} broke off after {part.stat().st_size} bytes ({err}); "
                                  f"run again to resume from {part}") from None
        finally:
            if bar is not None:
                bar.close()
    if total is not None and part.stat().st_size < total:
        raise ConnectionError(f"download of {url} stopped at {part.stat().st_size} of {total} bytes; "
                              f"run again to resume from {part}")
    os.replace(part, dest)
    return dest


def verify(path: Path, checksum: str | None, url: str = "", moved: bool = True) -> str:
    """Check ``path`` against 'sha256:<hex>' or 'md5:<hex>'; returns its sha256 when no checksum is given.

    On a mismatch, ValueError; with ``moved`` the file is first renamed to ``<path>.bad`` (a download of ours),
    otherwise left where it is (a file you put there).
    """
    if checksum is None:
        return _digest(path, "sha256")
    kind, _, expected = checksum.partition(":")
    check_choice("checksum kind", kind, ("sha256", "md5"))
    got = _digest(path, kind)
    if got != expected.lower():
        where = f"kept as {path}"
        if moved:
            bad = path.with_name(path.name + ".bad")
            os.replace(path, bad)
            where = f"moved aside to {bad} (delete it to download again)"
        raise ValueError(f"checksum mismatch for {url or path}: expected {kind} {expected}, got {got}; "
                         f"the file is {where}; nothing was extracted")
    return got


def _safe(name: str, archive: Path) -> None:
    parts = Path(name).parts
    if name.startswith(("/", "\\")) or ".." in parts:
        raise ValueError(f"{archive} holds an unsafe path {name!r}; refusing to extract it")


def extract(archive: Path, target: Path, check=None) -> Path:
    """Extract ``archive`` (zip, tar, tar.gz) into the new folder ``target`` atomically.

    The archive is unpacked into a hidden temporary folder beside ``target``; a single top-level folder
    inside it becomes ``target``. ``check(folder)``, if given, may raise to refuse the content before that.
    On any error the temporary folder is removed and ``target`` is not created.
    """
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} exists and is not empty; nothing was extracted")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        name = archive.name.lower()
        if name.endswith(".zip"):
            with zipfile.ZipFile(archive) as z:
                for member in z.namelist():
                    _safe(member, archive)
                z.extractall(tmp)
        elif name.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(archive) as t:
                for member in t.getmembers():
                    _safe(member.name, archive)
                    if not (member.isfile() or member.isdir()):
                        raise ValueError(f"{archive} holds a link or device {member.name!r}; refusing to extract")
                if hasattr(tarfile, "data_filter"):          # Python >= 3.11.4: refuse what is not plain data
                    t.extractall(tmp, filter="data")
                else:
                    t.extractall(tmp)
        else:
            raise ValueError(f"{archive}: unknown archive type; expected .zip, .tar, .tar.gz or .tgz")
        entries = [p for p in tmp.iterdir() if p.name not in ("__MACOSX",)]
        content = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
        if check is not None:
            check(content)
        if target.exists():
            target.rmdir()                         # an empty folder: nothing of yours is lost
        os.rename(content, target)
        if content != tmp:
            shutil.rmtree(tmp)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ValueError(f"cannot extract {archive}: {err} (a truncated download? delete it and run again); "
                         f"nothing was extracted") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def download(name: str, out, url: str | None = None, checksum: str | None = None, progress: bool = True,
             timeout: float = 30.0) -> Path:
    """Download corpus ``name`` into folder ``out`` and extract it; returns the extracted folder.

    ``url`` / ``checksum`` override the source (a mirror; the tests' loopback server). Already extracted:
    returns at once. Introduced in notebooks/09_bring_your_own_data.ipynb.
    """
    if name in NOT_DOWNLOADABLE:
        raise ValueError(f"{name} cannot be downloaded by the kit: {NOT_DOWNLOADABLE[name]}")
    check_choice("corpus", name, tuple(SOURCES))
    source = SOURCES[name]
    if url is not None:
        source = Source(url, source.archive, checksum, source.folder, "?")
    out = Path(out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    target = out / source.folder
    if target.is_dir() and any(target.iterdir()):
        return target
    archive = out / source.archive
    if archive.is_file():
        verify(archive, source.checksum, source.url, moved=False)
    else:
        if progress:
            print(f"downloading {name} ({source.size}) from {source.url}", flush=True)
        fetch(source.url, archive, progress, timeout)
        sha256 = verify(archive, source.checksum, source.url)
        if source.checksum is None and source.content is None and progress:
            print(f"{name} has no published checksum; sha256 of this download: {sha256}")
    return extract(archive, target, _content_check(source, archive))


def _content_check(source: Source, archive: Path):
    """The check of an extracted folder against ``source.content`` (None without one)."""
    if source.content is None:
        return None
    sub, expected = source.content

    def check(folder: Path) -> None:
        got = listing_digest(folder / sub) if (folder / sub).is_dir() else f"no {sub}/ folder"
        if got != expected:
            bad = archive.with_name(archive.name + ".bad")
            os.replace(archive, bad)
            raise ValueError(f"the content of {source.url} is not what it should be: {sub}/ gives {got}, expected "
                             f"{expected} ({source.checksum_source}); the archive was moved aside to {bad} "
                             f"(delete it to download again); nothing was extracted")
    return check
