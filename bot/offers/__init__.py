"""Freed slots offered to the people on a waiting list (docs/architecture.md, "Freed slots")."""
