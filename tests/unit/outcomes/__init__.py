"""Unit tests of the outcomes service."""
