"""Known-claim databases: building the shipped index, operators' imports, run-time reload."""
