"""Scorer v2 (issue 17): problem reports without a negative word, plain requests, negativity
aimed elsewhere, and the cues that used to fire the wrong way. Every example is invented."""

from __future__ import annotations

import pytest

from monitor.classifier import Classifier
from monitor.classifier.settings import ClassifierSettings
from monitor.models import Verdict


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(ClassifierSettings())


def cues(verdict: Verdict) -> set[str]:
    return {reason.cue for reason in verdict.reasons}


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("@parcelco the package arrived smashed, the lamp inside is in pieces", "arrived_damaged"),
        (
            "@shopright my groceries came half thawed and the eggs arrived cracked",
            "arrived_damaged",
        ),
        ("@acme haven't had the confirmation email yet", "not_received"),
        ("@acme shipped on the 8th, nothing arrived, tracking number invalid", "not_received"),
        ("@acme delivery window was 8-12, it's 6pm and nothing", "not_received"),
        ("@acme it won't get past 'checking for updates'", "wont_work"),
        ("@acme the card reader refuses to accept my card at the pump", "wont_work"),
        ("@railco still at the station, any ideas?", "still_stuck"),
        ("@acme my order is still processing after ten days", "still_stuck"),
        ("@snackco twice in a row now without a spoon in the pot", "repeated"),
        ("@acme same thing happened again with the second unit", "repeated"),
        ("@drinkco opened a new bottle and it's only half full", "below_expectation"),
        ("@netco internet is painfully slow every evening", "below_expectation"),
        (
            "@shoeco ordered six of the same size: two fit, two too big, two too small",
            "inconsistent",
        ),
        ("@bankco one agent says it's approved, the other says it never arrived", "inconsistent"),
        ("@acme your price on the site and at the till don't match", "inconsistent"),
        ("@acme you took $40 without authorisation. Explain.", "accusation"),
        ("@acme you took $40 without authorisation. Explain.", "bare_demand"),
        ("@acme I don't understand why my bill doubled", "bare_demand"),
        ("@acme I want to talk to a supervisor, today", "escalation"),
        ("@acme is there a reason none of the discount codes work on your site?", "broken"),
    ],
)
def test_implicit_problem_reports_are_flagged_with_their_cue(
    classifier: Classifier, text: str, cue: str
) -> None:
    verdict = classifier.classify(text)
    assert verdict.is_complaint, (text, verdict.reasons)
    assert cue in cues(verdict)


def test_every_v2_reason_is_readable_in_the_alert(classifier: Classifier) -> None:
    """A support person sees the cue's why and the words it matched, not a regex."""
    verdict = classifier.classify("@drinkco opened a new bottle and it's only half full")
    reason = next(r for r in verdict.reasons if r.cue == "below_expectation")
    assert reason.detail == 'less than promised: "half full"'


@pytest.mark.parametrize(
    "text",
    [
        "@acme please advise?",
        "@acme when should I expect the update?",
        "@acme I need to unlink my account, who can help?",
        "@acme can you help me change the delivery address on my order?",
        "@acme is it possible to pay for my bill in two parts?",
        "@acme do you ship to Norway?",
    ],
)
def test_requests_that_state_no_problem_are_not_flagged(classifier: Classifier, text: str) -> None:
    verdict = classifier.classify(text)
    assert not verdict.is_complaint, verdict.reasons
    assert "request" in cues(verdict)
    assert not cues(verdict) & {"demand", "complaint_question"}


def test_a_request_next_to_a_real_problem_still_is_a_complaint(classifier: Classifier) -> None:
    verdict = classifier.classify("@acme can you help me? you charged me twice for one order")
    assert verdict.is_complaint
    assert "request" not in cues(verdict)  # the problem wins; asking is no excuse


@pytest.mark.parametrize(
    "text",
    [
        "@acme the election coverage tonight is a disgrace, terrible",
        "watching the game on @acme tv, our team is awful this season",
        "lost my tracker somewhere at work, so annoying @acme",
        "ugh I'm such an idiot, I forgot my password again @acme",
    ],
)
def test_negativity_about_politics_sport_or_oneself_is_not_a_complaint(
    classifier: Classifier, text: str
) -> None:
    verdict = classifier.classify(text)
    assert not verdict.is_complaint, verdict.reasons
    assert "elsewhere" in cues(verdict)


