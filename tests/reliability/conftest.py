import os

import pytest


def pytest_collection_modifyitems(config, items):
    """Tests marked slow (the long forms) run only with RUN_SLOW=1."""
    if os.environ.get("RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with RUN_SLOW=1")
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(skip)
