"""Running package functions from Snakemake scripts: logging, and errors as one clear line."""

from __future__ import annotations

import logging
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

from threadpoolctl import threadpool_limits

from .errors import PolicymlError, one_line

log = logging.getLogger("policyml")


def setup_logging(log_file: str | Path | None, console_level: int = logging.WARNING) -> None:
    """Everything at INFO to the rule's log file; warnings and errors also to the console."""
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.INFO)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file, mode="w", encoding="utf-8")
        file_handler.setFormatter(formatter)
        root.addHandler(file_handler)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(console_level)
    console.setFormatter(logging.Formatter("policyml: %(levelname)s: %(message)s"))
    root.addHandler(console)
    logging.captureWarnings(True)


def script_main(snakemake, step: Callable[[object], None]) -> None:
    """Run ``step(snakemake)`` inside a Snakemake ``script:``; exit 1 with one line on user errors
    (including outputs that cannot be written: policyml.core.errors.OutputError), 2 on bugs."""
    setup_logging(snakemake.log[0] if snakemake.log else None)
    label = f"{snakemake.rule} {dict(snakemake.wildcards)}"
    started = time.perf_counter()
    log.info("start %s", label)
    try:
        # BLAS/OpenMP pools get the threads the rule was given, so jobs the scheduler packs onto
        # one machine (or one SLURM allocation) do not oversubscribe it
        with threadpool_limits(limits=max(1, int(getattr(snakemake, "threads", 1) or 1))):
            step(snakemake)
    except PolicymlError as error:
        log.error(one_line(error).removeprefix("policyml: error: "))
        logging.shutdown()
        sys.exit(1)
    except Exception as error:
        log_file = snakemake.log[0] if snakemake.log else None
        log.error("%s failed with an unexpected %s: %s (a bug: please report it with %s)",
                  label, type(error).__name__, error, log_file or "the traceback below")
        if log_file:  # the traceback goes to the log, not the console
            with open(log_file, "a", encoding="utf-8") as handle:
                handle.write(traceback.format_exc())
        else:
            traceback.print_exc()
        logging.shutdown()
        sys.exit(2)
    log.info("done %s in %.1f s", label, time.perf_counter() - started)
