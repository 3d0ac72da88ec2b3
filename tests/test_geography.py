"""PUMA shapes and state outlines from the embedded data."""

from __future__ import annotations

import shutil

import pytest

from policyml.core.errors import DataError
from policyml.core.resources import Mirror, default_resources_dir, embedded
from policyml.core.states import resolve_state
from policyml.data.geography import puma_shapes, state_outline


@pytest.mark.parametrize(("state", "count"), [("NM", 18), ("VT", 4), ("WY", 5)])
def test_puma_shapes_cover_the_households_pumas(state, count):
    """Check that the embedded shapes have one polygon per PUMA, with 5-digit codes."""
    shapes, reason = puma_shapes(resolve_state(state), 2010, [embedded()])
    assert reason is None
    assert len(shapes) == count and shapes["puma"].str.len().eq(5).all()
    assert shapes["puma"].is_unique and shapes.geometry.is_valid.all()


def test_puma_shapes_match_nm_household_pumas(nm_households):
    """Check that every NM household's PUMA has a polygon and every polygon has households."""
    shapes, _ = puma_shapes(resolve_state("NM"), 2010, [embedded()])
    assert set(shapes["puma"]) == set(nm_households["puma"])


def test_puma_shapes_read_latin1_names():
    """Check that the 2013 .dbf (ISO-8859-1, no .cpg) gives 'Doña Ana', not mojibake."""
    shapes, _ = puma_shapes(resolve_state("NM"), 2010, [embedded()])
    assert shapes["puma_name"].str.contains("Doña Ana County").sum() == 2


def test_puma_shapes_missing_state_gives_reason():
    """Check that a state with no shapes offline gets None and a reason naming the state."""
    shapes, reason = puma_shapes(resolve_state("DE"), 2010, [embedded()])
    assert shapes is None and "Delaware" in reason and "state outline" in reason
    shapes, reason = puma_shapes(resolve_state("NM"), 2020, [embedded()])
    assert shapes is None and "2020 PUMA" in reason


def test_puma_shapes_corrupted_part_is_refused(tmp_path):
    """Check that a shapefile part that does not match SHA256SUMS is refused with a clear error."""
    copy = tmp_path / "resources"
    shutil.copytree(default_resources_dir() / "shapes" / "tl_2013_50_puma10", copy / "shapes" / "tl_2013_50_puma10")
    sums = (default_resources_dir() / "SHA256SUMS").read_text().splitlines()
    (copy / "SHA256SUMS").write_text("\n".join(line for line in sums if "tl_2013_50" in line) + "\n")
    dbf = copy / "shapes" / "tl_2013_50_puma10" / "tl_2013_50_puma10.dbf"
    dbf.write_bytes(dbf.read_bytes()[:-1] + b"X")
    with pytest.raises(DataError, match="does not match its sha256"):
        puma_shapes(resolve_state("VT"), 2010, [Mirror(copy, strict=True)])


def test_state_outline_is_the_state():
    """Check that the outline is the one requested state."""
    outline = state_outline(resolve_state("WY"))
    assert outline["NAME"].tolist() == ["Wyoming"]
