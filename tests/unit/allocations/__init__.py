"""Unit tests of the allocations service."""
