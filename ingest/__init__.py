"""Feeds -> Article: fetch, parse, normalise, dedup, publish (see docs/ingest.md)."""
