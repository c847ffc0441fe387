"""Reporting: generic figures (`plots`) and tables and writers (`tables`).
They take results and never recompute them. Each case study's own tables
and figures are in its folder (`tfmia/studies/<name>/report.py`)."""
