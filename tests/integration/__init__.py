"""Tests against real stores (SQLite, PostgreSQL), servers in this process, one
real process (booking sandbox, simulator, action server) or the trained model."""
