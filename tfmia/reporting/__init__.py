"""Reporting: generic figures (`plots`) and tables and writers (`tables`).
They take results and never recompute them."""
