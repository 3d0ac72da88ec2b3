"""Getting a Census PUMS zip onto disk, safely.

The Census Bureau publishes one zip per state, survey and year at
``{base_url}/{year}/{survey}/csv_{kind}{st}.zip`` (``kind`` is ``p`` for persons, ``h`` for
housing units, ``st`` the lowercase postal code). :func:`locate_pums_zip` looks for that file in the
configured mirrors, then in the user cache, and only then downloads it.

Downloads are atomic: bytes go to a temporary ``.part-<pid>`` file beside the destination, which is
checked (length, zip integrity, expected CSV member), synced to disk and only then renamed into
place.
A killed or failed download never leaves a file at the destination.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import requests
import urllib3
from tqdm import tqdm

from ..core.errors import ConfigError, DataError, DownloadError
from ..core.period import SURVEYS
from ..core.resources import Mirror
from ..core.states import State, resolve_state

logger = logging.getLogger(__name__)

CENSUS_PUMS_URL = "https://www2.census.gov/programs-surveys/acs/data/pums"
# The 2020 1-Year release was experimental (pandemic-era weights) and lives elsewhere.
CENSUS_EXPERIMENTAL_2020_URL = (
    "https://www2.census.gov/programs-surveys/acs/experimental/2020/data/pums"
)

KINDS = {"p": "person", "h": "housing"}
_CHUNK_SIZE = 1 << 16
# Network failures worth another attempt; other requests errors (a malformed url...) are not.
_TRANSIENT_NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


# --------------------------------------------------------------------------------------------------
# Names: urls, cache paths and zip members


def _state(state: State | str | int) -> State:
    return state if isinstance(state, State) else resolve_state(state)


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ConfigError(
            f"unknown PUMS file kind {kind!r}",
            "use 'p' for the person file or 'h' for the housing file",
        )
    return kind


def _check_survey(survey: str) -> str:
    if survey not in SURVEYS:
        raise ConfigError(
            f"unknown ACS survey {survey!r}", f"use one of {', '.join(SURVEYS)}"
        )
    return survey


def pums_filename(kind: str, state: State | str | int) -> str:
    """The published zip name, e.g. ``csv_pnm.zip`` for the New Mexico person file."""
    return f"csv_{_check_kind(kind)}{_state(state).lower}.zip"


def pums_url(
    year: int, survey: str, kind: str, state: State | str | int, base_url: str | None = None
) -> str:
    """The url of a PUMS zip on the Census server, or on ``base_url`` laid out the same way.

    An explicit ``base_url`` (a test server, an institutional mirror) always uses the plain
    ``{base_url}/{year}/{survey}/csv_...zip`` layout; only the Census server itself keeps the
    experimental 2020 1-Year release in a separate tree.
    """
    name = pums_filename(kind, state)
    _check_survey(survey)
    if base_url is None:
        if int(year) == 2020 and survey == "1-Year":
            return f"{CENSUS_EXPERIMENTAL_2020_URL}/{survey}/{name}"
        base_url = CENSUS_PUMS_URL
    return f"{base_url.rstrip('/')}/{year}/{survey}/{name}"


def pums_relpath(year: int, survey: str, kind: str, state: State | str | int) -> str:
    """Where a PUMS zip lives inside a mirror or the cache (the layout of ``../shared/data``)."""
    folder = "pums" if _check_kind(kind) == "p" else "pums-housing"
    return f"{folder}/{year}/{_check_survey(survey)}/{pums_filename(kind, state)}"


def expected_member(kind: str, state: State | str | int) -> str:
    """The CSV inside a PUMS zip (2017 onward), e.g. ``psam_p35.csv`` for New Mexico persons."""
    return f"psam_{_check_kind(kind)}{_state(state).fips}.csv"


def cache_dir(config_value: str | os.PathLike[str] | None = None) -> Path:
    """The user cache for downloads: the config value, ``$POLICYML_CACHE_DIR``,
    ``$XDG_CACHE_HOME/policyml`` or ``~/.cache/policyml``, first one set wins."""
    if config_value:
        return Path(config_value).expanduser()
    if env_dir := os.environ.get("POLICYML_CACHE_DIR"):
        return Path(env_dir).expanduser()
    if xdg := os.environ.get("XDG_CACHE_HOME"):
        return Path(xdg).expanduser() / "policyml"
    return Path.home() / ".cache" / "policyml"


# --------------------------------------------------------------------------------------------------
# Checking a zip


def verify_zip(path: Path, member: str | None, *, label: str | None = None) -> None:
    """Raise a DataError unless ``path`` is a complete, CRC-clean zip holding ``member``.

    ``label`` names the file in the message when ``path`` itself means nothing to the user
    (e.g. the temporary file of a download).
    """
    path = Path(path)
    name = label or str(path)
    hint = f"delete {path} and rerun to download it again"
    try:
        with zipfile.ZipFile(path) as archive:
            bad_member = archive.testzip()
            names = archive.namelist()
    except zipfile.BadZipFile as exc:
        raise DataError(
            f"{name} is not a valid zip file; it is truncated or corrupted ({exc})", hint
        ) from exc
    except (EOFError, zipfile.LargeZipFile, NotImplementedError, ValueError) as exc:
        raise DataError(f"{name} is truncated or unreadable as a zip ({exc})", hint) from exc
    if bad_member is not None:
        raise DataError(f"{name} is corrupted: member {bad_member} fails its CRC check", hint)
    if member is not None and member not in names:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "") or "nothing"
        raise DataError(
            f"{name} lacks the expected member {member} (it holds {shown})",
            f"check that the file is the right state, kind and year; {hint}",
        )


# --------------------------------------------------------------------------------------------------
# Downloading


class _RetryableFailure(Exception):
    """A failed attempt worth repeating: server error, truncated body or corrupt zip."""


def _describe(exc: BaseException) -> str:
    """One line saying why an attempt failed, naming timeouts plainly."""
    if isinstance(exc, requests.ConnectTimeout):
        return f"connection timed out ({exc})"
    stalled = isinstance(exc, requests.ReadTimeout) or any(
        isinstance(arg, urllib3.exceptions.ReadTimeoutError) for arg in exc.args
    )
    if stalled:
        return f"read timeout: the server stopped sending data ({exc})"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        inner = exc.args[0] if exc.args else exc
        if isinstance(inner, urllib3.exceptions.ProtocolError) and inner.args:
            inner = inner.args[0]
        return f"the connection broke before the whole file arrived ({inner})"
    if isinstance(exc, DataError):
        return exc.message
    if isinstance(exc, requests.RequestException):
        return f"{type(exc).__name__}: {exc}"
    return str(exc)


def _check_status(response: requests.Response, url: str) -> None:
    status = response.status_code
    if status == 429 or status >= 500:
        raise _RetryableFailure(f"HTTP {status} {response.reason}".strip())
    if status in (404, 410):
        raise DownloadError(
            f"PUMS file not found: {url} (HTTP {status})",
            "the Census Bureau has not published that survey/year/state, or the year is wrong "
            "(files appear about a year after the survey year; the 2020 1-Year file is "
            f"experimental); see {url.rsplit('/', 1)[0]}/ for what exists",
        )
    if 400 <= status < 500:
        raise DownloadError(
            f"the server refused the download of {url} (HTTP {status} {response.reason})".strip(),
            "check the url and any proxy settings (HTTPS_PROXY), or download the file by hand",
        )


def _give_up_hint(exc: BaseException, dest: Path) -> str:
    by_hand = f"or download the file by hand to {dest}"
    if isinstance(exc, DataError):  # the server answered, but not with the expected PUMS zip
        return f"check that the url serves the PUMS zip (base_url, proxy or mirror), {by_hand}"
    return (
        "check the network connection (and HTTPS_PROXY if you use a proxy) and rerun later, "
        + by_hand
    )


def _content_length(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Length", "")
    return int(value) if value.isdigit() else None


def _fsync_directory(folder: Path) -> None:
    """Make a rename durable; skipped where directories cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fetch_once(
    session: requests.Session,
    url: str,
    part: Path,
    dest: Path,
    *,
    timeout: float | tuple[float, float],
    progress: bool,
    member: str | None,
) -> None:
    """One attempt: stream ``url`` into ``part`` and check it, raising on any problem."""
    # identity: Content-Length then counts the bytes we write, not compressed ones.
    headers = {"Accept-Encoding": "identity"}
    with session.get(url, stream=True, timeout=timeout, headers=headers) as response:
        _check_status(response, url)
        expected = _content_length(response)
        received = 0
        with (
            open(part, "wb") as handle,
            tqdm(
                total=expected,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=dest.name,
                file=sys.stderr,
                disable=not progress,
                leave=False,
            ) as bar,
        ):
            for chunk in response.iter_content(chunk_size=_CHUNK_SIZE):
                handle.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
            handle.flush()
            os.fsync(handle.fileno())
    if expected is not None and received != expected:
        raise _RetryableFailure(
            f"truncated download: received {received} of {expected} bytes (Content-Length)"
        )
    if member is not None:
        verify_zip(part, member, label=f"the file downloaded from {url}")


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    timeout: float | tuple[float, float] = (10, 60),
    retries: int = 4,
    backoff: float = 1.0,
    progress: bool = True,
    member: str | None = None,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Download ``url`` to ``dest`` atomically and return ``dest``.

    ``timeout`` is requests' (connect, read) pair: a server silent for longer than the read timeout
    counts as a failed attempt. Connection errors, timeouts, HTTP 5xx/429, truncated bodies and
    (when ``member`` is given) corrupt zips or zips without ``member`` are retried ``retries``
    times, waiting ``backoff * 2**attempt`` seconds in between. Other HTTP 4xx fail at once.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f"{dest.name}.part-{os.getpid()}")
    attempts = max(retries, 0) + 1
    own_session = session is None
    session = session or requests.Session()
    try:
        for attempt in range(attempts):
            try:
                _fetch_once(
                    session, url, part, dest, timeout=timeout, progress=progress, member=member
                )
            except requests.RequestException as exc:
                if not isinstance(exc, _TRANSIENT_NETWORK_ERRORS):
                    raise DownloadError(
                        f"cannot download {url}: {_describe(exc)}",
                        "check the url (and base_url in the config)",
                    ) from exc
                last_failure: BaseException = exc
            except (_RetryableFailure, DataError) as exc:
                if isinstance(exc, DownloadError):  # HTTP 4xx: retrying will not help
                    raise
                last_failure = exc
            else:
                os.replace(part, dest)
                _fsync_directory(dest.parent)
                return dest
            part.unlink(missing_ok=True)
            cause = _describe(last_failure)
            if attempt + 1 == attempts:
                raise DownloadError(
                    f"could not download {url} after {attempts} attempt"
                    f"{'s' if attempts > 1 else ''}: {cause}",
                    _give_up_hint(last_failure, dest),
                ) from last_failure
            delay = backoff * 2**attempt
            logger.warning(
                "download of %s failed (attempt %d of %d): %s; retrying in %.1f s",
                url, attempt + 1, attempts, cause, delay,
            )
            sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover
    finally:
        part.unlink(missing_ok=True)
        if own_session:
            session.close()


