"""Issue 17, item 4: a post whose platform gives no language is routed as "language not scored"
when it is clearly in another language, and English, however short or slangy, is never taken
for another language."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.jsonl import JsonlConnector, JsonlSettings
from monitor.brand import BrandSettings
from monitor.classifier import Classifier
from monitor.classifier.language import detect
from monitor.classifier.settings import ClassifierSettings
from monitor.clock import FakeClock
from monitor.models import Label
from monitor.pipeline import Pipeline
from monitor.storage import Database, Storage
from tests.classifier.language_texts import ENGLISH, FOREIGN, TOO_SHORT

BRAND = BrandSettings(name="Acme", handles=["acme"])
GERMAN_COMPLAINT = (
    "@acme Meine Bestellung ist seit zwei Wochen nicht angekommen und keiner antwortet mir."
)
ENGLISH_COMPLAINT = "@acme you charged my card twice and support hasn't answered in 4 days"


@pytest.mark.parametrize(("language", "text"), FOREIGN, ids=[t[:24] for _, t in FOREIGN])
def test_a_plain_sentence_is_given_its_language(language: str, text: str) -> None:
    assert detect(text) == language


@pytest.mark.parametrize("text", ENGLISH, ids=[t[:24] for t in ENGLISH])
def test_english_is_never_taken_for_another_language(text: str) -> None:
    assert detect(text) in ("en", None)


@pytest.mark.parametrize("text", TOO_SHORT, ids=[t[:24] for t in TOO_SHORT])
def test_too_little_text_gives_no_language(text: str) -> None:
    """Emoji, links and handles say nothing of a language: the post is read as before."""
    assert detect(text) is None


def test_handles_and_links_do_not_make_a_language() -> None:
    """A German handle and a German shop's link around an English sentence: English or nothing."""
    text = "@MüllerMilchGmbH https://www.müller-shop.de/bestellung/ my order never came, help"
    assert detect(text) in ("en", None)


def test_a_german_complaint_without_a_language_is_routed_as_not_scored(
    database_url: str, tmp_path: Path
) -> None:
    """A JSONL line with no "lang", through the real connector, pipeline, classifier and
    database: the German complaint is not scored in English (which would let it through) but
    alerted as "language not scored", with the detected language stored; the English one is
    scored as before."""
    database = Database(database_url)
    database.upgrade()
    try:
        storage = Storage(database)
        clock = FakeClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
        feed = tmp_path / "feed.jsonl"
        lines = [
            {"id": "1", "author": "dana", "text": GERMAN_COMPLAINT},
            {"id": "2", "author": "erin", "text": ENGLISH_COMPLAINT},
        ]
        feed.write_text("".join(json.dumps({"platform": "x", **x}) + "\n" for x in lines))
        connector = JsonlConnector(
            JsonlSettings(type="jsonl", name="feed", path=feed), BRAND, clock
        )
        classifier = Classifier(ClassifierSettings(), BRAND)
        pipeline = Pipeline(BRAND, storage.posts, classifier, clock)

        report = pipeline.poll(connector)

        assert (report.stored, report.alerts) == (2, 2)
        alerts = storage.outbox.claim_due(clock.now() + timedelta(days=1), timedelta(minutes=2))
        by_id = {alert.post.external_id: alert for alert in alerts}
        assert by_id["1"].verdict.label is Label.UNSUPPORTED_LANGUAGE
        assert by_id["1"].post.language == "de"
        assert by_id["2"].verdict.label is Label.COMPLAINT
        assert by_id["2"].post.language == "en"
        assert classifier.classify(GERMAN_COMPLAINT).label is Label.NOT_COMPLAINT, (
            "scored in English, the German complaint would have been let through"
        )
    finally:
        database.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@acme you charged my card twice, what is going on", "en"),
        ("Der Kundenservice ist einfach the worst, seit Tagen keine Antwort auf meine Mail", "de"),
        ("Mi pedido no ha llegado y nadie contesta, this is ridiculo de verdad", "es"),
    ],
)
def test_plain_english_is_told_at_a_glance_and_one_english_word_does_not_make_english(
    text: str, expected: str
) -> None:
    """Two of `ENGLISH_MARKERS` in plain ASCII skip the model; a foreign sentence that borrows
    an English word or two still goes to the model and keeps its language."""
    assert detect(text) == expected
