from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).with_name("fixtures")
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED / "tthc-national-portal-2026.jsonl.gz").exists():
        pytest.skip(f"real data not present at {SHARED} (../shared/data relative to the repo root)")
    return SHARED
