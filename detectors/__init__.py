"""Pure detectors: Article -> Signals. No I/O, no imports from services/ or ingest/."""
