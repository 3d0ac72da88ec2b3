"""Tests of policyml.data.published (offline copies, and the Census API against a local HTTP server) and
of the comparison of our NM median household income with the published B19013."""

from __future__ import annotations

import csv
import json
import logging
import math
import socket
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from policyml.core.errors import ConfigError, DataError
from policyml.core.resources import Mirror
from policyml.core.states import resolve_state
from policyml.core.survey import Estimate
from policyml.data.published import (
    API_KEY_VARIABLE,
    PublishedEstimate,
    published_estimate,
)
from policyml.data.schema import check_period
from policyml.data.summary import compare_with_published, data_summary

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
OFFLINE_B19013 = RESOURCES / "published" / "acs1_2018_B19013_by_state.csv"
NM = resolve_state("NM")
P2018 = check_period(2018)
FAKE_KEY = "fake-census-key-0123456789abcdef"
DATA_PATH = "/data/2018/acs/acs1"
ROWS = [["B19013_001E", "B19013_001M", "state"], ["47169", "900", "35"]]


def offline_row(fips: str) -> dict[str, str]:
    """The embedded B19013 row of a state, read with the csv module (no policyml code)."""
    with open(OFFLINE_B19013, newline="") as handle:
        return next(row for row in csv.DictReader(handle) if row["state"] == fips)


@pytest.fixture
def mirrors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Mirror]:
    """The embedded data as the only mirror, read from the repository's resources/."""
    monkeypatch.delenv("POLICYML_RESOURCES", raising=False)
    return [Mirror(RESOURCES, strict=True)]


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_VARIABLE, raising=False)


# --------------------------------------------------------------------------------------------------
# A local Census Data API


