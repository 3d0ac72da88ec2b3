"""Atomic output writing."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from policyml.core.outputs import atomic_path, write_csv, write_json


def test_atomic_path_failure_leaves_nothing(tmp_path):
    """Check that an error while writing leaves neither the file nor a temporary behind."""
    target = tmp_path / "out" / "table.csv"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("half a table")
            raise RuntimeError("killed")
    assert list(target.parent.iterdir()) == []


def test_atomic_path_replaces_whole_file_with_usual_mode(tmp_path):
    """Check that a write replaces the old file completely and gets the umask's mode, not 0600."""
    target = tmp_path / "table.csv"
    target.write_text("old,content\n1,2\n")
    write_csv(pd.DataFrame({"a": [1]}), target)
    assert target.read_text() == "a\n1\n"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask


def test_write_json_turns_nan_into_null(tmp_path):
    """Check that NaN and numpy scalars are written as valid JSON."""
    import numpy as np

    target = tmp_path / "summary.json"
    write_json({"se": float("nan"), "n": np.int64(3)}, target)
    assert target.read_text() == '{\n  "se": null,\n  "n": 3\n}\n'
