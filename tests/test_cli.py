"""The Snakemake script wrapper: user errors and bugs both end in one console line."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from policyml.core.cli import script_main
from policyml.core.errors import DataError


@pytest.fixture(autouse=True)
def restore_root_logger():
    """script_main replaces the root logger's handlers (it owns the process in Snakemake); undo it."""
    import logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


def fake_snakemake(tmp_path):
    return SimpleNamespace(log=[str(tmp_path / "logs" / "step.log")], rule="fit_model", wildcards={"state": "NM"})


@pytest.mark.parametrize(
    ("error", "code", "console"),
    [
        (DataError("the zip is truncated", "delete it and rerun"), 1,
         "policyml: ERROR: the zip is truncated (fix: delete it and rerun)"),
        (KeyError("WGTP"), 2, "policyml: ERROR: fit_model {'state': 'NM'} failed with an unexpected KeyError: 'WGTP'"),
    ],
)
def test_script_main_prints_one_line_and_logs_details(tmp_path, capsys, error, code, console):
    """Check the exit code, a single console line, and the traceback of a bug kept in the log only."""
    def step(_):
        raise error

    with pytest.raises(SystemExit) as exit_info:
        script_main(fake_snakemake(tmp_path), step)
    assert exit_info.value.code == code
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(console)
    log_text = (tmp_path / "logs" / "step.log").read_text()
    assert ("Traceback" in log_text) == (code == 2)


@pytest.mark.parametrize("threads", [1, 2])
def test_script_main_limits_blas_threads_to_the_rule_threads(tmp_path, threads):
    """Check that the step runs with BLAS/OpenMP pools capped at the threads Snakemake gave the job."""
    import numpy as np  # noqa: F401  (loads the BLAS whose pool is limited)
    from threadpoolctl import threadpool_info

    seen = {}

    def step(_):
        seen["threads"] = {pool["num_threads"] for pool in threadpool_info()}

    smk = fake_snakemake(tmp_path)
    smk.threads = threads
    script_main(smk, step)
    assert seen["threads"] and max(seen["threads"]) <= threads
