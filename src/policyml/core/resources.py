"""Embedded data and local mirrors, checked against their sha256 sums when opened.

A *mirror* is a folder laid out like ``resources/``: ``pums/{year}/{survey}/csv_p{st}.zip``,
``dictionary/PUMS_Data_Dictionary_{year}.csv``, ``shapes/...``, ``published/...``, with a
``SHA256SUMS`` file (``sha256sum`` format, paths relative to the folder). The embedded
``resources/`` folder is the first mirror; ``../shared/data`` or an institution's copy can be added
in the config. A file listed in SHA256SUMS is only handed out when its bytes match.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from .errors import DataError

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def default_resources_dir() -> Path:
    """The embedded data folder: ``$POLICYML_RESOURCES`` or ``resources/`` beside ``src/``."""
    return Path(os.environ.get("POLICYML_RESOURCES", PROJECT_ROOT / "resources"))


def sha256_of(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


@lru_cache(maxsize=None)
def _checksums(sums_file: Path, _mtime: float) -> dict[str, str]:
    sums = {}
    for line in sums_file.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*").removeprefix("./")] = digest
    return sums


@lru_cache(maxsize=None)
def _sha256_of_version(path: Path, _stat_key: tuple) -> str:
    return sha256_of(path)


def file_sha256(path: str | Path) -> str:
    """The sha256 of ``path``, computed once per version of the file in a process (a mirror's
    check and the run's record of the file read share it)."""
    path = Path(path).resolve()
    stat = path.stat()
    # ctime changes on every write or metadata change, even when mtime is preserved (cp -p)
    return _sha256_of_version(path, (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino))


class Mirror:
    """A local folder of Census files; ``strict`` mirrors must list every file they hand out."""

    def __init__(self, root: str | Path, strict: bool = False):
        self.root = Path(root)
        self.strict = strict

    def __repr__(self) -> str:
        return f"Mirror({str(self.root)!r}, strict={self.strict})"

    def checksums(self) -> dict[str, str]:
        sums_file = self.root / "SHA256SUMS"
        if not sums_file.is_file():
            return {}
        return _checksums(sums_file.resolve(), sums_file.stat().st_mtime)

    def find(self, relpath: str) -> Path | None:
        """Return the verified file at ``relpath``, None when absent; raise when it is corrupted."""
        path = self.root / relpath
        if not path.is_file():
            return None
        expected = self.checksums().get(relpath)
        if expected is None:
            if self.strict:
                raise DataError(
                    f"{path} is not listed in {self.root / 'SHA256SUMS'}",
                    f"add its checksum: cd {self.root} && sha256sum {relpath} >> SHA256SUMS",
                )
            return path
        if file_sha256(path) != expected:
            raise DataError(
                f"{path} does not match its sha256 in {self.root / 'SHA256SUMS'} "
                "(the file is corrupted or was replaced)",
                f"restore the original file (for the embedded data: git checkout -- {path})",
            )
        return path


def embedded() -> Mirror:
    return Mirror(default_resources_dir(), strict=True)


def resource_path(relpath: str) -> Path:
    """A verified file of the embedded data, or a DataError naming what is missing."""
    mirror = embedded()
    path = mirror.find(relpath)
    if path is None:
        raise DataError(
            f"embedded file {mirror.root / relpath} is missing",
            "restore the resources/ folder from the repository (git checkout -- resources/)",
        )
    return path
