"""Complaint monitor: social media mentions in, private Slack alerts out."""

__version__ = "0.1.0"
