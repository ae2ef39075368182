"""Downloads against a loopback HTTP server serving small fake archives: resume, checksums, atomic extraction."""
import hashlib
import io
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mtlkit.data import load_corpus
from mtlkit.data.real import crema_d, voxceleb1
from mtlkit.data.real import downloads as D
from mtlkit.data.real import fake_tree, load_fsdd


class _Handler(BaseHTTPRequestHandler):
    files: dict = {}
    requests: list = []
    honour_range = True
    send_length = True
    cut_at = None                                   # bytes of the body sent before the connection drops

    def do_GET(self):
        self.requests.append((self.path, self.headers.get("Range")))
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        ask = self.headers.get("Range")
        if ask and self.honour_range:
            start = int(ask.split("=")[1].rstrip("-"))
            if start >= len(body):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        if self.send_length:
            self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:][:self.cut_at])

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def archives(clean_corpus, tmp_path_factory):
    """A GitHub-style zip of an FSDD tree (one top folder) and a Speech-Commands-style tar.gz (no top folder)."""
    small = clean_corpus.subset(lambda u: u.speaker in clean_corpus.speaker_ids()[:3])
    fsdd, sc = tmp_path_factory.mktemp("fsdd"), tmp_path_factory.mktemp("sc")
    fake_tree("fsdd", fsdd, small)
    fake_tree("speech_commands", sc, small)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for p in sorted(fsdd.rglob("*")):
            if p.is_file():
                z.write(p, f"free-spoken-digit-dataset-1.0.10/{p.relative_to(fsdd)}")
    zipped = buf.getvalue()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for p in sorted(sc.iterdir()):
            t.add(p, arcname=f"./{p.name}")
    _Handler.files.update({"/fsdd.zip": zipped, "/sc.tar.gz": buf.getvalue(), "/junk.zip": b"PK\x03\x04" + b"x" * 500})
    return dict(zip=zipped, tar=buf.getvalue())


def _sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.name.endswith(".part"))


