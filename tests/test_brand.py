"""Brand matching: which posts are about the brand, and why."""

from __future__ import annotations

import pytest

from monitor.brand import BrandMatcher, BrandSettings

BRAND = BrandSettings(
    name="Acme",
    handles=["@acmehelp"],
    terms=["acme air", "acmeapp*", '"road runner"'],
    exclude=["acme anvil"],
)


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("Acme lost my parcel", True),
        ("ACME's app is down", True),
        ("#acme why", True),
        ("@acmehelp hello?", True),
        ("flew acme   air today", True),
        ("the acmeapplus subscription", True),
        ("saw the Road  Runner cartoon", True),
        ("acmeville is a town", False),
        ("nothing to see here", False),
        ("an ACME anvil fell on him", False),
        ("emailed acmehelpdesk", False),
    ],
)
def test_brand_terms_phrases_wildcards_handles_and_exclusions(text: str, matched: bool) -> None:
    assert BrandMatcher(BRAND).matches(text) is matched
    assert BrandMatcher(BRAND).match(text).matched is matched


def test_match_explains_itself() -> None:
    matcher = BrandMatcher(BRAND)
    assert matcher.match("acme air lost my bag").explain() == "matches 'Acme', 'acme air'"
    assert matcher.match("an acme anvil").explain() == "excluded by 'acme anvil'"
    assert "none of the brand" in matcher.match("hello").explain()
