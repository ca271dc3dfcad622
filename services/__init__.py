"""Runtimes and adapters: embedded runner, Faust app, stores, indexer, alerter, API."""
