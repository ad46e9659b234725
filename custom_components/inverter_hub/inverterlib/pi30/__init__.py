"""The PI30 family: Voltronic / Axpert / MPP Solar inverters and their rebrands."""
