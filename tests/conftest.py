"""Shared pytest configuration: says which tokgeo is under test."""

from __future__ import annotations

import os

import pytest

import tokgeo


def pytest_report_header(config: pytest.Config) -> str:
    return f"tokgeo {tokgeo.__version__} from {os.path.dirname(tokgeo.__file__)}"


def require_all() -> bool:
    """True in CI (TOKGEO_REQUIRE_ALL_TESTS=1): a missing tool is a failure, not a skip."""
    return os.environ.get("TOKGEO_REQUIRE_ALL_TESTS") == "1"


@pytest.fixture
def python_sigint_handler():  # type: ignore[no-untyped-def]
    """Python's own SIGINT handler (raise KeyboardInterrupt) for the test, whatever the
    process inherited.  A process started as a background job of a non-interactive shell
    (``cmd &`` in a script, as a detached CI run is) inherits SIGINT ignored, and Python
    then installs no handler: a SIGINT sent by the test would be dropped by the kernel."""
    import signal

    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
