"""Ingest service: HTTP and topic intake, normalization, dead letters."""