# --------------------------------------------------------------------------------------------------
# Finding a PUMS zip: mirrors, then cache, then the Census server


def locate_pums_zip(
    state: State | str | int,
    year: int,
    survey: str,
    kind: str = "p",
    *,
    mirrors: Iterable[Mirror],
    cache: str | os.PathLike[str],
    base_url: str | None = None,
    allow_download: bool = True,
    **download_kwargs: Any,
) -> Path:
    """Return a verified local copy of a PUMS zip, downloading it into ``cache`` if needed.

    Mirrors are searched in order (a corrupted mirror file raises rather than being skipped), then
    ``cache``; a corrupt cached file is deleted and downloaded again.
    """
    state = _state(state)
    relpath = pums_relpath(year, survey, kind, state)
    member = expected_member(kind, state)
    looked_in: list[Path] = []

    for mirror in mirrors:
        path = mirror.find(relpath)
        if path is not None:
            if relpath not in mirror.checksums():  # no sha256 to vouch for it: check the zip
                verify_zip(path, member)
            logger.info("using %s from mirror %s", relpath, mirror.root)
            return path
        looked_in.append(mirror.root / relpath)

    cached = Path(cache) / relpath
    if cached.is_file():
        try:
            verify_zip(cached, member)
        except DataError as exc:
            logger.warning("cached %s is corrupt, downloading it again: %s", cached, exc.message)
            cached.unlink()
        else:
            logger.info("using %s from the cache %s", relpath, cache)
            return cached
    looked_in.append(cached)

    url = pums_url(year, survey, kind, state, base_url)
    if not allow_download:
        raise DataError(
            f"no {KINDS[kind]} PUMS file for {state.postal} {year} {survey}; looked in "
            + ", ".join(str(p) for p in looked_in),
            f"set data.download=true in the config (needs internet) or copy {url} to {cached}",
        )
    logger.info("downloading %s to %s", url, cached)
    download(url, cached, member=member, **download_kwargs)
    return cached
