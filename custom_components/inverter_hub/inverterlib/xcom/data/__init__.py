"""Studer's published object tables, one module per device family (generated)."""
