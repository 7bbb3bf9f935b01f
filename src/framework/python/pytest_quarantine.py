"""flaky-detector's quarantine plugin for pytest (shipped inside the binary).

Enabled with ``-p flaky_detector_quarantine`` (``flaky-detector quarantine --apply-args
pytest`` prints the variables that put it on PYTHONPATH and in PYTEST_ADDOPTS). It needs
nothing but pytest itself. ``FLAKY_QUARANTINE_FILE`` names a file with one test per line
(a pytest node id, or the ``classname::name`` of pytest's JUnit report, which is how
flaky-detector's history names them); each such test still runs, marked
``xfail(strict=False)``: its failure is reported as xfailed and does not fail the session,
its pass as xpassed.
"""

import os
import re

import pytest


def junit_name(nodeid):
    """The name pytest's JUnit report gives a test: ``classname::name``."""
    path, bracket, params = nodeid.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return ".".join(names[:-1]) + "::" + names[-1]


def _quarantined():
    path = os.environ.get("FLAKY_QUARANTINE_FILE")
    if not path:
        return set()
    with open(path, encoding="utf-8") as listed:
        return {line.strip() for line in listed if line.strip()}


def pytest_report_header(config):
    count = len(_quarantined())
    if count:
        return "flaky-detector quarantine: %d test(s) may fail without failing the run" % count
    return None


def pytest_collection_modifyitems(session, config, items):
    quarantined = _quarantined()
    if not quarantined:
        return
    for item in items:
        if item.nodeid in quarantined or junit_name(item.nodeid) in quarantined:
            item.add_marker(
                pytest.mark.xfail(
                    strict=False,
                    reason="quarantined by flaky-detector (.flaky-detector/quarantine.yml)",
                )
            )
