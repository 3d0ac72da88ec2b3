"""Tests of policyml.core.resources: the embedded data matches SHA256SUMS and corrupted copies are refused."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from policyml.core.errors import DataError
from policyml.core.resources import Mirror, resource_path

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
PUBLISHED = "published/acs1_2018_B19013_by_state.csv"


def listed_files() -> dict[str, str]:
    """SHA256SUMS parsed independently: relative path -> sha256."""
    sums = {}
    for line in (RESOURCES / "SHA256SUMS").read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*").removeprefix("./")] = digest
    return sums


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_mirror(tmp_path: Path, relpaths: list[str]) -> Mirror:
    """A strict mirror in tmp_path holding copies of embedded files and their SHA256SUMS lines."""
    sums = listed_files()
    lines = []
    for relpath in relpaths:
        (tmp_path / relpath).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(RESOURCES / relpath, tmp_path / relpath)
        lines.append(f"{sums[relpath]}  {relpath}\n")
    (tmp_path / "SHA256SUMS").write_text("".join(lines))
    return Mirror(tmp_path, strict=True)


# --------------------------------------------------------------------------------------------------
# The embedded data


def test_sha256sums_lists_the_embedded_data():
    """Check that SHA256SUMS lists the PUMS zips, the dictionary and the published tables."""
    names = set(listed_files())
    for relpath in [
        "pums/2018/1-Year/csv_pnm.zip", "pums/2018/1-Year/csv_pvt.zip", "pums/2018/1-Year/csv_pwy.zip",
        "dictionary/PUMS_Data_Dictionary_2018.csv", PUBLISHED,
    ]:
        assert relpath in names


@pytest.mark.parametrize("relpath", sorted(listed_files()))
def test_embedded_file_matches_sha256sums(relpath: str):
    """Check that each listed embedded file exists and its bytes match SHA256SUMS."""
    path = RESOURCES / relpath
    assert path.is_file()
    assert sha256(path) == listed_files()[relpath]


def test_every_embedded_data_file_is_listed():
    """Check that no data file under resources/ is missing from SHA256SUMS (strict mirror)."""
    unlisted = [
        str(p.relative_to(RESOURCES)) for p in RESOURCES.rglob("*")
        if p.is_file() and p.name not in ("SHA256SUMS", "PROVENANCE.md")
    ]
    assert sorted(set(unlisted) - set(listed_files())) == []


def test_resource_path_returns_verified_file(monkeypatch: pytest.MonkeyPatch):
    """Check that resource_path hands out the embedded file at the listed path."""
    monkeypatch.delenv("POLICYML_RESOURCES", raising=False)
    path = resource_path(PUBLISHED)
    assert path == RESOURCES / PUBLISHED
    assert sha256(path) == listed_files()[PUBLISHED]


def test_resource_path_missing_file_raises(monkeypatch: pytest.MonkeyPatch):
    """Check that asking for an absent embedded file raises a DataError naming it."""
    monkeypatch.delenv("POLICYML_RESOURCES", raising=False)
    with pytest.raises(DataError, match=r"embedded file .*published/acs1_2017_B19013_by_state\.csv is missing"):
        resource_path("published/acs1_2017_B19013_by_state.csv")


# --------------------------------------------------------------------------------------------------
# Mirrors


def test_mirror_copy_verifies(tmp_path: Path):
    """Check that an intact copy in a mirror is handed out."""
    mirror = copy_mirror(tmp_path, [PUBLISHED])
    assert mirror.find(PUBLISHED) == tmp_path / PUBLISHED


def test_mirror_absent_file_is_none(tmp_path: Path):
    """Check that a mirror returns None for a file it does not hold."""
    mirror = copy_mirror(tmp_path, [PUBLISHED])
    assert mirror.find("pums/2018/1-Year/csv_pnm.zip") is None


def test_mirror_changed_byte_raises(tmp_path: Path):
    """Check that a copy with one byte changed raises a DataError mentioning sha256."""
    mirror = copy_mirror(tmp_path, [PUBLISHED])
    path = tmp_path / PUBLISHED
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"does not match its sha256 in .*SHA256SUMS"):
        mirror.find(PUBLISHED)


def test_mirror_changed_zip_raises(tmp_path: Path):
    """Check that a PUMS zip with its last byte changed is refused by the mirror."""
    relpath = "pums/2018/1-Year/csv_pwy.zip"
    mirror = copy_mirror(tmp_path, [relpath])
    path = tmp_path / relpath
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="sha256"):
        mirror.find(relpath)


def test_strict_mirror_unlisted_file_raises(tmp_path: Path):
    """Check that a strict mirror refuses a file absent from its SHA256SUMS."""
    mirror = copy_mirror(tmp_path, [PUBLISHED])
    extra = tmp_path / "published" / "acs1_2018_B19083_by_state.csv"
    shutil.copyfile(RESOURCES / "published" / extra.name, extra)
    with pytest.raises(DataError, match=r"is not listed in .*SHA256SUMS"):
        mirror.find("published/acs1_2018_B19083_by_state.csv")


def test_lenient_mirror_unlisted_file_is_handed_out(tmp_path: Path):
    """Check that a non-strict mirror without SHA256SUMS hands out its files unchecked."""
    (tmp_path / "published").mkdir()
    shutil.copyfile(RESOURCES / PUBLISHED, tmp_path / PUBLISHED)
    assert Mirror(tmp_path).find(PUBLISHED) == tmp_path / PUBLISHED
