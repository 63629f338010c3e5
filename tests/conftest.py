"""Shared test settings: Hypothesis profiles without deadlines (signing time varies by machine).

Select one with HYPOTHESIS_PROFILE=ci|dev (default dev).
"""

import os

import pytest
from hypothesis import settings

settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


# --- two workers (pytest-xdist, `-n 2 --dist loadgroup` in pyproject) ------------------------
# Tests that start nodes as OS processes, network namespaces or the stock relay share one
# worker and run one after another, as before: they would otherwise race for namespaces,
# loopback discovery and the CPU their timeouts assume. Everything else (pure core, stores,
# the UI under Pilot, the CLI) runs on the other worker meanwhile.
SERIAL_DIRS = ("network", "net")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.relative_to(config.rootpath).parts
        if (item.get_closest_marker("slow") is not None
                or (len(parts) > 1 and parts[0] == "tests" and parts[1] in SERIAL_DIRS)):
            item.add_marker(pytest.mark.xdist_group("nodes"))
