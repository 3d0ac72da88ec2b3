"""Atomic writes: an output file appears complete or not at all.

Each writer writes to a temporary file in the destination folder, flushes it to disk and renames
it over the destination (``os.replace`` is atomic on POSIX), so a killed job never leaves a
half-written file that looks complete. A job killed outright (SIGKILL, a node lost) cannot remove
its temporary file: the next write of the same output removes it.

A folder that cannot take the outputs (read-only mount, no permission, disk full, a file where the
folder should be) gives an :class:`~policyml.core.errors.OutputError` naming the file and the reason,
not a traceback; :func:`check_output_folder` finds it before a run starts.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from .errors import OutputError

#: What to do when an output cannot be written.
_FIX = ("make the results folder a writable folder with free space (not a read-only mount, and no "
        "file of the same name in the way), or run in another folder with snakemake --directory")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _cannot_write(path: Path, error: OSError) -> OutputError:
    reason = error.strerror or str(error) or type(error).__name__
    where = f" ({error.filename})" if error.filename and Path(error.filename) != path else ""
    return OutputError(f"cannot write {path}: {reason}{where}", _FIX)


@contextmanager
def _output_errors(path: Path) -> Iterator[None]:
    """Turn an OSError while writing ``path`` into an OutputError."""
    try:
        yield
    except OSError as error:
        raise _cannot_write(path, error) from error


def _temporary_name(path: Path) -> re.Pattern:
    """Names ``tempfile.mkstemp`` gives the temporary files of ``path`` (see :func:`atomic_path`)."""
    return re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.part")


def _remove_stale(path: Path) -> None:
    """Remove temporary files of ``path`` left by a writer that was killed before cleaning up."""
    pattern = _temporary_name(path)
    for entry in path.parent.iterdir():
        if pattern.fullmatch(entry.name):
            entry.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``.

    Raises
    ------
    OutputError
        If the folder cannot be created or written, or the file cannot be flushed or renamed.
    """
    path = Path(path)
    with _output_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(path)
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        os.close(handle)
    temporary = Path(name)
    try:
        with _output_errors(path):
            os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        yield temporary
        with _output_errors(path):
            with open(temporary, "rb") as written:
                os.fsync(written.fileno())
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def check_output_folder(folder: str | Path) -> None:
    """Refuse, before anything runs, a results folder that cannot take outputs.

    Creates nothing that stays: a probe file is written in ``folder`` (or, when it does not exist
    yet, in its nearest existing parent) and removed again. Unlike ``os.access`` this also catches
    read-only mounts and immutable folders, and it works for root, whom permissions do not stop.

    Raises
    ------
    OutputError
        If ``folder`` or one of its parents is a file, or the probe cannot be written.
    """
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(
            f"cannot write results under {folder}: {existing} is a file, not a folder", _FIX
        )
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".policyml-write-check."):
            pass
    except OSError as error:
        raise OutputError(
            f"cannot write results under {folder}: {error.strerror or error} ({existing})", _FIX
        ) from error


def write_bytes(content: bytes, path: str | Path) -> None:
    with atomic_path(path) as temporary, _output_errors(Path(path)):
        temporary.write_bytes(content)


#: key of the JSON that policyml keeps in a parquet file's schema metadata
PARQUET_METADATA_KEY = b"policyml"


def write_parquet(frame: pd.DataFrame, path: str | Path, metadata: dict | None = None) -> None:
    """Write ``frame`` atomically; ``metadata`` (JSON-ready) rides along in the file's schema."""
    with atomic_path(path) as temporary, _output_errors(Path(path)):
        if metadata is None:
            frame.to_parquet(temporary, index=False)
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        schema_metadata = {**(table.schema.metadata or {}),
                           PARQUET_METADATA_KEY: json.dumps(_plain(metadata)).encode()}
        pq.write_table(table.replace_schema_metadata(schema_metadata), temporary)


def read_parquet_metadata(path: str | Path) -> dict:
    """The ``metadata`` that :func:`write_parquet` stored in ``path`` (``{}`` when none)."""
    import pyarrow.parquet as pq

    stored = (pq.read_schema(path).metadata or {}).get(PARQUET_METADATA_KEY)
    return json.loads(stored) if stored else {}


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as temporary, _output_errors(Path(path)):
        frame.to_csv(temporary, index=False)


def _plain(value):
    """JSON-ready values: numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(data: dict, path: str | Path) -> None:
    with atomic_path(path) as temporary, _output_errors(Path(path)):
        temporary.write_text(json.dumps(_plain(data), indent=2) + "\n")
