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
