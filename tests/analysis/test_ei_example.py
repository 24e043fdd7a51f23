"""Slow: the E/I example's ISI irregularity peaks near the critical branching."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "ei_criticality.py"


@pytest.mark.slow
def test_irregularity_peaks_near_criticality() -> None:
    spec = importlib.util.spec_from_file_location("ei_criticality", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    low, near, high = example.sweep([0.5, 0.9, 1.5], neurons=300, steps=5000)
    assert near["isi_cv"] > low["isi_cv"] and near["isi_cv"] > high["isi_cv"]
    assert abs(near["branching"] - 1.0) < abs(low["branching"] - 1.0)
