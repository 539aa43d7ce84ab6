"""Complaint classification: `Classifier` turns a post's text into a `Verdict` with reasons."""

from monitor.classifier.scorer import Classifier

__all__ = ["Classifier"]