def test_arrived_no_longer_reads_as_resolved_when_it_arrived_broken(
    classifier: Classifier,
) -> None:
    smashed = classifier.classify("@parcelco package arrived smashed")
    assert smashed.is_complaint
    assert "resolved" not in cues(smashed)
    fine = classifier.classify("@parcelco package arrived this morning, thanks!")
    assert not fine.is_complaint
    assert "resolved" in cues(fine)


def test_could_have_been_resolved_is_no_resolution(classifier: Classifier) -> None:
    verdict = classifier.classify(
        "@acme this could have been resolved today if the tech had not left without a word"
    )
    assert "resolved" not in cues(verdict)


def test_a_link_next_to_the_authors_own_case_costs_less(classifier: Classifier) -> None:
    """A complaint with a photo of the damage is no news share."""
    news = classifier.classify("acme opens a new store downtown https://example.com/a")
    own = classifier.classify("my box from today https://example.com/p.jpg")
    news_link = next(r for r in news.reasons if r.cue == "link")
    own_link = next(r for r in own.reasons if r.cue == "link")
    assert own_link.weight > news_link.weight
    shown = classifier.classify("@acme my screen cracked on day two https://example.com/p.jpg")
    assert shown.is_complaint


def test_thanks_to_the_brand_after_a_complaint_is_sarcasm(classifier: Classifier) -> None:
    verdict = classifier.classify("Thanks @netco for disconnecting me three times today")
    assert verdict.is_complaint
    assert "irony" in cues(verdict)
    assert "gratitude" not in cues(verdict)


def test_applause_or_a_compliment_next_to_a_wait_is_sarcasm(classifier: Classifier) -> None:
    clap = classifier.classify("@acme 5 days to reply… world class service \U0001f44f")
    assert clap.is_complaint
    assert cues(clap) & {"sarcasm", "irony"}
    sentiment = next(r for r in clap.reasons if r.cue == "sentiment")
    assert sentiment.weight >= 0  # "world class" praise is ignored


def test_thanks_for_a_quick_refund_is_not_a_complaint(classifier: Classifier) -> None:
    verdict = classifier.classify("@acme thanks for the quick refund, much appreciated")
    assert not verdict.is_complaint, verdict.reasons
    assert "resolved" in cues(verdict)


def test_a_regulator_in_the_news_is_no_legal_threat(classifier: Classifier) -> None:
    news = classifier.classify("#netco gets FCC approval for new towers https://example.com/n")
    assert "legal_threat" not in cues(news)
    assert not news.is_complaint
    threat = classifier.classify("@netco I am filing a complaint with the FCC about this bill")
    assert "legal_threat" in cues(threat)


def test_many_hashtags_read_as_marketing(classifier: Classifier) -> None:
    verdict = classifier.classify("new phones in store! #deals #tech #fall #acme")
    assert "hashtags" in cues(verdict)
    assert not verdict.is_complaint


def test_a_hashtag_with_a_negative_word_inside_another_word_is_not_negative(
    classifier: Classifier,
) -> None:
    verdict = classifier.classify("earned a new badge today #trueblueBadges @acme")
    assert "negative_hashtag" not in cues(verdict)


def test_a_mention_between_words_no_longer_breaks_a_phrase(classifier: Classifier) -> None:
    """Handles are blanked; the words around them still read as one phrase."""
    verdict = classifier.classify("still waiting @acme @acmehelp on my refund")
    assert "waiting" in cues(verdict)


# --- v3 (issue 17, tuned on the seed set): one invented example per new cue or rule ----------


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("@vanco collection booked 9-11. it's 3pm", "missed_window"),
        ("@fixitco the plumber was promised for Monday, that was two weeks ago", "missed_window"),
        ("@burgerco the bag says 8 nuggets on the box, 5 inside", "claim_vs_reality"),
        ("@snackco the bar used to be 50g, now the size of a stamp", "claim_vs_reality"),
        ("@gadgetco the speaker turns itself off by itself every evening", "symptom"),
        ("@bankco my card was declined twice at the shop with money in the account", "symptom"),
        ("@bankco the app says paid, the letter says overdue", "conflicting_sources"),
        ("@hotelco this is how our room looked at check-in", "evidence"),
    ],
)
def test_v3_implicit_reports_are_flagged_with_their_cue(
    classifier: Classifier, text: str, cue: str
) -> None:
    verdict = classifier.classify(text)
    assert verdict.is_complaint, (text, verdict.reasons)
    assert cue in cues(verdict)


