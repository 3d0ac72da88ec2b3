"""Tests of policyml.data.fetch against a real HTTP server on 127.0.0.1 with scripted replies."""

from __future__ import annotations

import hashlib
import http.server
import io
import logging
import socket
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from policyml.core.errors import DataError, DownloadError
from policyml.core.resources import Mirror
from policyml.data.fetch import (
    cache_dir,
    download,
    expected_member,
    locate_pums_zip,
    pums_relpath,
    pums_url,
    verify_zip,
)

PERSON_CSV = (
    "SERIALNO,ST,PUMA,AGEP,PWGTP\n"
    "2018GQ0000001,35,00100,34,12\n"
    "2018HU0000002,35,00200,51,9\n"
)
STALL_LIMIT_SECONDS = 3.0  # a stalled handler never blocks teardown for longer than this


# --------------------------------------------------------------------------------------------------
# A scripted HTTP server


@dataclass
class Reply:
    """One scripted response: ``content_length`` may lie; ``stall_after`` bytes, then silence."""

    status: int = 200
    body: bytes = b""
    content_length: int | None = None
    stall_after: int | None = None


class ScriptedServer:
    """A ThreadingHTTPServer whose replies per path are consumed in order (the last one repeats)."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    def script(self, path: str, *replies: Reply) -> str:
        self.routes[path] = list(replies)
        return self.url(path)

    def count(self, path: str) -> int:
        return self.requests.count(path)

    def next_reply(self, path: str) -> Reply:
        with self._lock:
            self.requests.append(path)
            replies = self.routes.get(path)
            if not replies:
                return Reply(status=404, body=b"not found")
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                reply = server.next_reply(self.path)
                self.close_connection = True
                self.send_response(reply.status)
                length = len(reply.body) if reply.content_length is None else reply.content_length
                self.send_header("Content-Length", str(length))
                self.send_header("Content-Type", "application/zip")
                self.end_headers()
                if reply.stall_after is None:
                    self.wfile.write(reply.body)
                    return
                self.wfile.write(reply.body[: reply.stall_after])
                self.wfile.flush()
                server.stop.wait(STALL_LIMIT_SECONDS)  # set at teardown: never hangs it

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output quiet

        return Handler

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()  # joins the handler threads
        self.thread.join(timeout=5)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    scripted = ScriptedServer()
    scripted.start()
    yield scripted
    scripted.close()


# --------------------------------------------------------------------------------------------------
# Fixture zips


def make_zip(path: Path, member: str = "psam_p35.csv", text: str = PERSON_CSV) -> bytes:
    """Write a small PUMS-like zip at ``path`` and return its bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


@pytest.fixture
def pums_zip(tmp_path: Path) -> bytes:
    return make_zip(tmp_path / "fixture" / "csv_pnm.zip")


