"""The HTTP API and the built-in live page of the embedded runtime."""
