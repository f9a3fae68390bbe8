"""Test helpers shared across test modules (servers the tests start and stop)."""
