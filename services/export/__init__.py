"""Exports for other tools: STIX 2.1 bundles, labelled JSONL from triage."""