def test_quoting_a_claim_back_is_weak_evidence_on_its_own(classifier: Classifier) -> None:
    """Scare quotes tip a post only beside another sign: titles and names are quoted too."""
    alone = classifier.classify('@cinemaco tickets for "the long night" please')
    assert "scare_quotes" in cues(alone) or "request" in cues(alone)
    assert not alone.is_complaint
    beside = classifier.classify('@pizzaco the "large" box was half empty')
    assert beside.is_complaint
    assert "scare_quotes" in cues(beside)


@pytest.mark.parametrize(
    "text",
    [
        "@trainco it's 5 stars from me, best journey this year",
        "@shopco it's 2 for 1 on socks today, nice",
    ],
)
def test_a_number_after_its_is_not_a_clock(classifier: Classifier, text: str) -> None:
    assert "missed_window" not in cues(classifier.classify(text))


@pytest.mark.parametrize(
    "text",
    [
        "I dropped my @phoneco phone in the bath, totally my fault, can I get a repair quote?",
        "accidentally cancelled my own @gymco membership, can I undo it?",
        "@airco what happens if my bag is lost on a connection? asking before I book",
    ],
)
def test_a_mishap_of_ones_own_or_a_hypothesis_is_no_complaint(
    classifier: Classifier, text: str
) -> None:
    verdict = classifier.classify(text)
    assert not verdict.is_complaint, verdict.reasons
    assert cues(verdict) & {"own_fault", "hypothetical"}


def test_own_fault_does_not_excuse_a_breach_by_the_brand(classifier: Classifier) -> None:
    verdict = classifier.classify(
        "@shopco I ordered the wrong size by mistake and you charged me twice for the return"
    )
    assert verdict.is_complaint
    assert "own_fault" not in cues(verdict)


@pytest.mark.parametrize(
    "text",
    [
        "@shopco the app crashed and I lost my order",
        "@gameco servers went down mid-match and I lost all my progress",
    ],
)
def test_losing_what_a_failure_took_is_not_the_authors_own_slip(
    classifier: Classifier, text: str
) -> None:
    """ "I lost my order" after a crash is what the brand's failure did, not a lost wallet."""
    verdict = classifier.classify(text)
    assert verdict.is_complaint, verdict.reasons
    assert "own_fault" not in cues(verdict)


@pytest.mark.parametrize(
    "text",
    [
        "@bankco thanks for refunding the overdraft fee straight away",
        "@shoeco refund for the faulty pair received in two days, cheers",
    ],
)
def test_a_refund_given_and_thanked_for_is_no_complaint(classifier: Classifier, text: str) -> None:
    verdict = classifier.classify(text)
    assert not verdict.is_complaint, verdict.reasons
    assert "refund_given" in cues(verdict)
    assert "refund" not in cues(verdict)


def test_still_waiting_for_a_refund_is_still_a_complaint(classifier: Classifier) -> None:
    verdict = classifier.classify("@shoeco still not refunded after three weeks")
    assert verdict.is_complaint
    assert "refund_given" not in cues(verdict)


@pytest.mark.parametrize(
    "text",
    [
        "@cafeco the new cinnamon bun is dangerously good",
        "@gameco you guys crushed it with the new level editor",
        "@bikeco crash course in gears at your shop today, loved it",
        "@headphoneco the noise cancelling on these is unreal",
    ],
)
def test_complaint_words_in_praise_are_not_complaints(classifier: Classifier, text: str) -> None:
    assert not classifier.classify(text).is_complaint


@pytest.mark.parametrize(
    "text",
    [
        "my landlord still hasn't fixed the boiler, awful. @soupco tomato soup to the rescue",
        "worst exam of my life today. @pizzaco delivery tonight as a reward",
    ],
)
def test_negativity_before_a_late_mention_of_the_brand_is_aimed_elsewhere(
    classifier: Classifier, text: str
) -> None:
    verdict = classifier.classify(text)
    assert not verdict.is_complaint, verdict.reasons
    assert "elsewhere" in cues(verdict)


def test_a_late_mention_with_a_problem_told_to_the_brand_still_counts(
    classifier: Classifier,
) -> None:
    verdict = classifier.classify(
        "waited two hours at the gate, no news. @airco where is our plane?"
    )
    assert verdict.is_complaint
    assert "elsewhere" not in cues(verdict)
