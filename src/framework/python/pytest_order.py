"""flaky-detector's test-order plugin for pytest (shipped inside the binary).

Enabled with ``-p flaky_detector_order`` (flaky-detector puts that in PYTEST_ADDOPTS and the
plugin's folder on PYTHONPATH). It needs nothing but pytest itself, and it does nothing
unless one of these variables is set:

- ``FLAKY_TEST_ORDER``: run exactly these tests, in this order (one per line, each a pytest
  node id or the ``classname::name`` of a JUnit report); every other test is deselected.
- ``FLAKY_SHUFFLE=1``: shuffle the collected tests with the seed in ``FLAKY_SEED``: modules
  in a random order, then the tests inside each module, so the same seed gives the same
  order again.

With ``FLAKY_ORDER_LOG=<file>`` the order used is written there, one node id per line.
"""

import os
import random
import re

import pytest


def junit_name(nodeid):
    """The name pytest's JUnit report gives a test: ``classname::name``."""
    path, bracket, params = nodeid.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return ".".join(names[:-1]) + "::" + names[-1]


def _seed():
    try:
        return int(os.environ.get("FLAKY_SEED", "0"))
    except ValueError:
        return 0


def pytest_report_header(config):
    if os.environ.get("FLAKY_TEST_ORDER") is not None:
        return "flaky-detector order: explicit (FLAKY_TEST_ORDER)"
    if os.environ.get("FLAKY_SHUFFLE") == "1":
        return "flaky-detector order: shuffled with seed %d" % _seed()
    return None


# Last, so that the order is ours even when another plugin (pytest-randomly) reorders too.
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    explicit = os.environ.get("FLAKY_TEST_ORDER")
    if explicit is not None:
        by_name = {}
        for item in items:
            by_name.setdefault(item.nodeid, item)
            by_name.setdefault(junit_name(item.nodeid), item)
        chosen = []
        for word in explicit.splitlines():
            item = by_name.get(word.strip())
            if item is not None and item not in chosen:
                chosen.append(item)
        deselected = [item for item in items if item not in chosen]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
        items[:] = chosen
    elif os.environ.get("FLAKY_SHUFFLE") == "1":
        rng = random.Random(_seed())
        modules = {}
        for item in items:
            modules.setdefault(item.nodeid.split("::")[0], []).append(item)
        keys = list(modules)
        rng.shuffle(keys)
        shuffled = []
        for key in keys:
            group = modules[key]
            rng.shuffle(group)
            shuffled.extend(group)
        items[:] = shuffled
    log = os.environ.get("FLAKY_ORDER_LOG")
    if log:
        with open(log, "w", encoding="utf-8") as out:
            out.writelines(item.nodeid + "\n" for item in items)


def pytest_sessionfinish(session, exitstatus):
    # Named tests of which none exist in this checkout (a base commit older than the test)
    # ran nothing because they were asked to, which is not pytest's "no tests collected".
    if os.environ.get("FLAKY_TEST_ORDER") is not None and exitstatus == 5:
        session.exitstatus = 0
