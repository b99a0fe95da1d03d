"""Scoring of a run against the simulator ground truth."""
