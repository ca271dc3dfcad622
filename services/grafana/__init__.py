"""Grafana as a deployment target (dashboards deploy)."""
