"""Signed releases of the unit software and their staged rollout (docs/updates.md)."""