def leftovers(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.part-*"))


QUICK = {"progress": False, "backoff": 0, "timeout": (2, 2)}
PATH = "/2018/1-Year/csv_pnm.zip"


# --------------------------------------------------------------------------------------------------
# download


def test_download_writes_exact_bytes(server: ScriptedServer, pums_zip: bytes, tmp_path: Path):
    """Check that a download lands at dest byte for byte and leaves no temporary file."""
    url = server.script(PATH, Reply(body=pums_zip))
    dest = tmp_path / "out" / "csv_pnm.zip"
    assert download(url, dest, member="psam_p35.csv", **QUICK) == dest
    assert dest.read_bytes() == pums_zip
    assert leftovers(dest.parent) == []
    assert server.count(PATH) == 1


def test_download_shows_progress_on_stderr(
    server: ScriptedServer, pums_zip: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """Check that progress=True draws a tqdm bar on stderr and nothing on stdout."""
    url = server.script(PATH, Reply(body=pums_zip))
    download(url, tmp_path / "csv_pnm.zip", progress=True, backoff=0)
    captured = capsys.readouterr()
    assert "csv_pnm.zip" in captured.err
    assert captured.out == ""


def test_download_404_fails_at_once(server: ScriptedServer, tmp_path: Path):
    """Check that HTTP 404 raises a DownloadError naming url and status after a single request."""
    url = server.url("/2031/1-Year/csv_pnm.zip")
    dest = tmp_path / "csv_pnm.zip"
    with pytest.raises(DownloadError) as caught:
        download(url, dest, retries=4, **QUICK)
    assert "404" in caught.value.message
    assert url in caught.value.message
    assert "not published" in caught.value.hint
    assert server.requests == ["/2031/1-Year/csv_pnm.zip"]
    assert not dest.exists()
    assert leftovers(tmp_path) == []


def test_download_retries_after_server_error(
    server: ScriptedServer, pums_zip: bytes, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    """Check that an HTTP 500 is retried (with a logged warning) and the second attempt succeeds."""
    url = server.script(PATH, Reply(status=500, body=b"oops"), Reply(body=pums_zip))
    dest = tmp_path / "csv_pnm.zip"
    sleeps: list[float] = []
    with caplog.at_level(logging.WARNING, logger="policyml.data.fetch"):
        download(
            url, dest, member="psam_p35.csv", progress=False, backoff=0.25, sleep=sleeps.append
        )
    assert dest.read_bytes() == pums_zip
    assert server.count(PATH) == 2
    assert sleeps == [0.25]
    assert any("HTTP 500" in record.getMessage() for record in caplog.records)


def test_download_backoff_doubles_each_attempt(server: ScriptedServer, tmp_path: Path):
    """Check that waits grow as backoff * 2**attempt and the error counts every attempt."""
    url = server.script(PATH, Reply(status=503, body=b"busy"))
    sleeps: list[float] = []
    with pytest.raises(DownloadError) as caught:
        download(url, tmp_path / "csv_pnm.zip", retries=3, backoff=1.0, progress=False,
                 sleep=sleeps.append)
    assert sleeps == [1.0, 2.0, 4.0]
    assert server.count(PATH) == 4
    assert "after 4 attempts" in caught.value.message
    assert "HTTP 503" in caught.value.message


def test_download_connection_refused_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Check that a refused connection is retried, then reported with the attempt count."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/2018/1-Year/csv_pnm.zip"
    sleeps: list[float] = []
    with pytest.raises(DownloadError) as caught:
        download(url, tmp_path / "csv_pnm.zip", retries=2, backoff=0.5, progress=False,
                 sleep=sleeps.append)
    assert "after 3 attempts" in caught.value.message
    assert "ConnectionError" in caught.value.message
    assert sleeps == [0.5, 1.0]
    assert list(tmp_path.iterdir()) == []


def test_download_malformed_url_fails_at_once(tmp_path: Path):
    """Check that a url requests cannot use fails at once (no retries) with a DownloadError."""
    sleeps: list[float] = []
    with pytest.raises(DownloadError, match="cannot download"):
        download("htp:/nowhere/csv_pnm.zip", tmp_path / "csv_pnm.zip", progress=False,
                 sleep=sleeps.append)
    assert sleeps == []


def test_download_short_body_fails_after_retries(
    server: ScriptedServer, pums_zip: bytes, tmp_path: Path
):
    """Check that a body shorter than its Content-Length is retried, then fails leaving nothing."""
    url = server.script(PATH, Reply(body=pums_zip[:-40], content_length=len(pums_zip)))
    dest = tmp_path / "csv_pnm.zip"
    with pytest.raises(DownloadError) as caught:
        download(url, dest, retries=2, member="psam_p35.csv", **QUICK)
    assert "after 3 attempts" in caught.value.message
    assert url in caught.value.message
    assert caught.value.__cause__ is not None
    assert server.count(PATH) == 3
    assert not dest.exists()
    assert leftovers(tmp_path) == []


def test_download_truncated_zip_reports_invalid_zip(
    server: ScriptedServer, pums_zip: bytes, tmp_path: Path
):
    """Check that a complete response with a truncated zip fails as 'not a valid zip'."""
    url = server.script(PATH, Reply(body=pums_zip[: len(pums_zip) // 2]))
    dest = tmp_path / "csv_pnm.zip"
    with pytest.raises(DataError) as caught:
        download(url, dest, retries=1, member="psam_p35.csv", **QUICK)
    assert "not a valid zip" in caught.value.message
    assert server.count(PATH) == 2
    assert not dest.exists()
    assert leftovers(tmp_path) == []


def test_download_stalled_server_times_out(
    server: ScriptedServer, pums_zip: bytes, tmp_path: Path
):
    """Check that a server that stops mid-body trips the read timeout instead of hanging."""
    url = server.script(PATH, Reply(body=pums_zip, stall_after=10))
    dest = tmp_path / "csv_pnm.zip"
    started = time.monotonic()
    with pytest.raises(DownloadError) as caught:
        download(url, dest, timeout=(1, 0.5), retries=1, backoff=0, progress=False,
                 member="psam_p35.csv")
    assert time.monotonic() - started < STALL_LIMIT_SECONDS
    assert "timeout" in caught.value.message
    assert "after 2 attempts" in caught.value.message
    assert server.count(PATH) == 2
    assert not dest.exists()
    assert leftovers(tmp_path) == []


def test_download_zip_without_member_names_member(server: ScriptedServer, tmp_path: Path):
    """Check that a zip lacking the expected CSV fails with a DataError naming that member."""
    wrong = make_zip(tmp_path / "fixture" / "csv_pvt.zip", member="psam_p50.csv")
    url = server.script(PATH, Reply(body=wrong))
    dest = tmp_path / "csv_pnm.zip"
    with pytest.raises(DataError) as caught:
        download(url, dest, retries=0, member="psam_p35.csv", **QUICK)
    assert "psam_p35.csv" in caught.value.message
    assert not dest.exists()


# --------------------------------------------------------------------------------------------------
# verify_zip


def test_verify_zip_not_a_zip_names_file_and_fix(tmp_path: Path):
    """Check that a non-zip file raises a DataError naming the file and telling to delete it."""
    path = tmp_path / "csv_pnm.zip"
    path.write_text("<html>Service Unavailable</html>")
    with pytest.raises(DataError) as caught:
        verify_zip(path, "psam_p35.csv")
    assert str(path) in caught.value.message
    assert "not a valid zip" in caught.value.message
    assert caught.value.hint == f"delete {path} and rerun to download it again"


def test_verify_zip_crc_failure_names_member(tmp_path: Path):
    """Check that a zip whose member bytes were altered fails the CRC check, naming the member."""
    path = tmp_path / "csv_pnm.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("psam_p35.csv", PERSON_CSV)
    data = bytearray(path.read_bytes())
    offset = data.index(b"2018GQ")
    data[offset] = ord("9")
    path.write_bytes(bytes(data))
    with pytest.raises(DataError) as caught:
        verify_zip(path, "psam_p35.csv")
    assert "CRC" in caught.value.message
    assert "psam_p35.csv" in caught.value.message


def test_verify_zip_accepts_good_zip(tmp_path: Path):
    """Check that a complete zip holding the expected member passes without error."""
    path = tmp_path / "csv_pnm.zip"
    make_zip(path)
    assert verify_zip(path, "psam_p35.csv") is None


# --------------------------------------------------------------------------------------------------
# locate_pums_zip


def make_mirror(root: Path, relpath: str) -> tuple[Mirror, bytes]:
    """A strict mirror holding a fixture zip at ``relpath`` listed in SHA256SUMS."""
    data = make_zip(root / relpath)
    (root / "SHA256SUMS").write_text(f"{hashlib.sha256(data).hexdigest()}  {relpath}\n")
    return Mirror(root, strict=True), data


def locate(server: ScriptedServer, cache: Path, mirrors: list[Mirror], **kwargs) -> Path:
    return locate_pums_zip("NM", 2018, "1-Year", "p", mirrors=mirrors, cache=cache,
                           base_url=server.url(""), **QUICK, **kwargs)


def test_locate_pums_zip_prefers_mirror(server: ScriptedServer, pums_zip: bytes, tmp_path: Path):
    """Check that a file in a mirror is used without any request to the server."""
    server.script(PATH, Reply(body=pums_zip))
    empty = Mirror(tmp_path / "empty")
    mirror, data = make_mirror(tmp_path / "mirror", "pums/2018/1-Year/csv_pnm.zip")
    path = locate(server, tmp_path / "cache", [empty, mirror])
    assert path == tmp_path / "mirror" / "pums/2018/1-Year/csv_pnm.zip"
    assert path.read_bytes() == data
    assert server.requests == []
    assert not (tmp_path / "cache").exists()


def test_locate_pums_zip_corrupt_mirror_raises(server: ScriptedServer, tmp_path: Path):
    """Check that a mirror file failing its sha256 raises instead of silently downloading."""
    relpath = "pums/2018/1-Year/csv_pnm.zip"
    mirror, _ = make_mirror(tmp_path / "mirror", relpath)
    (tmp_path / "mirror" / relpath).write_bytes(b"tampered")
    with pytest.raises(DataError, match="sha256"):
        locate(server, tmp_path / "cache", [mirror])
    assert server.requests == []


def test_locate_pums_zip_reuses_cache(server: ScriptedServer, pums_zip: bytes, tmp_path: Path):
    """Check that the first call downloads into the cache and the second reuses it."""
    server.script(PATH, Reply(body=pums_zip))
    cache = tmp_path / "cache"
    first = locate(server, cache, [Mirror(tmp_path / "empty")])
    second = locate(server, cache, [Mirror(tmp_path / "empty")])
    assert first == second == cache / "pums/2018/1-Year/csv_pnm.zip"
    assert first.read_bytes() == pums_zip
    assert server.count(PATH) == 1


def test_locate_pums_zip_replaces_corrupt_cache(
    server: ScriptedServer, pums_zip: bytes, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    """Check that a corrupt cached zip is deleted, logged and replaced by a fresh download."""
    server.script(PATH, Reply(body=pums_zip))
    cached = tmp_path / "cache" / "pums/2018/1-Year/csv_pnm.zip"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(pums_zip[:100])
    with caplog.at_level(logging.WARNING, logger="policyml.data.fetch"):
        path = locate(server, tmp_path / "cache", [])
    assert path == cached
    assert cached.read_bytes() == pums_zip
    assert server.count(PATH) == 1
    assert any("corrupt" in record.getMessage() for record in caplog.records)


def test_locate_pums_zip_without_download_names_places(server: ScriptedServer, tmp_path: Path):
    """Check that allow_download=False with no local copy names every place it looked."""
    mirror_root = tmp_path / "mirror"
    with pytest.raises(DataError) as caught:
        locate(server, tmp_path / "cache", [Mirror(mirror_root)], allow_download=False)
    message = caught.value.message
    assert str(mirror_root / "pums/2018/1-Year/csv_pnm.zip") in message
    assert str(tmp_path / "cache" / "pums/2018/1-Year/csv_pnm.zip") in message
    assert "data.download=true" in caught.value.hint
    assert server.requests == []


def test_locate_pums_zip_housing_uses_housing_folder(server: ScriptedServer, tmp_path: Path):
    """Check that a housing file is looked up under pums-housing/ and verified for psam_h35.csv."""
    housing = make_zip(tmp_path / "fixture" / "csv_hnm.zip", member="psam_h35.csv")
    server.script("/2018/1-Year/csv_hnm.zip", Reply(body=housing))
    path = locate_pums_zip("35", 2018, "1-Year", "h", mirrors=[], cache=tmp_path / "cache",
                           base_url=server.url(""), **QUICK)
    assert path == tmp_path / "cache" / "pums-housing/2018/1-Year/csv_hnm.zip"
    assert path.read_bytes() == housing


# --------------------------------------------------------------------------------------------------
# Names and places


def test_pums_url_census_layout():
    """Check that the 2018 1-Year New Mexico person file has the Census Bureau's url."""
    assert pums_url(2018, "1-Year", "p", "NM") == (
        "https://www2.census.gov/programs-surveys/acs/data/pums/2018/1-Year/csv_pnm.zip"
    )


def test_pums_url_experimental_2020():
    """Check that the 2020 1-Year file points to the experimental tree, but 5-Year does not."""
    assert pums_url(2020, "1-Year", "p", "nm") == (
        "https://www2.census.gov/programs-surveys/acs/experimental/2020/data/pums"
        "/1-Year/csv_pnm.zip"
    )
    assert pums_url(2020, "5-Year", "h", "NM") == (
        "https://www2.census.gov/programs-surveys/acs/data/pums/2020/5-Year/csv_hnm.zip"
    )


def test_pums_url_explicit_base_url_uses_plain_layout():
    """Check that an explicit base_url keeps the plain layout, even for 2020 1-Year."""
    assert pums_url(2020, "1-Year", "p", "NM", base_url="http://mirror.example/pums/") == (
        "http://mirror.example/pums/2020/1-Year/csv_pnm.zip"
    )


def test_expected_member_uses_fips():
    """Check that the CSV member is named by kind and FIPS code."""
    assert expected_member("p", "NM") == "psam_p35.csv"
    assert expected_member("h", "vt") == "psam_h50.csv"


def test_pums_relpath_matches_shared_layout():
    """Check that person and housing zips sit under pums/ and pums-housing/ like ../shared/data."""
    assert pums_relpath(2018, "1-Year", "p", "WY") == "pums/2018/1-Year/csv_pwy.zip"
    assert pums_relpath(2018, "1-Year", "h", "AK") == "pums-housing/2018/1-Year/csv_hak.zip"


def test_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Check that the config value beats $POLICYML_CACHE_DIR, which beats $XDG_CACHE_HOME and ~."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("POLICYML_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cache_dir() == tmp_path / "home" / ".cache" / "policyml"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "policyml"
    monkeypatch.setenv("POLICYML_CACHE_DIR", str(tmp_path / "env"))
    assert cache_dir() == tmp_path / "env"
    assert cache_dir(tmp_path / "config") == tmp_path / "config"
