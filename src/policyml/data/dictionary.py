"""The PUMS data dictionary: variable names, types and value labels for one survey year.

The Census Bureau publishes one CSV per year (``PUMS_Data_Dictionary_2018.csv``) with two kinds of
rows, first for the housing record and then, after a second ``RT`` row, for the person record::

    NAME,SCHL,C,2,"Educational attainment"
    VAL,SCHL,C,2,"bb","bb","N/A (less than 3 years old)"
    VAL,SCHL,C,2,"01","01","No schooling completed"

A ``VAL`` row whose low and high codes are blanks (``b``, ``bb``...) labels the structural
"not applicable" case: PUMS leaves the field empty because the question did not apply.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import DataError

RECORDS = ("housing", "person")


@dataclass(frozen=True)
class ValueRange:
    low: str
    high: str
    label: str

    @property
    def is_blank(self) -> bool:
        return self.low.strip("b") == "" and self.low != ""

    @property
    def is_single_code(self) -> bool:
        return self.low == self.high and not self.is_blank


@dataclass(frozen=True)
class Variable:
    name: str
    record: str
    kind: str  # "C" (character code) or "N" (number)
    length: int
    description: str
    values: tuple[ValueRange, ...] = field(default=(), repr=False)

    def labels(self) -> dict[int, str]:
        """Numeric code -> label for every single-code value (e.g. SEX: {1: 'Male', 2: 'Female'})."""
        return {
            int(v.low): v.label for v in self.values if v.is_single_code and v.low.lstrip("-").isdigit()
        }

    @property
    def not_applicable_label(self) -> str | None:
        """The label PUMS gives to a blank field (structural "not applicable"), if any."""
        return next((v.label for v in self.values if v.is_blank), None)


class DataDictionary:
    """Variables of one PUMS year, by record type and name."""

    def __init__(self, year: str | int, variables: dict[tuple[str, str], Variable], source: str):
        self.year = str(year)
        self.variables = variables
        self.source = source

    def __repr__(self) -> str:
        return f"DataDictionary(year={self.year}, variables={len(self.variables)}, source={self.source!r})"

    def has(self, name: str, record: str = "person") -> bool:
        return (record, name) in self.variables

    def variable(self, name: str, record: str = "person") -> Variable:
        try:
            return self.variables[(record, name)]
        except KeyError:
            raise DataError(
                f"the {self.year} PUMS data dictionary has no {record} variable {name!r}",
                "check the variable name against the dictionary for that year",
            ) from None

    def labels(self, name: str, record: str = "person") -> dict[int, str]:
        return self.variable(name, record).labels()

    @classmethod
    def read(cls, path: str | Path, year: str | int) -> "DataDictionary":
        raw = Path(path).read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
        return cls.parse(text, year, source=str(path))

    @classmethod
    def parse(cls, text: str, year: str | int, source: str = "<text>") -> "DataDictionary":
        names: dict[tuple[str, str], tuple[str, str, int, str]] = {}
        values: dict[tuple[str, str], list[ValueRange]] = {}
        section = -1
        for row in csv.reader(io.StringIO(text)):
            if not row or row[0] not in ("NAME", "VAL") or len(row) < 5:
                continue
            name = row[1].strip()
            if row[0] == "NAME":
                if name == "RT":
                    section += 1
                if section < 0 or section >= len(RECORDS):
                    break
                record = RECORDS[section]
                length = int(row[3]) if row[3].strip().isdigit() else 0
                names.setdefault((record, name), (row[2].strip(), name, length, row[4].strip()))
            elif section >= 0 and len(row) >= 7:
                values.setdefault((RECORDS[section], name), []).append(
                    ValueRange(row[4].strip(), row[5].strip(), row[6].strip())
                )
        if not names or section < 1:
            raise DataError(
                f"{source} is not a PUMS data dictionary (no housing and person sections found)",
                "use the CSV dictionary published with the PUMS files (PUMS_Data_Dictionary_<year>.csv)",
            )
        variables = {
            key: Variable(name, key[0], kind, length, description, tuple(values.get(key, ())))
            for key, (kind, name, length, description) in names.items()
        }
        return cls(year, variables, source)
