"""Offices: per-office settings (offices.yml), opening hours and service days."""
