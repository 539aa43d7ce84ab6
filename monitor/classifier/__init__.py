"""Complaint classification: `Classifier` turns a post's text into a `Verdict` with reasons.

`scorer.py` is the rule scorer (VADER plus complaint cues); `Classifier` adds the model learned
from the team's feedback (`model.py`, `training.py`); `second_opinion.py` is the optional LLM.
"""

from typing import Protocol

from monitor.classifier.scorer import Classifier
from monitor.models import Verdict


class ClassifierLike(Protocol):
    """What `eval` and `replay` need: the call the pipeline makes, whatever sits behind it."""

    def classify(
        self,
        text: str,
        *,
        language: str | None = None,
        followers: int | None = None,
        vip: bool = False,
        rating: int | None = None,
    ) -> Verdict: ...


__all__ = ["Classifier", "ClassifierLike"]
