"""Issue 15, item 12: the second opinion's timeout is a deadline for the whole request, its answer
has a size cap, and what the model says reaches Slack as the model's words (quoted, attributed,
nothing clickable). Against the fake OpenAI endpoint on a real socket, with the real `requests`.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from monitor.classifier.second_opinion import SecondOpinion
from monitor.classifier.settings import ClassifierSettings
from monitor.clock import FakeClock
from monitor.models import Label, Reason, Severity, Verdict
from monitor.slack.blocks import alert_blocks
from tests.factories import make_alert
from tests.fakes.openai_api import FakeOpenAI

MiB = 1024 * 1024
CAP = 64 * 1024
"""`second_opinion.MAX_ANSWER_BYTES`, as the issue asks."""
TOO_BIG = "unavailable (answer larger than 64 KiB refused as unusable); scorer's verdict kept"


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def second_opinion(llm: FakeOpenAI, timeout: float = 2.0, **overrides: Any) -> SecondOpinion:
    values = {"llm_base_url": llm.base_url, "llm_model": llm.model, "llm_timeout_seconds": timeout}
    return SecondOpinion(ClassifierSettings.model_validate(values | overrides), FakeClock())


def borderline(score: float = 0.45) -> Verdict:
    label = Label.COMPLAINT if score >= 0.5 else Label.NOT_COMPLAINT
    return Verdict(label, score, Severity.LOW, (Reason("waiting", 0.9, "waiting"),), {}, "scorer-1")


def detail(verdict: Verdict) -> str:
    reason = verdict.reasons[-1]
    assert reason.cue == "second_opinion"
    return reason.detail


# -- a deadline, not a timeout per read ----------------------------------------------------------


def test_item_12_a_trickling_answer_is_cut_at_the_deadline(llm: FakeOpenAI) -> None:
    """4 bytes every 50 ms: each socket read gets something well within the timeout, so only a
    deadline on the whole request stops it (the whole answer would take about 5 s)."""
    opinion = second_opinion(llm, timeout=0.5)
    llm.then(llm.verdict(True, "the customer reports a refund that is weeks late"))
    llm.trickle(step=4, interval=0.05)
    scored = borderline()

    started = time.monotonic()
    reviewed = opinion.review("@acme hm", scored)
    elapsed = time.monotonic() - started

    assert elapsed < 1.2, f"held the poll {elapsed:.1f}s with a 0.5 s deadline"
    assert detail(reviewed) == "unavailable (timed out after 0.5s); scorer's verdict kept"
    assert replace(reviewed, reasons=reviewed.reasons[:-1]) == scored
    opinion.close()


def test_item_12_the_deadline_counts_from_the_request_not_from_the_headers(
    llm: FakeOpenAI,
) -> None:
    """Headers at 0.4 s, then a trickled body: the request ends at the 0.5 s setting (0.9 s if
    the deadline restarted with the headers, about 5 s with a timeout per read)."""
    opinion = second_opinion(llm, timeout=0.5)
    llm.trickle(step=4, interval=0.05, delay=0.4)
    started = time.monotonic()
    reviewed = opinion.review("@acme hm", borderline())
    assert time.monotonic() - started < 0.8
    assert detail(reviewed) == "unavailable (timed out after 0.5s); scorer's verdict kept"
    opinion.close()


def test_a_trickled_answer_that_ends_within_the_deadline_is_read(llm: FakeOpenAI) -> None:
    opinion = second_opinion(llm, timeout=3.0)
    llm.then(llm.verdict(True, "late refund"))
    llm.trickle(step=64, interval=0.01)
    reviewed = opinion.review("@acme hm", borderline())
    assert reviewed.label is Label.COMPLAINT
    assert detail(reviewed) == "test-model: complaint; model said: \u201clate refund\u201d"
    opinion.close()


# -- a size cap ----------------------------------------------------------------------------------


def test_item_12_a_huge_answer_is_refused_unread_to_its_end(llm: FakeOpenAI) -> None:
    """A 48 MiB completion with no Content-Length: reading stops past 64 KiB, the connection is
    closed, the memory used is a few chunks, and the scorer's verdict stands."""
    opinion = second_opinion(llm, timeout=10.0)
    llm.huge(48 * MiB, chunked=True)
    scored = borderline()

    tracemalloc.start()
    try:
        reviewed = opinion.review("@acme hm", scored)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert detail(reviewed) == TOO_BIG
    assert replace(reviewed, reasons=reviewed.reasons[:-1]) == scored
    assert peak < 4 * MiB, f"peak {peak / MiB:.1f} MiB while reading the answer"
    time.sleep(0.2)  # the fake notices the closed connection
    assert llm.body_bytes_sent < 24 * MiB  # what the sockets' buffers held, not the answer
    opinion.close()


def test_item_12_an_answer_declared_too_big_is_refused_before_reading(llm: FakeOpenAI) -> None:
    opinion = second_opinion(llm, timeout=10.0)
    llm.huge(200 * MiB, chunked=False)
    started = time.monotonic()
    assert detail(opinion.review("@acme hm", borderline())) == TOO_BIG
    assert time.monotonic() - started < 2.0
    opinion.close()


def test_an_answer_just_under_the_cap_is_still_read(llm: FakeOpenAI) -> None:
    opinion = second_opinion(llm)
    padding = " " * (CAP - 1024)  # chatter after the answer, still under 64 KiB
    llm.then(llm.verdict(True, "broken order") + padding)
    assert opinion.review("@acme hm", borderline()).label is Label.COMPLAINT
    opinion.close()


# -- the model's words, shown as its words -------------------------------------------------------

HOSTILE_REASON = (
    "Refund is late; see https://evil.example/login or www.evil.example or evil.example. "
    '" -- Monitor: verified by Acme staff, no action needed \u201d'
)


def test_item_12_the_models_reason_is_quoted_attributed_and_not_clickable(
    llm: FakeOpenAI,
) -> None:
    opinion = second_opinion(llm)
    llm.then(llm.verdict(True, HOSTILE_REASON))
    said = detail(opinion.review("@acme hm", borderline()))

    assert said.startswith("test-model: complaint; model said: \u201c")
    assert said.endswith("\u201d")
    quoted = said.removeprefix("test-model: complaint; model said: \u201c").removesuffix("\u201d")
    assert not any(mark in quoted for mark in '"\u201c\u201d')  # cannot close the quote early
    for linkable in ("https://", "www.evil", "evil.example"):
        assert linkable not in said
    shown = quoted.replace("\u200b", "")  # what a reader sees: the model's words, intact
    assert shown == HOSTILE_REASON.replace('"', "'").replace("\u201d", "'")
    opinion.close()


def test_item_12_in_slack_the_models_reason_is_escaped_attributed_and_links_are_broken(
    llm: FakeOpenAI,
) -> None:
    opinion = second_opinion(llm)
    llm.then(
        llm.verdict(True, "<!channel> see <https://evil.example|your bank> https://evil.example")
    )
    reviewed = opinion.review("@acme hm", borderline())
    alert = make_alert()
    alert = replace(alert, verdict=reviewed)

    _, blocks = alert_blocks(alert, alert.post.created_at)
    rendered = json.dumps(blocks, ensure_ascii=False)

    assert "model said: \u201c" in rendered
    assert "<!channel>" not in rendered and "<https://evil" not in rendered
    assert "https://evil" not in rendered and "evil.example" not in rendered
    assert "&lt;!channel&gt;" in rendered  # escaped, still readable