class FakeCensusAPI:
    """A ThreadingHTTPServer on 127.0.0.1 answering like api.census.gov, logging every request.

    ``status`` other than 200 answers every request with that status and an error page that
    echoes the request line, key included (as some API error pages do).
    """

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.status = 200
        self.rows = ROWS
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def session(self) -> requests.Session:
        """A requests session that sends what the census client asks of api.census.gov here."""
        return RedirectingSession(f"http://127.0.0.1:{self.port}")

    def data_requests(self) -> list[dict[str, list[str]]]:
        return [query for path, query in self.requests if path == DATA_PATH]

    def reply(self, raw_path: str) -> tuple[int, bytes]:
        parts = urlsplit(raw_path)
        with self._lock:
            self.requests.append((parts.path, parse_qs(parts.query)))
        if self.status == 204:
            return 204, b""
        if self.status != 200:
            return self.status, f"There was an error while running your query: {raw_path}".encode()
        if parts.path.startswith(DATA_PATH + "/variables/"):
            field = parts.path.rsplit("/", 1)[-1].removesuffix(".json")
            return 200, json.dumps({"name": field, "predicateType": "int" if field.startswith("B19013") else "string"}).encode()
        if parts.path == DATA_PATH:
            return 200, json.dumps(self.rows).encode()
        return 404, b"unknown path"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                status, body = api.reply(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if status == 200 else "text/plain")
                if status != 204:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class RedirectingSession(requests.Session):
    """Rewrites https://api.census.gov to a local server (the census client takes a session)."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def request(self, method, url, *args, **kwargs):
        return super().request(method, url.replace("https://api.census.gov", self.base), *args, **kwargs)


@pytest.fixture
def local_network_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse name lookups of any host but this machine, so no test can reach the real API."""
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise socket.gaierror(socket.EAI_NONAME, f"tests only reach 127.0.0.1, not {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def census_api(monkeypatch: pytest.MonkeyPatch, local_network_only):
    """A running local Census API, with CENSUS_API_KEY set to a fake key."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv(API_KEY_VARIABLE, FAKE_KEY)
    api = FakeCensusAPI()
    api.start()
    yield api
    api.close()


@pytest.fixture
def api(census_api: FakeCensusAPI) -> FakeCensusAPI:
    return census_api


# --------------------------------------------------------------------------------------------------
# Offline copies


def test_published_estimate_offline_nm_2018(mirrors, no_key):
    """Check that the offline B19013 for NM 2018 is 47,169 with a 90% MOE of 900."""
    result = published_estimate("B19013", NM, P2018, mirrors, source="offline")
    assert (result.table, result.estimate, result.moe90) == ("B19013", 47_169.0, 900.0)
    assert result.se == pytest.approx(900 / 1.645)
    assert result.source == "offline copy published/acs1_2018_B19013_by_state.csv"
    assert result.note is None


@pytest.mark.parametrize("postal", ["NM", "VT", "WY"])
def test_published_estimate_offline_matches_csv(mirrors, no_key, postal):
    """Check that the offline figure of each embedded state equals its row of the CSV."""
    state = resolve_state(postal)
    row = offline_row(state.fips)
    result = published_estimate("B19013", state, P2018, mirrors)
    assert (result.estimate, result.moe90) == (float(row["B19013_001E"]), float(row["B19013_001M"]))


def test_published_estimate_without_copy_or_key_has_note(mirrors, no_key):
    """Check that a period with no offline copy and no key gives no estimate and a note naming the key."""
    result = published_estimate("B19013", NM, check_period(2019), mirrors)
    assert (result.estimate, result.moe90, result.se) == (None, None, None)
    assert result.source == "unavailable"
    assert "1-Year 2019" in result.note
    assert API_KEY_VARIABLE in result.note


def test_published_estimate_api_without_key_raises(mirrors, no_key):
    """Check that source=api without a key raises a ConfigError naming CENSUS_API_KEY."""
    with pytest.raises(ConfigError, match=rf"needs a Census API key in the environment variable {API_KEY_VARIABLE}"):
        published_estimate("B19013", NM, P2018, mirrors, source="api")


def test_published_estimate_blank_key_counts_as_none(mirrors, monkeypatch):
    """Check that a key of spaces is treated as no key."""
    monkeypatch.setenv(API_KEY_VARIABLE, "   ")
    with pytest.raises(ConfigError, match=API_KEY_VARIABLE):
        published_estimate("B19013", NM, P2018, mirrors, source="api")


# --------------------------------------------------------------------------------------------------
# The Census API (local server)


def test_published_estimate_api_value(api: FakeCensusAPI, mirrors):
    """Check that the API path returns the served value and names the Census Data API."""
    result = published_estimate("B19013", NM, P2018, mirrors, source="api", session=api.session())
    assert (result.estimate, result.moe90) == (47_169.0, 900.0)
    assert result.source == "Census Data API"


def test_published_estimate_api_request_carries_key(api: FakeCensusAPI, mirrors):
    """Check that the data request asks for B19013 of state 35 and carries the key parameter."""
    published_estimate("B19013", NM, P2018, mirrors, source="api", session=api.session())
    requests = api.data_requests()
    assert len(requests) == 1
    assert requests[0]["key"] == [FAKE_KEY]
    assert requests[0]["get"] == ["B19013_001E,B19013_001M"]
    assert requests[0]["for"] == ["state:35"]


def test_published_estimate_auto_prefers_api(api: FakeCensusAPI, mirrors):
    """Check that source=auto uses the API when a key is set and it answers."""
    result = published_estimate("B19013", NM, P2018, mirrors, source="auto", session=api.session())
    assert result.source == "Census Data API"
    assert len(api.data_requests()) == 1


def test_published_estimate_offline_never_calls_api(api: FakeCensusAPI, mirrors):
    """Check that source=offline makes no request even with a key set."""
    result = published_estimate("B19013", NM, P2018, mirrors, source="offline", session=api.session())
    assert result.source.startswith("offline copy")
    assert api.requests == []


def test_published_estimate_api_result_hides_key(api: FakeCensusAPI, mirrors):
    """Check that the key appears nowhere in the returned estimate or its dict."""
    result = published_estimate("B19013", NM, P2018, mirrors, source="api", session=api.session())
    assert FAKE_KEY not in repr(result)
    assert FAKE_KEY not in json.dumps(result.to_dict())


def test_published_estimate_auto_falls_back_on_server_error(api: FakeCensusAPI, mirrors, caplog):
    """Check that an API error under source=auto falls back to the offline copy with a warning."""
    api.status = 500
    with caplog.at_level(logging.WARNING, logger="policyml.data.published"):
        result = published_estimate("B19013", NM, P2018, mirrors, source="auto", session=api.session())
    assert len(api.data_requests()) >= 1
    assert result.source == "offline copy published/acs1_2018_B19013_by_state.csv"
    assert result.estimate == 47_169.0
    assert "falling back to the offline copy" in caplog.text
    assert FAKE_KEY not in caplog.text
    assert FAKE_KEY not in json.dumps(result.to_dict())


def test_published_estimate_api_server_error_hides_key(api: FakeCensusAPI, mirrors):
    """Check that an API error under source=api raises a DataError whose text omits the key."""
    api.status = 500
    with pytest.raises(DataError, match=r"the Census API did not return B19013 for New Mexico 2018") as caught:
        published_estimate("B19013", NM, P2018, mirrors, source="api", session=api.session())
    assert len(api.data_requests()) >= 1  # the server did answer, with the key echoed in its body
    assert FAKE_KEY not in str(caught.value)
    assert FAKE_KEY not in "".join(traceback.format_exception(caught.value))


def test_published_estimate_api_no_content_raises(api: FakeCensusAPI, mirrors):
    """Check that an API answer with no rows (HTTP 204) raises a DataError under source=api."""
    api.status = 204
    with pytest.raises(DataError, match=r"the Census API did not return B19013 for New Mexico 2018 \(the answer had no row\)"):
        published_estimate("B19013", NM, P2018, mirrors, source="api", session=api.session())


def test_published_estimate_auto_no_content_falls_back(api: FakeCensusAPI, mirrors):
    """Check that an API answer with no rows falls back to the offline copy under source=auto."""
    api.status = 204
    result = published_estimate("B19013", NM, P2018, mirrors, source="auto", session=api.session())
    assert result.source.startswith("offline copy")
    assert len(api.data_requests()) == 1


def test_published_estimate_auto_null_value_falls_back(api: FakeCensusAPI, mirrors):
    """Check that an API answering null for the estimate falls back to the offline copy."""
    api.rows = [ROWS[0], [None, None, "35"]]
    result = published_estimate("B19013", NM, P2018, mirrors, source="auto", session=api.session())
    assert result.source.startswith("offline copy")


def test_published_estimate_api_session_is_used(census_api: FakeCensusAPI, mirrors):
    """Check that the given session carries every API request (to the local server)."""
    result = published_estimate("B19013", NM, P2018, mirrors, source="api", session=census_api.session())
    assert result.estimate == 47_169.0
    assert census_api.data_requests()


# --------------------------------------------------------------------------------------------------
# Comparison with our estimate


def test_compare_with_published_nm_median_within_two_se(nm_persons, nm_households, mirrors, no_key):
    """Check that the NM PUMS median household income is within two SEs of the published 47,169."""
    row = offline_row("35")
    published_value, published_moe = float(row["B19013_001E"]), float(row["B19013_001M"])
    assert (published_value, published_moe) == (47_169.0, 900.0)
    published = published_estimate("B19013", NM, P2018, mirrors, source="offline")
    summary = data_summary(nm_persons, nm_households, published)
    ours = summary["median_household_income"]
    assert abs(ours["estimate"] - published_value) <= 2 * ours["se"]
    comparison = summary["comparison_with_published"]
    assert comparison["difference"] == pytest.approx(ours["estimate"] - published_value)
    assert comparison["difference_se"] == pytest.approx(math.hypot(ours["se"], published_moe / 1.645))
    assert comparison["within_two_se"] is True
    assert summary["published_median_household_income"]["estimate"] == published_value


def test_compare_with_published_unavailable_passes_note():
    """Check that a missing published figure gives no difference and keeps the note."""
    ours = Estimate(50_000.0, 1_000.0, 0.02, 100, True, None, replicates=None)
    published = PublishedEstimate("B19013", None, None, "unavailable", note="set CENSUS_API_KEY")
    comparison = compare_with_published(ours, published)
    assert comparison == {"difference": None, "difference_in_our_se": None, "difference_se": None,
                          "z": None, "within_two_se": None, "note": "set CENSUS_API_KEY"}


def test_compare_with_published_two_se_check_uses_our_se():
    """Check that within_two_se measures the difference in our SEs, while z also counts the published SE."""
    ours = Estimate(50_000.0, 100.0, 0.002, 1_000, True, None, replicates=None)
    published = PublishedEstimate("B19013", 49_500.0, 1_645.0, "test")  # published SE 1,000
    comparison = compare_with_published(ours, published)
    assert comparison["difference_in_our_se"] == pytest.approx(5.0)
    assert comparison["within_two_se"] is False
    assert comparison["z"] == pytest.approx(500 / math.hypot(100, 1000))
