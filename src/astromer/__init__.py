"""ASTROMER reproduction library (package root; the lead owns its contents)."""