def test_zip_download_checks_extracts_and_loads(server, archives, tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("precious")
    folder = D.download("fsdd", tmp_path, url=f"{server}/fsdd.zip", checksum=_sha(archives["zip"]))
    assert folder == tmp_path / "free-spoken-digit-dataset-1.0.10" and (folder / "recordings").is_dir()
    assert (tmp_path / "free-spoken-digit-dataset-1.0.10.zip").read_bytes() == archives["zip"]    # kept
    assert _leftovers(tmp_path) == [] and (tmp_path / "mine.txt").read_text() == "precious"
    assert load_corpus(tmp_path).info["name"] == "fsdd"                  # detected one folder down
    assert "100%" in capsys.readouterr().err                             # the progress bar ran to the end
    _Handler.requests.clear()
    assert D.download("fsdd", tmp_path, url=f"{server}/fsdd.zip", checksum=_sha(archives["zip"])) == folder
    assert _Handler.requests == []                                       # already there: no request


def test_tar_gz_without_a_top_folder_lands_in_its_own_folder(server, archives, tmp_path):
    md5 = "md5:" + hashlib.md5(archives["tar"]).hexdigest()
    folder = D.download("speech_commands", tmp_path, url=f"{server}/sc.tar.gz", checksum=md5, progress=False)
    assert folder == tmp_path / "speech_commands_v0.02"
    assert (folder / "_background_noise_").is_dir() and (folder / "testing_list.txt").is_file()
    assert load_corpus(folder).info["name"] == "speech_commands"


@pytest.mark.parametrize("honour_range", [True, False], ids=["206 resume", "server ignores Range"])
def test_an_interrupted_download_resumes_from_its_part_file(server, archives, tmp_path, honour_range, monkeypatch):
    monkeypatch.setattr(_Handler, "honour_range", honour_range)
    cut = len(archives["zip"]) * 2 // 5
    (tmp_path / "free-spoken-digit-dataset-1.0.10.zip.part").write_bytes(archives["zip"][:cut])
    _Handler.requests.clear()
    folder = D.download("fsdd", tmp_path, url=f"{server}/fsdd.zip", checksum=_sha(archives["zip"]), progress=False)
    assert _Handler.requests == [("/fsdd.zip", f"bytes={cut}-")]
    assert (tmp_path / "free-spoken-digit-dataset-1.0.10.zip").read_bytes() == archives["zip"]
    assert (folder / "recordings").is_dir() and _leftovers(tmp_path) == []


def test_a_part_file_already_complete_becomes_the_archive_when_the_server_says_416(server, archives, tmp_path):
    """Asked for the bytes after its end, the server answers 416 Range Not Satisfiable: nothing was missing."""
    (tmp_path / "free-spoken-digit-dataset-1.0.10.zip.part").write_bytes(archives["zip"])
    _Handler.requests.clear()
    folder = D.download("fsdd", tmp_path, url=f"{server}/fsdd.zip", checksum=_sha(archives["zip"]), progress=False)
    assert _Handler.requests == [("/fsdd.zip", f"bytes={len(archives['zip'])}-")]
    assert (tmp_path / "free-spoken-digit-dataset-1.0.10.zip").read_bytes() == archives["zip"]
    assert (folder / "recordings").is_dir() and _leftovers(tmp_path) == []


def test_a_body_cut_short_is_an_error_and_the_next_run_resumes_it(server, archives, tmp_path, monkeypatch):
    size, cut = len(archives["zip"]), len(archives["zip"]) // 3
    part = tmp_path / "free-spoken-digit-dataset-1.0.10.zip.part"
    monkeypatch.setattr(_Handler, "cut_at", cut)
    with pytest.raises(ConnectionError, match=f"(stopped at {cut} of {size} bytes|broke off after {cut} bytes).*"
                                              f"run again to resume from .*zip.part"):
        D.download("fsdd", tmp_path, url=f"{server}/fsdd.zip", checksum=_sha(archives["zip"]), progress=False)
    assert part.read_bytes() == archives["zip"][:cut]
    assert sorted(p.name for p in tmp_path.iterdir()) == [part.name]          # no archive, no folder
    monkeypatch.setattr(_Handler, "cut_at", None)
    _Handler.requests.clear()
    folder = D.download("fsdd", tmp_path, url=f"{server}/fsdd.zip", checksum=_sha(archives["zip"]), progress=False)
    assert _Handler.requests == [("/fsdd.zip", f"bytes={cut}-")] and (folder / "recordings").is_dir()
    assert (tmp_path / "free-spoken-digit-dataset-1.0.10.zip").read_bytes() == archives["zip"]


def test_a_server_that_sends_no_length_still_gives_the_whole_archive(server, archives, tmp_path, monkeypatch,
                                                                      capsys):
    monkeypatch.setattr(_Handler, "send_length", False)
    folder = D.download("fsdd", tmp_path, url=f"{server}/fsdd.zip", checksum=_sha(archives["zip"]))
    assert (tmp_path / "free-spoken-digit-dataset-1.0.10.zip").read_bytes() == archives["zip"]
    assert (folder / "recordings").is_dir() and _leftovers(tmp_path) == []
    assert "%" not in capsys.readouterr().err                          # a byte count: no total to show a share of


def test_a_checksum_mismatch_extracts_nothing_and_keeps_the_download_aside(server, archives, tmp_path):
    (tmp_path / "mine.txt").write_text("precious")
    with pytest.raises(ValueError, match="checksum mismatch for .*fsdd.zip: expected sha256 0+, got .*moved aside"):
        D.download("fsdd", tmp_path, url=f"{server}/fsdd.zip", checksum="sha256:" + "0" * 64, progress=False)
    assert (tmp_path / "free-spoken-digit-dataset-1.0.10.zip.bad").read_bytes() == archives["zip"]
    assert not (tmp_path / "free-spoken-digit-dataset-1.0.10").exists() and _leftovers(tmp_path) == []
    assert (tmp_path / "mine.txt").read_text() == "precious"
    (tmp_path / "free-spoken-digit-dataset-1.0.10.zip").write_bytes(b"my own file")     # put there by hand
    with pytest.raises(ValueError, match="checksum mismatch.*kept as"):
        D.download("fsdd", tmp_path, url=f"{server}/fsdd.zip", checksum=_sha(archives["zip"]), progress=False)
    assert (tmp_path / "free-spoken-digit-dataset-1.0.10.zip").read_bytes() == b"my own file"


def test_no_server_is_a_clear_error_naming_the_url(tmp_path):
    import socket

    with socket.socket() as s:                                           # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/fsdd.zip"
    with pytest.raises(ConnectionError, match=f"cannot download {url}: .*by hand and save it as .*1.0.10.zip"):
        D.download("fsdd", tmp_path, url=url, checksum=None, progress=False, timeout=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_broken_archive_leaves_no_half_folder(server, tmp_path):
    junk = _Handler.files["/junk.zip"]
    with pytest.raises(ValueError, match="cannot extract .*1.0.10.zip.*nothing was extracted"):
        D.download("fsdd", tmp_path, url=f"{server}/junk.zip", checksum=_sha(junk), progress=False)
    assert not (tmp_path / "free-spoken-digit-dataset-1.0.10").exists() and _leftovers(tmp_path) == []
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("top/ok.txt", "fine")
        z.writestr("../outside.txt", "escape")
    with pytest.raises(ValueError, match="unsafe path '../outside.txt'"):
        D.extract(evil, tmp_path / "target")
    assert not (tmp_path / "target").exists() and not (tmp_path.parent / "outside.txt").exists()
    assert _leftovers(tmp_path) == []


def _tar(path, *members):
    """A tar.gz at ``path`` holding top/ok.txt and ``members`` (TarInfo objects without data)."""
    with tarfile.open(path, "w:gz") as t:
        info = tarfile.TarInfo("top/ok.txt")
        info.size = 4
        t.addfile(info, io.BytesIO(b"fine"))
        for member in members:
            t.addfile(member)
    return path


def _member(name, kind=tarfile.REGTYPE, to=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, to
    return info


@pytest.mark.parametrize("data_filter", [True, False], ids=["tarfile data filter", "Python before 3.11.4"])
def test_a_tar_with_a_path_outside_or_a_link_extracts_nothing(tmp_path, monkeypatch, data_filter):
    """Even a link that stays inside the folder is refused, as extract() promises; with or without the filter."""
    if not data_filter:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    elif not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python's tarfile has no data filter")
    cases = [(_member("../outside.txt"), "unsafe path '../outside.txt'"),
             (_member("top/../../outside.txt"), "unsafe path 'top/../../outside.txt'"),
             (_member("/tmp/mtlkit-absolute.txt"), "unsafe path '/tmp/mtlkit-absolute.txt'"),
             (_member("top/link", tarfile.SYMTYPE, "ok.txt"), "holds a link or device 'top/link'"),
             (_member("top/hard", tarfile.LNKTYPE, "top/ok.txt"), "holds a link or device 'top/hard'"),
             (_member("top/escape", tarfile.SYMTYPE, "/etc/passwd"), "holds a link or device 'top/escape'")]
    for i, (member, says) in enumerate(cases):
        archive = _tar(tmp_path / f"evil{i}.tar.gz", member)
        with pytest.raises(ValueError, match=f"{says}; refusing to extract"):
            D.extract(archive, tmp_path / "target")
        assert not (tmp_path / "target").exists() and _leftovers(tmp_path) == []
    assert not (tmp_path.parent / "outside.txt").exists() and not Path("/tmp/mtlkit-absolute.txt").exists()
    assert (D.extract(_tar(tmp_path / "fine.tar.gz"), tmp_path / "target") / "ok.txt").read_text() == "fine"


def test_loader_download_true_and_the_corpora_that_cannot_be(server, archives, tmp_path, monkeypatch):
    source = D.Source(f"{server}/fsdd.zip", "free-spoken-digit-dataset-1.0.10.zip", _sha(archives["zip"]),
                      "free-spoken-digit-dataset-1.0.10", "1 MB")
    monkeypatch.setitem(D.SOURCES, "fsdd", source)
    corpus = load_fsdd(tmp_path / "data", download=True)
    assert corpus.root == tmp_path / "data" / "free-spoken-digit-dataset-1.0.10" and "keyword" in corpus.tasks()
    with pytest.raises(ValueError, match="crema_d cannot be downloaded by the kit: CREMA-D has no single archive"):
        D.download("crema_d", tmp_path)
    with pytest.raises(ValueError, match="unknown corpus 'timit'; valid corpora: ravdess"):
        D.download("timit", tmp_path)


def test_published_sources_have_checksums_or_say_why_not():
    for name, source in D.SOURCES.items():
        assert source.url.startswith(("http://", "https://")) and source.archive.endswith((".zip", ".tar.gz")), name
        if source.checksum is not None:
            kind, _, digest = source.checksum.partition(":")
            assert len(digest) == {"md5": 32, "sha256": 64}[kind], name
    assert {n for n, s in D.SOURCES.items() if s.checksum is None} == {"fsdd", "audiomnist"}
    assert "/refs/tags/v1.0.10" in D.SOURCES["fsdd"].url and len(D.SOURCES["fsdd"].content[1]) == 64   # pinned
    assert D.NOT_DOWNLOADABLE["voxceleb1"] == voxceleb1.HOW_TO_GET and D.NOT_DOWNLOADABLE["crema_d"] == crema_d.HOW_TO_GET


def test_the_checksums_taken_from_torchaudio_are_the_ones_torchaudio_has():
    """Offline, a mistyped digest shows only where another package publishes the same one: torchaudio's datasets."""
    import importlib

    checked = []
    for name, source in D.SOURCES.items():
        if source.checksum_source.startswith("torchaudio.datasets."):
            try:
                published = importlib.import_module(source.checksum_source)._CHECKSUMS
            except (ImportError, AttributeError):
                pytest.skip(f"this torchaudio has no {source.checksum_source}._CHECKSUMS")
            digests = {url.rsplit("/", 1)[1]: digest for url, digest in published.items()}
            assert source.checksum == f"sha256:{digests[source.archive]}", name
            checked.append(name)
    assert len(checked) == 6                          # Speech Commands and five LibriSpeech parts


def test_listing_digest_is_what_sha256sum_prints(tmp_path):
    import shutil
    import subprocess

    for name, data in (("b.wav", b"\x00\x01"), ("a.wav", b"abc"), ("B.wav", b""), ("a_10.wav", b"x" * 70000)):
        (tmp_path / name).write_bytes(data)
    by_hand = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in
                      sorted([("b.wav", b"\x00\x01"), ("a.wav", b"abc"), ("B.wav", b""), ("a_10.wav", b"x" * 70000)]))
    assert D.listing_digest(tmp_path) == hashlib.sha256(by_hand.encode()).hexdigest()
    if shutil.which("sha256sum") and shutil.which("sh"):
        shell = subprocess.run(["sh", "-c", "LC_ALL=C sha256sum $(LC_ALL=C ls) | LC_ALL=C sha256sum"], cwd=tmp_path,
                               capture_output=True, text=True, check=True).stdout.split()[0]
        assert D.listing_digest(tmp_path) == shell


def test_an_archive_checked_by_its_content(server, archives, tmp_path, monkeypatch):
    """FSDD's pinned tag has no archive checksum: its recordings/ listing is checked before the folder appears."""
    import dataclasses

    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(io.BytesIO(archives["zip"])) as z:
        z.extractall(unpacked)
    digest = D.listing_digest(unpacked / "free-spoken-digit-dataset-1.0.10" / "recordings")
    good = dataclasses.replace(D.SOURCES["fsdd"], url=f"{server}/fsdd.zip", content=("recordings", digest))
    monkeypatch.setitem(D.SOURCES, "fsdd", good)
    folder = D.download("fsdd", tmp_path / "ok", progress=False)
    assert (folder / "recordings").is_dir() and folder.name == "free-spoken-digit-dataset-1.0.10"
    monkeypatch.setitem(D.SOURCES, "fsdd", dataclasses.replace(good, content=("recordings", "0" * 64)))
    with pytest.raises(ValueError, match=f"recordings/ gives {digest}, expected 0+ .*moved aside.*nothing was "
                                         "extracted"):
        D.download("fsdd", tmp_path / "bad", progress=False)
    assert sorted(p.name for p in (tmp_path / "bad").iterdir()) == ["free-spoken-digit-dataset-1.0.10.zip.bad"]


def test_the_readme_quotes_the_sizes_the_code_prints():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in readme.splitlines() if line.startswith("| ")}
    for name, row in (("ravdess", "RAVDESS (speech)"), ("speech_commands", "Speech Commands v0.02"),
                      ("librispeech-dev-clean", "LibriSpeech"), ("fsdd", "FSDD"), ("audiomnist", "AudioMNIST")):
        assert D.SOURCES[name].size in rows[row], (name, D.SOURCES[name].size)
    for name, row in (("crema_d", "CREMA-D"), ("voxceleb1", "VoxCeleb1")):
        assert "by hand" in rows[row] and name in D.NOT_DOWNLOADABLE
    assert "vox1_test_wav.zip" in rows["VoxCeleb1"] and "git lfs pull --include" in rows["CREMA-D"]
