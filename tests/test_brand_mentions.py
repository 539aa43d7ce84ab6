"""Issue 15, item 14: a post addressed to the brand's handle is kept whatever `exclude` says."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.brand import BrandMatcher
from monitor.cli import main
from monitor.config import load_config

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "monitor.example.toml"


@pytest.fixture(scope="module")
def matcher() -> BrandMatcher:
    return BrandMatcher(load_config(EXAMPLE, env={}).brand)


@pytest.mark.parametrize(
    "text",
    [
        "@acmehelp my acme anvil order never arrived",
        "my ACME ANVIL order never arrived @AcmeHelp",
        "@acme wile e coyote would have better support than you",
    ],
)
def test_item_14_a_direct_mention_is_kept_despite_an_exclusion(
    matcher: BrandMatcher, text: str
) -> None:
    assert matcher.matches(text)
    result = matcher.match(text)
    assert result.matched
    assert result.excluded_by is None
    assert "addressed to the brand" in result.explain()


@pytest.mark.parametrize(
    "text",
    [
        "my acme anvil order never arrived",  # a term match only: the exclusion applies
        "acmehelp acme anvil",  # the handle without its @ is a term, not an address
        "mail@acmehelp acme anvil",  # part of an e-mail address, not a mention
    ],
)
def test_item_14_exclude_still_applies_to_term_matches(matcher: BrandMatcher, text: str) -> None:
    assert not matcher.matches(text)
    assert matcher.match(text).explain() == "excluded by 'acme anvil'"


def test_item_14_match_command_explains_why_a_mention_is_kept(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["match", "@acmehelp my acme anvil order never arrived", "-c", str(EXAMPLE)])
    out = capsys.readouterr().out
    assert code == 0
    assert '"matches": true' in out
    assert "'acme anvil'" in out
    assert "exclusions apply to term matches only" in out
