"""The embedded runtime: the whole pipeline in one process with no servers at all."""
