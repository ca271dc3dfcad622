"""API tokens and roles (docs/security.md)."""
