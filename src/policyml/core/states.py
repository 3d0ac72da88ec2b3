"""US states (plus DC and Puerto Rico): postal code, FIPS code and name.

PUMS files are published for the 50 states, the District of Columbia and Puerto Rico, one file per
state. Users may name a state by postal code (``"NM"``, any case) or FIPS code (``35`` or ``"35"``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError


@dataclass(frozen=True)
class State:
    postal: str
    fips: str
    name: str

    @property
    def lower(self) -> str:
        return self.postal.lower()


_TABLE = """
AL 01 Alabama|AK 02 Alaska|AZ 04 Arizona|AR 05 Arkansas|CA 06 California|CO 08 Colorado
CT 09 Connecticut|DE 10 Delaware|DC 11 District of Columbia|FL 12 Florida|GA 13 Georgia
HI 15 Hawaii|ID 16 Idaho|IL 17 Illinois|IN 18 Indiana|IA 19 Iowa|KS 20 Kansas|KY 21 Kentucky
LA 22 Louisiana|ME 23 Maine|MD 24 Maryland|MA 25 Massachusetts|MI 26 Michigan|MN 27 Minnesota
MS 28 Mississippi|MO 29 Missouri|MT 30 Montana|NE 31 Nebraska|NV 32 Nevada|NH 33 New Hampshire
NJ 34 New Jersey|NM 35 New Mexico|NY 36 New York|NC 37 North Carolina|ND 38 North Dakota|OH 39 Ohio
OK 40 Oklahoma|OR 41 Oregon|PA 42 Pennsylvania|RI 44 Rhode Island|SC 45 South Carolina
SD 46 South Dakota|TN 47 Tennessee|TX 48 Texas|UT 49 Utah|VT 50 Vermont|VA 51 Virginia
WA 53 Washington|WV 54 West Virginia|WI 55 Wisconsin|WY 56 Wyoming|PR 72 Puerto Rico
"""

STATES: tuple[State, ...] = tuple(
    State(entry[:2], entry[3:5], entry[6:])
    for entry in (e.strip() for e in _TABLE.replace("\n", "|").split("|"))
    if entry
)
_BY_KEY = {s.postal: s for s in STATES} | {s.fips: s for s in STATES}


def resolve_state(value: str | int) -> State:
    """Return the state named by a postal code or FIPS code, or raise a ConfigError naming it."""
    key = str(value).strip().upper()
    if key.isdigit():
        key = key.zfill(2)
    try:
        return _BY_KEY[key]
    except KeyError:
        raise ConfigError(
            f"unknown state {value!r}",
            "use a two-letter postal code (e.g. NM, VT, WY) or a two-digit FIPS code (e.g. 35) "
            "of one of the 50 states, DC or PR",
        ) from None
