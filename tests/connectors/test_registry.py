"""The registry: every connector module listed, an unavailable one with the pip extra to install."""

from __future__ import annotations

import sys

import pytest

from connectors import build_registry, declared_requires, registry
from connectors.app_store import AppStoreConnector
from connectors.bluesky import BlueskyConnector
from connectors.feeds import FeedConnector
from connectors.google_play import GooglePlayConnector
from connectors.hackernews import HackerNewsConnector
from connectors.jsonl import JsonlConnector
from connectors.mastodon import MastodonConnector
from connectors.reddit import RedditConnector
from connectors.x import XConnector


def test_the_registry_finds_every_connector_with_its_requires() -> None:
    entries = registry()
    assert {kind: entry.connector for kind, entry in entries.items()} == {
        "jsonl": JsonlConnector,
        "reddit": RedditConnector,
        "x": XConnector,
        "feed": FeedConnector,  # module feeds.py: listed by its type
        "hackernews": HackerNewsConnector,
        "bluesky": BlueskyConnector,
        "mastodon": MastodonConnector,
        "app_store": AppStoreConnector,
        "google_play": GooglePlayConnector,
    }
    assert entries["x"].requires == {"tweepy": "x"}
    assert entries["reddit"].requires == {"praw": "reddit"}
    assert entries["bluesky"].requires == {"atproto": "bluesky"}
    assert entries["mastodon"].requires == {"mastodon": "mastodon", "bs4": "mastodon"}


def test_requires_is_read_from_the_source_as_the_class_declares_it() -> None:
    assert declared_requires("connectors.x") == dict(XConnector.requires)
    assert declared_requires("connectors.reddit") == dict(RedditConnector.requires)
    assert declared_requires("connectors.jsonl") == {}


@pytest.mark.parametrize(
    ("library", "kind", "extra"),
    [
        ("tweepy", "x", "x"),
        ("praw", "reddit", "reddit"),
        ("feedparser", "feed", "feeds"),
        ("jwt", "app_store", "app_store"),
        ("googleapiclient", "google_play", "google_play"),
    ],
)
def test_a_missing_library_lists_its_connector_unavailable_with_the_pip_command(
    monkeypatch: pytest.MonkeyPatch, library: str, kind: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, library, None)  # `import tweepy` now fails

    entries = build_registry()

    entry = entries[kind]
    assert entry.connector is None
    assert entry.unavailable_reason == (
        f"needs {library}: pip install 'complaint-monitor[{extra}]'"
    )
    assert entries["jsonl"].connector is JsonlConnector  # the others are unaffected
