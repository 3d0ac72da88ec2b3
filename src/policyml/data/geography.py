"""PUMA boundaries and state outlines from the mirrors (offline), sha256-checked when loaded.

Shapefiles are looked up as ``shapes/tl_<year>_<fips>_puma10/`` (2010 PUMAs, valid for 2012-2021
PUMS; the embedded NM and VT files are TIGER/Line 2013, WY 2019). Every component file listed in
a mirror's SHA256SUMS is verified before reading. The 2013 .dbf files are ISO-8859-1 with no .cpg
("Doña Ana" only reads right that way). A state-year without shapes gets ``None`` and a reason, so
the report can fall back to the state outline.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd

from ..core.errors import DataError
from ..core.resources import Mirror, resource_path
from ..core.states import State

log = logging.getLogger(__name__)

SHAPE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
PUMA_FOLDERS = {2010: ("tl_2019_{fips}_puma10", "tl_2013_{fips}_puma10")}
STATE_OUTLINES = "shapes/cb_2018_us_state_20m/cb_2018_us_state_20m"


def _verified_shapefile(mirror: Mirror, stem: str) -> Path | None:
    """The .shp of ``stem`` with all its parts verified, or None when the mirror lacks it."""
    shp = mirror.find(stem + ".shp")
    if shp is None:
        return None
    for suffix in SHAPE_PARTS[1:]:
        mirror.find(stem + suffix)  # raises when a listed part is corrupted
    return shp


def _read(shp: Path) -> gpd.GeoDataFrame:
    encoding = None if shp.with_suffix(".cpg").exists() else "ISO-8859-1"
    try:
        return gpd.read_file(shp, encoding=encoding) if encoding else gpd.read_file(shp)
    except Exception as error:
        raise DataError(f"cannot read the shapefile {shp}: {error}", "restore the file from its source") from error


def puma_shapes(state: State, vintage: int, mirrors: list[Mirror]) -> tuple[gpd.GeoDataFrame | None, str | None]:
    """PUMA polygons with columns ``puma`` (5-digit code), ``puma_name`` and geometry.

    Returns ``(None, reason)`` when no mirror holds the state's shapes for that PUMA vintage.
    """
    for folder in PUMA_FOLDERS.get(vintage, ()):
        name = folder.format(fips=state.fips)
        for mirror in mirrors:
            shp = _verified_shapefile(mirror, f"shapes/{name}/{name}")
            if shp is None:
                continue
            frame = _read(shp)
            code = next(c for c in frame.columns if c.startswith("PUMACE"))
            label = next(c for c in frame.columns if c.startswith("NAMELSAD"))
            log.info("PUMA shapes for %s from %s", state.postal, shp)
            return (
                gpd.GeoDataFrame(
                    {"puma": frame[code].str.zfill(5), "puma_name": frame[label]}, geometry=frame.geometry, crs=frame.crs
                ).sort_values("puma", ignore_index=True),
                None,
            )
    return None, (
        f"no {vintage} PUMA boundaries for {state.name} are available offline; "
        "the maps show the state outline instead"
    )


def state_outline(state: State) -> gpd.GeoDataFrame:
    """The state's outline (Census cartographic boundary file, 1:20m), from the embedded data."""
    stem = STATE_OUTLINES
    shp = resource_path(stem + ".shp")
    for suffix in SHAPE_PARTS[1:]:
        resource_path(stem + suffix)
    states = _read(shp)
    outline = states.loc[states["STATEFP"] == state.fips, ["STUSPS", "NAME", "geometry"]]
    if outline.empty:
        raise DataError(f"the embedded state outlines have no {state.name}", f"restore {stem}.shp")
    return outline.reset_index(drop=True)
