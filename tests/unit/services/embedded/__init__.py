"""Tests for services/."""
