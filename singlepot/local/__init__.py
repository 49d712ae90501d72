"""Launchers for the real local parts: embedded PostgreSQL 18 and the Tansu Kafka broker."""
