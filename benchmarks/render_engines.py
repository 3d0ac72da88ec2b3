"""Render time of the report with Quarto against the fallback engine (Jupyter + pandoc), side by side.

Renders one finished state-year's report with each engine in turn (quarto, jupyter, quarto, ...),
each render a fresh ``python -m policyml.report.render`` process as the ``render_report`` rule runs it,
and prints every run's wall and CPU seconds (the process tree: Quarto, deno, pandoc and the
kernel included), the medians and the pair-by-pair ratio quarto / jupyter. Nothing is asserted.

    .venv/bin/python benchmarks/render_engines.py results/NM/2018 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def render_once(results: Path, engine: str, output: Path) -> tuple[float, float]:
    """Wall and CPU (user + system of the children) seconds of one render."""
    state, year = results.parts[-2], results.parts[-1]
    command = [sys.executable, "-m", "policyml.report.render", str(REPO / "report" / "report.qmd"),
               "-o", str(output), "-P", f"state={state}", "-P", f"year={year}",
               "-P", f"results={results}", "--engine", engine]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        sys.exit(f"{engine} render failed:\n{completed.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a finished results folder, e.g. results/NM/2018")
    parser.add_argument("--repeats", type=int, default=3, help="renders per engine (default 3)")
    args = parser.parse_args()
    from policyml.report.render import quarto_binary, quarto_version

    quarto = quarto_binary()
    if quarto is None:
        sys.exit("no Quarto found: run tools/install-quarto.sh or see the README's Quarto section")
    print(f"Quarto {quarto_version(quarto)} ({quarto}) against the fallback; {os.cpu_count()} cores",
          file=sys.stderr)
    times: dict[str, list[tuple[float, float]]] = {"quarto": [], "jupyter": []}
    with tempfile.TemporaryDirectory() as scratch:
        for run in range(args.repeats):
            for engine in times:
                wall, cpu = render_once(args.results, engine, Path(scratch) / f"{engine}.html")
                times[engine].append((wall, cpu))
                print(f"run {run + 1} {engine:8s} wall {wall:6.1f} s  cpu {cpu:6.1f} s",
                      file=sys.stderr)
    print("| engine | wall s (median, min-max) | CPU s (median) |")
    print("|---|---|---|")
    for engine, runs in times.items():
        walls = [w for w, _ in runs]
        print(f"| {engine} | {statistics.median(walls):.1f} ({min(walls):.1f}-{max(walls):.1f}) | "
              f"{statistics.median(c for _, c in runs):.1f} |")
    ratios = [q[0] / j[0] for q, j in zip(times["quarto"], times["jupyter"])]
    print(f"\nwall ratio quarto / jupyter, pair by pair: median {statistics.median(ratios):.2f} "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f})")


if __name__ == "__main__":
    main()
