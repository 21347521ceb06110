"""Loaded by every Python process the suite starts while the tier guard is on (tests/conftest.py puts this directory
first on PYTHONPATH): that process's subprocesses are checked like the test's own (tests/tiers.py)."""
import importlib.util
import os

_spec = importlib.util.spec_from_file_location(
    "_swarm_test_tiers", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tiers.py"))
if _spec is not None and _spec.loader is not None and os.environ.get("SWARM_TEST_TIER"):
    _tiers = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_tiers)
    _tiers.install_popen_guard()
