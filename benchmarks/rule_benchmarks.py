"""Gather the workflow's per-rule Snakemake benchmark files into one table, sorted by seconds.

Every rule of the workflow has a ``benchmark:`` file, written by Snakemake when the job runs:

    results/{state}/{year}/benchmarks/<rule>.tsv                      (fetch, households, summary)
    results/{state}/{year}[/{unit}]/benchmarks/<rule>.tsv              (features, split)
    results/{state}/{year}[/{unit}]/benchmarks/<rule>/<task>.tsv       (evaluate, coefficients)
    results/{state}/{year}[/{unit}]/benchmarks/<rule>/<task>/<model>.tsv   (fit_model, tune_model)

with the columns s, h:m:s, max_rss, max_vms, max_uss, max_pss, io_in, io_out, mean_load, cpu_time
(one line per run; several with ``benchmark: repeat(...)``, whose median is taken here).

    .venv/bin/python benchmarks/rule_benchmarks.py results/NM/2018
    .venv/bin/python benchmarks/rule_benchmarks.py results --csv benchmarks/results/rules.csv

Standard library only.
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
import sys
from pathlib import Path

COLUMNS = ("rule", "state", "year", "unit", "task", "model", "runs", "seconds", "cpu_s", "max_rss_MB")
YEAR = re.compile(r"^\d{4}$")


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):  # "NA" when Snakemake could not measure
        return None


def read_benchmark(path: Path) -> dict | None:
    """One row for one benchmark file: where it is (rule, state, ...) and its median figures."""
    parts = path.parts
    if "benchmarks" not in parts:
        return None
    at = len(parts) - 1 - parts[::-1].index("benchmarks")
    before, after = parts[:at], [*parts[at + 1:-1], path.stem]
    years = [i for i, p in enumerate(before) if YEAR.match(p)]
    state = before[years[-1] - 1] if years and years[-1] > 0 else ""
    year = before[years[-1]] if years else ""
    unit = "/".join(before[years[-1] + 1:]) if years else ""
    with open(path, newline="") as handle:
        lines = list(csv.DictReader(handle, delimiter="\t"))
    if not lines:
        return None

    def median(column: str) -> float | None:
        values = [v for v in (_number(line.get(column)) for line in lines) if v is not None]
        return statistics.median(values) if values else None

    return {
        "rule": after[0],
        "state": state,
        "year": year,
        "unit": unit,
        "task": after[1] if len(after) > 1 else "",
        "model": "/".join(after[2:]),
        "runs": len(lines),
        "seconds": median("s"),
        "cpu_s": median("cpu_time"),
        "max_rss_MB": median("max_rss"),
    }


def gather(folders: list[Path]) -> list[dict]:
    rows = []
    for folder in folders:
        for path in sorted(folder.rglob("*.tsv")):
            if "benchmarks" in path.parts:
                row = read_benchmark(path)
                if row is not None:
                    rows.append(row)
    return sorted(rows, key=lambda r: -(r["seconds"] or 0.0))


def _cell(value) -> str:
    if value is None:
        return "NA"
    if isinstance(value, float):
        return f"{value:.1f}" if value >= 10 else f"{value:.2f}"
    return str(value)


def format_table(rows: list[dict]) -> str:
    cells = [[_cell(row[c]) for c in COLUMNS] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(COLUMNS)]
    numeric = {"runs", "seconds", "cpu_s", "max_rss_MB"}

    def line(values):
        return "  ".join(v.rjust(w) if c in numeric else v.ljust(w) for c, v, w in zip(COLUMNS, values, widths))

    return "\n".join([line(COLUMNS), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[Path("results")],
                        help="results folders to search for benchmarks/*.tsv (default: results)")
    parser.add_argument("--csv", type=Path, help="also write the table as CSV here")
    args = parser.parse_args(argv)
    missing = [str(f) for f in args.folders if not f.is_dir()]
    if missing:
        print(f"rule_benchmarks: no such folder: {', '.join(missing)}", file=sys.stderr)
        return 1
    rows = gather(args.folders)
    if not rows:
        print(f"rule_benchmarks: no benchmark files under {', '.join(map(str, args.folders))}", file=sys.stderr)
        return 1
    print(format_table(rows))
    total = sum(r["seconds"] or 0.0 for r in rows)
    peak = max((r["max_rss_MB"] or 0.0) for r in rows)
    print(f"{len(rows)} benchmark files; {total:.1f} s in all (summed, as if run one after another); "
          f"largest max_rss {peak:.0f} MB")
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        with open(args.csv, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        print(f"CSV: {args.csv}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # e.g. piped into head
        sys.exit(0)
