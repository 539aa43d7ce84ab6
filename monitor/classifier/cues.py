"""The complaint cues: hand-written phrase patterns and the weight each adds to the score.

Weights are log-odds (the scorer adds them up and takes the logistic), set by hand and checked
against labeled posts; no model is fitted. Cues describe how people complain about *any* brand
(waiting, money, broken things, silence, sarcasm), not one industry's vocabulary, so they carry
over to brands they were never checked on. Patterns run on lower-cased text in which links,
@handles and the brand's own names have been blanked out.

The scorer does not run these patterns as written: `monitor.classifier.gate` splits them into
literal-prefixed pieces and runs only the pieces a post's words could match.

The module runs past 600 lines on purpose: it is one long table, every cue with its weight and
the reason for it, read and tuned together; split by kind, a cue's neighbours (what it sets
aside, what it must not double) would sit in another file.
"""

from __future__ import annotations

from dataclasses import dataclass

SECOND_OPINION_CUE = "second_opinion"
"""The reason the optional LLM second opinion adds to a verdict (alerts show it apart)."""


class Kind:
    """What a cue says about the post; the scorer combines kinds, not individual cues.

    Plain strings rather than an Enum: the scorer tests kinds in sets for every post, and an
    Enum's hash is a Python-level call.
    """

    PROBLEM = "problem"
    """Something went wrong with a product or service: the core of a complaint."""
    NEGATIVE = "negative"
    """Generic negativity that needs a target: "worst" may be about the weather."""
    URGENT = "urgent"
    """A problem that makes the complaint high severity: safety, legal, money, churn, outage."""
    SARCASM = "sarcasm"
    """Praise words used for blame; counts only next to a problem, and mutes VADER's praise."""
    IRONY = "irony"
    """Sarcasm on its own ("thanks for nothing"): counts without a problem cue."""
    RELIEF = "relief"
    """Resolution or "no complaints": pushes away from complaint."""
    GRATITUDE = "gratitude"
    """Thanks: away from complaint, unless a problem is left unresolved (then it is politeness)."""
    NOISE = "noise"
    """News, adverts and the brand's own replies rather than a customer speaking."""
    REQUEST = "request"
    """Asking for help or information without stating a problem ("please advise", "how do I
    change my plan?"): counts only when no problem is reported besides the asking itself."""
    ELSEWHERE = "elsewhere"
    """The negativity has another target: politics, sport, the author's own slip ("lost my
    keys somewhere"). Cancels generic negativity, never a reported problem."""
    NO_BREACH = "no_breach"
    """The mishap named is no breach by the brand: the author's own doing ("I booked the wrong
    date") or a hypothesis ("what happens if my flight is cancelled?"). The scorer sets aside
    the problem cues such a mishap fires (`scorer.MISHAP_CUES`), then it counts as ELSEWHERE."""


@dataclass(frozen=True, slots=True)
class Cue:
    name: str
    pattern: str
    weight: float
    kind: str
    """One of the `Kind` constants."""
    why: str


_NEG = (
    r"(?:not|never|no|isn'?t|aren'?t|wasn'?t|weren'?t|don'?t|doesn'?t|didn'?t|won'?t|can'?t|cannot"
    r"|hasn'?t|haven'?t|hadn'?t)"
)
_NUM = r"(?:\d+(?:\.\d+)?|a|an|one|two|three|four|five|six|seven|eight|nine|ten|several|many|few)"
_SPAN = r"(?:mins?|minutes?|hours?|hrs?|days?|weeks?|wks?|months?|business days)"
_ITEM = (
    r"(?:bags?|luggage|baggage|suitcases?|packages?|parcels?|orders?|items?|delivery|deliveries"
    r"|box|boxes|refund|money|card|phone|device|stroller|car ?seat|shipment|replacement)"
)

CUES: tuple[Cue, ...] = (
    # --- problems ------------------------------------------------------------------------
    Cue(
        "waiting",
        r"(?:still|been|keep|kept|i'?m|am|we'?re|are|currently|now|tired of|sick of|forever"
        r"|always)\s+waiting|waiting\s+on\b|waiting\s+for\s+(?:my|our|a|an|the|your|someone"
        r"|anyone|over|more than|\d)"
        r"|waited\s+(?:for\s+)?(?:over\s+|more than\s+)?" + _NUM + r"\s+" + _SPAN,
        1.3,
        Kind.PROBLEM,
        "kept waiting",
    ),
    Cue(
        "on_hold",
        r"on hold|hold (?:time|music)|in (?:the )?queue|queued (?:for|since)",
        1.3,
        Kind.PROBLEM,
        "on hold",
    ),
    Cue(
        "elapsed_time",
        r"(?:it'?s|it has|been|for|over|after|almost|nearly|than|wasting|wasted|spent)\s+"
        + _NUM
        + r"\+?\s*"
        + _SPAN
        + r"|\d+\+?\s*"
        + _SPAN
        + r" (?:to (?:reply|respond|answer|get back|deliver|ship|arrive|refund|fix|process"
        r"|hear back)|without (?:a |any )?(?:reply|response|answer|word|update|refund))"
        r"|\d+\+?\s*"
        + _SPAN
        + r" (?:ago|later|now|and|of)|(?:an|one) (?:hour|day|week) later|and counting"
        r"|(?:for|after|took|takes|taking) (?:hours|days|weeks|ages|forever)|hours on end"
        r"|since (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday"
        r"|last (?:week|month|night)|this morning|\d)|all (?:day|week|night|morning)",
        0.7,
        Kind.PROBLEM,
        "time spent waiting",
    ),
    Cue(
        "refund",
        r"refund(?:s|ed|ing)?\b|money back|reimburs\w*|compensat\w*|credit (?:back|my account)",
        1.1,
        Kind.PROBLEM,
        "money owed back",
    ),
    Cue(
        "charged_wrongly",
        r"(?:double|over|twice)[- ]?(?:charg|bill)\w*|(?:charged|billed) (?:me )?"
        r"(?:twice|two times|again|double|for something|for nothing|without)"
        r"|hidden fees?|extra (?:fees?|charges?)|unauthori[sz]ed (?:charges?|purchases?)",
        1.6,
        Kind.PROBLEM,
        "charged wrongly",
    ),
    Cue(
        "billing",
        r"(?:charg(?:e|ed|es|ing)|bill(?:ed|ing)?|fees?|overdraft|invoice)\b",
        0.5,
        Kind.PROBLEM,
        "a charge or bill",
    ),
    Cue(
        "cancelled",
        r"cancel+(?:s|ed|ing|lations?)\b(?<!noise cancelling)(?<!noise-cancelling)"
        r"(?<!noise cancellation)|called off|bumped (?:me|us|off)|overbook\w*|oversold",
        1.0,
        Kind.PROBLEM,
        "something cancelled",
    ),
    Cue(
        "delayed",
        r"delay(?:ed|s)?\b|(?:running|arrived|came|was|is|so|very|super|really|extremely|minutes"
        r"|mins|hours|hrs|days|weeks|months) late\b|late again"
        r"|missed (?:my|our|the) (?:connection|connecting|flight|train|appointment)"
        r"|stuck (?:in|at|on)|stranded|diverted|no[- ]show",
        1.1,
        Kind.PROBLEM,
        "delayed or stranded",
    ),
    Cue(
        "broken",
        r"broken?\b(?! (?:the|a|all|every) (?:\w+ )?records?| my brain)|breaks down|(?:"
        + _NEG
        + r"|stopped|never|barely|keeps?|still not)\s+"
        r"(?:even\s+)?(?:work|working|works|worked|load|loading|loads|connect|connecting|charge|charging"
        r"|turn on|function|functioning|exist|fit|match|add up)\b|nothing (?:works|loads|happens)"
        r"|crash(?:es|ed|ing)?\b(?! course| on (?:the |my )?(?:sofa|couch|bed)| for \d| out\b)"
        r"|\berror\b|bug(?:s|gy)?\b"
        r"|glitch\w*|fail(?:ed|s|ing|ure)?\b|froze|freez(?:es|ing)|defective|faulty|malfunction\w*"
        r"|leak(?:s|ing|ed)?\b|hangs? up|shattered|smashed|cracked|crushed(?! it)|scratched|dented"
        r"|torn\b|ripped|damaged"
        r"|unusable|none of (?:\w+ ){0,3}(?:work|works|worked|load|fit|apply|applied)\b"
        r"|non[- ]?(?:functioning|functional|working|responsive)|unavailable"
        r"|(?:nothing|no \w+) (?:is |are )?working|drops? out|dropping out"
        r"|out of order|won'?t (?:let me|open|start)|(?:aren'?t|isn'?t|not) (?:coming"
        r"|going) through"
        r"|cuts? out|cutting out|off and on|on and off|spotty|intermittent\w*|keeps? (?:dropping"
        r"|logging|kicking|crashing"
        r"|going out|cutting out|freezing|buffering)",
        1.2,
        Kind.PROBLEM,
        "broken or failing",
    ),
    Cue(
        "blocked",
        r"(?:can'?t|cannot|unable to|couldn'?t|won'?t let (?:me|us)|not able to|no way to)\s+"
        r"(?:even\s+)?(?:book|change|get|find|reach|contact|send|receive|make|use|access|log"
        r"|sign|check|print|speak|talk|connect|download|stream|watch|call|text|upgrade|cancel|pay"
        r"|board|select|see|hear|load|order|return|track|redeem|update)\b",
        1.0,
        Kind.PROBLEM,
        "can't get it done",
    ),
    Cue(
        "lost_or_missing",
        r"(?:lost|missing|misplaced|mishandled|stolen|damaged|wrong)\s+(?:my |our |the |a |an )?"
        + _ITEM
        + r"|never (?:arrived|came|showed|received|got)|(?:hasn'?t|haven'?t|didn'?t|not|never)"
        r" (?:been )?(?:arrived?|shipped|come|received|delivered|gotten|showed up|made it)"
        r"|wrong (?:item|size|order|colou?r|address|product|one|name|date|seat)"
        r"|missing\b(?<!not missing)(?<!'re missing)(?<!are missing)"
        r"|(?:got|get|been|was|were|is|are|went|gone|it|they|all|be|has|have|it's|is now|now)"
        r" lost\b|lost (?:my|our|all|his|her|their|the|it|them|a|an)\b"
        r"(?! (?:\w+ ){1,2}(?:somewhere|again|at (?:work|home|school)))"
        r"|(?:is|are|was|were) (?:all |completely |totally )?wrong"
        r"|(?:not|isn'?t|wasn'?t|never) here|(?:says|marked|shows|showing) (?:as )?delivered"
        r"|deleted (?:all )?(?:my|our)|wiped (?:out )?(?:my|our)|erased",
        1.3,
        Kind.PROBLEM,
        "lost, missing or wrong item",
    ),
    Cue(
        "no_response",
        r"no (?:reply|replies|response|responses|answer|answers|call ?back|update|updates"
        r"|explanation|apology|follow[- ]?up|help|one (?:answers|responds|replies|picks up|helps"
        r"|cares|showed|knows|will))|nobody (?:answers|calls|gets back|responds|replies|cares"
        r"|helps|picks|knows|came|turned up|arrived"
        r"|showed|called|will)|ignor(?:ed|ing)(?<!i ignored)(?<!i ignoring)"
        r"|(?:not|never) (?:responding|answering|replying"
        r"|respond|answer|reply)|never (?:replied|responded|answered|called|heard|got back)"
        r"|(?:haven'?t|hasn'?t) heard|(?:not|never) (?:been )?(?:contacted|called|notified|told"
        r"|informed)|unanswered|hung up|hang up on|is anyone (?:there|home)"
        r"|(?:hello|anyone|anybody)\s*\?+|runaround|run around|transferred|passed around"
        r"|yet to (?:receive|hear|get|be|see)|crickets|radio silence|silence|nothing (?:done|yet)"
        r"|(?:expected|expecting|awaiting|still need) (?:a |an |some )?(?:response|reply|call"
        r"|answer|update)|by now|(?:been|keep|kept|still) trying to (?:reach|contact|get"
        r"|call|speak|talk)",
        1.4,
        Kind.PROBLEM,
        "no response",
    ),
    Cue(
        "still_not",
        r"still (?:no|not|nothing|haven'?t|hasn'?t|hadn'?t|can'?t|cannot|don'?t|doesn'?t|isn'?t"
        r"|aren'?t|won'?t|didn'?t|broken|down|missing|stuck|delayed|wrong)\b|yet again"
        r"|(?:second|third|fourth|fifth|\d+(?:nd|rd|th)) time (?:this|in|i'?ve|we'?ve|asking"
        r"|calling|today|now|that)|no longer|again(?<!thanks again)(?<!thank you again)\s*[?!]",
        1.3,
        Kind.PROBLEM,
        "still not sorted",
    ),
    Cue(
        "made_to",
        r"(?:had|have|having|forced|made me|make me|making me|making us|made us) to"
        r" (?:call|wait|pay|buy|rebook|drive|sleep|go back|return|explain|repeat|take|sit|stand"
        r"|start over|chase|fight)|making (?:me|us) (?:wait|pay|call)",
        0.9,
        Kind.PROBLEM,
        "made to do extra",
    ),
    Cue(
        "broken_promise",
        r"(?:was|were|is|are) supposed to|promised|told (?:me|us) (?:it|they|that|someone|i|we|you)"
        r" would|(?:said|say) (?:it|they|you) would|guaranteed",
        1.1,
        Kind.PROBLEM,
        "promise not kept",
    ),
    # --- v2: problem reports that use no negative word (issue 17) ---------------------------
    # Why: "arrived" alone reads as relief; arrived smashed, open or late is the problem itself.
    Cue(
        "arrived_damaged",
        r"(?:arrived|came|showed up|delivered|turned up|got here|was delivered)"
        r" (?:\w+ )?(?:smashed|broken|damaged|crushed|open(?:ed)?|empty|wet|soaked|torn|dented"
        r"|cracked|melted|spoil(?:ed|t)|rotten|mou?ldy|stale|cold|incomplete|missing|without"
        r"|late|a day late|days late|too late)",
        1.3,
        Kind.PROBLEM,
        "arrived damaged or late",
    ),
    # Why: the most common complaint has no negative word: "haven't had the email yet".
    Cue(
        "not_received",
        r"(?:haven'?t|hasn'?t|have not|has not|did not|didn'?t|never|not) (?:yet )?(?:had|got"
        r"|gotten|received|seen|been (?:given|sent|refunded|credited|paid|contacted))"
        r" (?:my|our|the|a|an|any|it|them|anything|one|what)"
        r"(?! (?:single )?(?:problem|issue|complaint|fault|dropped|bad|late|missing|cold|wrong))"
        r"|nothing (?:has )?(?:arrived|came|showed up|turned up|in the mail)|no sign of"
        r"|(?:not|never) (?:yet )?received|tracking (?:number |info\w* )?(?:is |says |shows )?"
        r"(?:invalid|not working|doesn'?t work|hasn'?t (?:moved|changed|updated)|stuck"
        r"|not updated|wrong)|(?:and|but) (?:still )?(?:nothing|no sign|no one|nobody)\b",
        1.2,
        Kind.PROBLEM,
        "not received",
    ),
    # Why: a refusal by the thing itself ("won't get past the login") is a breakdown report.
    Cue(
        "wont_work",
        r"(?:won'?t|wouldn'?t|will not|would not|doesn'?t|does not|didn'?t|did not|isn'?t"
        r"|is not|keeps? not|refuses? to|refused to) (?:even )?(?:get past|let (?:me|us)|allow"
        r"|accept|recogni[sz]e|sync|update|install|open|close|start|play|print|pair|respond"
        r"|show (?:up|the)|go through|register|ring|scan|download|upload|refresh|save|apply"
        r"|take (?:my|the|our)|honou?r|boot|turn on|power on|log (?:me )?in|send|ship)\b",
        1.1,
        Kind.PROBLEM,
        "won't work",
    ),
    # Why: "still" plus a waiting state ("still at the station") reports a failure by its effect.
    Cue(
        "still_stuck",
        r"still (?:at|sitting|sat|pending|processing|showing|says|saying|loading|trying|charging"
        r"|checking|stranded|on (?:the|a|my) (?:tarmac|plane|runway|phone|line)|in (?:line|the"
        r" queue)|here|there|no word|unresolved|an issue|a problem|the same|getting|having"
        r"|experiencing|dealing)\b",
        1.0,
        Kind.PROBLEM,
        "still stuck",
    ),
    # Why: a repetition ("twice in a row", "every time") turns an incident into a complaint.
    Cue(
        "repeated",
        r"(?:every|each) (?:single )?time|twice (?:in a row|now|this|today|already|in one)"
        r"|(?:\w+ )?times? in a row|(?:happened|happening|happens|doing it|did it|done it|broke"
        r"|broken|crashed|down|late|delayed|cancell?ed|wrong|missing|charged|failed|stopped"
        r"|dropped|out|disconnected|again and) again\b|over and over|(?:same|this) (?:problem"
        r"|issue|thing) (?:again|keeps|every|over|happened)|keeps? happening|(?:second|third"
        r"|fourth|fifth|2nd|3rd|4th|5th) (?:time|week|day|month|call|attempt|replacement)"
        r"|(?:\d+|several|multiple|numerous|countless|many|so many) times",
        1.0,
        Kind.PROBLEM,
        "keeps happening",
    ),
    # Why: less than promised ("only half full", "so slow") is a breach with no emotion.
    Cue(
        "below_expectation",
        r"only (?:half|got|received|works?|gave|one of|two of|\d+ of|a fraction)"
        r"|half (?:full|empty|the size|of what|missing|cooked|eaten)|less than (?:advertised"
        r"|promised|expected|what|half|i paid)|(?:smaller|slower|worse|thinner|cheaper)"
        r" than (?:advertised|promised|expected|before|it should|the picture|described|usual)"
        r"|(?:so|too|very|really|super|painfully|ridiculously|incredibly|extremely|horribly"
        r"|insanely|unbearably|always|still|getting|been|is|are) slow\b|slow (?:af|as hell"
        r"|internet|speeds?|service|connection|wifi|loading|response)|barely (?:works?|usable"
        r"|loads?|any|moves?)|(?:stale|soggy|expired|rotten|undercooked|raw inside|burnt|spoil"
        r"(?:ed|t)) |tastes? (?:like|off|weird|bad|awful|funny|wrong|stale)|smells? (?:bad|weird"
        r"|off|awful|funny)|(?:overpriced|overcharged|paying (?:an arm|more|extra|for nothing))"
        r"|(?:paid|pay|paying) for (?:\w+ ){0,3}(?:and|but) (?:got|only|didn'?t|it|still|no)",
        1.1,
        Kind.PROBLEM,
        "less than promised",
    ),
    # Why: contradictions ("two fit, two too big", "each agent says") are a service failure.
    Cue(
        "inconsistent",
        r"(?:contradict|inconsisten)\w*|makes? no sense|(?:does|do) (?:that|this|it) make"
        r" (?:any )?sense|doesn'?t make (?:any )?sense"
        r"|different (?:answers?|stor(?:y|ies)|info\w*|prices?|things)"
        r"|(?:one|each) (?:person|agent|rep) (?:says|said|tells|told)"
        r"|which (?:one )?(?:is|to) (?:telling the truth|believe|right|correct)"
        r"|(?:some|two|half|one) (?:fit|fits|work|works|are fine)\W+(?:some|two|half|the"
        r" others?|others)|(?:don'?t|doesn'?t|do not|does not) (?:even )?match",
        1.1,
        Kind.PROBLEM,
        "inconsistent",
    ),
    # Why: "you took / cancelled / cut off" names a harm done to the customer by the brand.
    Cue(
        "accusation",
        r"(?:you|u|y'?all|they) (?:guys |people )?(?:just |have |then |also )?(?:took|charged"
        r"|stole|deleted|cancell?ed|lost|broke|gave (?:away|my|our)|sold|cut (?:off|me)|kicked"
        r"|blocked|overcharged|ruined|refused|denied|disconnected|shut (?:off|down|me)|suspended"
        r"|locked|dropped|bumped|raised|changed my|moved my|downgraded|billed|misplaced"
        r"|failed|forgot|ignored|hung up|lied|screwed|messed)\b"
        r"|without (?:my |any |prior )?(?:authori[sz]ation|permission|consent|notice|warning"
        r"|notification|telling|asking|informing|explanation)",
        1.1,
        Kind.PROBLEM,
        "something done to the customer",
    ),
    # Why: asking for a supervisor or preferring to walk says the service failed.
    Cue(
        "escalation",
        r"supervisor|(?:a|your|the|to|with) manager\b|corporate (?:office|number|email|contact)"
        r"|escalat\w*|formal complaint|(?:i'?d|would) rather (?:walk|drive|take|swim|pay|use"
        r"|go with|fly with|stay)",
        1.0,
        Kind.PROBLEM,
        "escalating",
    ),
    # Why: "Explain." or "I don't understand why" after facts is a demand, however polite.
    Cue(
        "bare_demand",
        r"explain(?: yourselves| yourself)?\s*[.!?]|(?:i )?(?:don'?t|do not|can'?t|cannot)"
        r" (?:understand|believe|figure out|see) (?:why|how|that)|not (?:tolerable|okay|ok"
        r"|fair|right|acceptable)\b|(?:long|longer|endless|forever) (?:wait|waits|wait times"
        r"|lines?|queues?|hold)",
        1.0,
        Kind.PROBLEM,
        "demands an explanation",
    ),
    # --- v3: the seed set's implicit reports (issue 17, tuned on classifier/seed) ------------
    # Why: a window stated beside the time it is now ("slot 8-12. it's 6pm") reports a missed
    # appointment by its facts; "that was yesterday" after a promise says the same.
    Cue(
        "missed_window",
        r"(?:it'?s|it is|and it'?s|now it'?s) (?:now |already |gone |past |after |nearly |almost )?"
        r"(?:\d{1,2}(?:[:.]\d\d)?\s*(?:am|pm)?|midday|midnight|noon|lunchtime)\b"
        r"(?!\s*(?:%|stars?|years?|yrs|for|x\b|times|of|out|gb|mb|inch\w*|percent|quid|bucks"
        r"|pounds|dollars|euros|miles|km|hours|hrs|mins?|minutes|days|weeks|months|people|items"
        r"|degrees|[/-]))"
        r"|(?:it'?s|it is|and it'?s|now it'?s) (?:now|already|gone|past) (?:the \d{1,2}(?:st|nd|rd"
        r"|th)|(?:mon|tues|wednes|thurs|fri|satur|sun)day)"
        r"|today'?s the \d{1,2}(?:st|nd|rd|th)|that was (?:\w+ ){0,3}ago\b|that was (?:yesterday"
        r"|last \w+|(?:mon|tues|wednes|thurs|fri|satur|sun)day)"
        r"|\d{1,2}(?::\d\d|\s*[ap]m)(?:,|\.)? (?:now|and (?:still )?(?:nothing|nobody|no one"
        r"|no sign))\b|now \d{1,2}:\d\d|\d+\s*h later"
        r"|(?:two|three|four|five|several|\d+) (?:\w+ )?(?:weekends|releases|updates|visits"
        r"|reminders) (?:later|ago)|finally (?:arrived|turned up|showed up|got here|seated"
        r"|departed|took off|answered|responded|got back)",
        1.2,
        Kind.PROBLEM,
        "a time promised has passed",
    ),
    # Why: the product's own claim set against what came ("box says 12, there are 10", "used to
    # be 6", "same price") is the quantity complaint without a negative word.
    Cue(
        "claim_vs_reality",
        r"advertised(?<!as advertised)|brochure|on the (?:box|tin|label|packet|pack|website)\b"
        r"|(?:box|label|packet|pack|menu|website|site|ad|advert|page|docs|manual) (?:says|said"
        r"|claims?|promised) (?:\d|\"|up to|it)|same price|for the same money"
        r"|(?:used to be|was once) (?:\d|half|twice|double|bigger|larger|more|the size"
        r"|\w+ (?:of|for))|now the size|(?:smaller|less|fewer|shorter|thinner|lighter|weaker)"
        r" than (?:the|my|it|they"
        r"|last|before|it used|normal|a normal|usual|advertised)"
        r"|lasted (?:until|till|about|barely|less|\d|a (?:day|week|month))|only (?:lasted|lasts"
        r"|charges|gets|fits|covers|holds|came with|rang up)\b"
        r"|barely (?:fits?|gets?|covers?|holds?|lasts?|lasted|looks|warm|hot|cold|edible|visible"
        r"|enough|serves?|feeds?)|(?:counted|measured|weighed) (?:it|them)\b|\d+ (?:advertised"
        r"|promised|on the box|claimed|quoted)\b",
        1.0,
        Kind.PROBLEM,
        "less than claimed",
    ),
    # Why: a fault told by its symptom ("restarts itself", "says 'no SIM' since the update",
    # "loading forever", "card declined", "already sour") names no feeling, only the failure.
    Cue(
        "symptom",
        r"(?:by|on) (?:itself|its own)\b|(?:restarts|reboots|turns|switches|shuts|resets|logs"
        r"|changes|deletes) (?:itself|(?:me )?out (?:every|after|again))"
        r"|since (?:the|your|it was|my|our) (?:\w+ )?(?:update|upgrade|visit|install\w*|repair"
        r"|migration|\"?fixed\"?|service|engineer)|indefinitely|endlessly"
        r"|(?:loading|buffer\w*|spinning|stuck|hangs?|sits?|takes?|taking)\s+(?:\S+\s+)?forever"
        r"|(?:card|payment|transaction)s? (?:was |got |keeps? (?:getting )?|is )?declined"
        r"|already (?:sour|off|mou?ldy|rotten|expired|gone off|broken|cracked|leaking|peeling"
        r"|faded|stopped|dead|redeemed|used)|(?:smelt|smelled|smells|tastes|tasted) (?:off|funny"
        r"|sour|of)|gone off|slimy|soggy|(?:pink|raw|frozen) in the middle|rock hard"
        r"|just (?:shows|says|buffers|reloads|spins|hangs|sits|loads|crashes|freezes|closes)"
        r"|(?:says|said|shows|showing|reads|stuck on|saying) \""
        r"|(?:the )?same (?:\w+ ){0,2}(?:problem|issue|fault|noise|error|line|crack|leak|bug)"
        r" (?:as|you said)|(?:vanished|disappeared|gone|missing|not showing|isn'?t showing) (?:from"
        r"|in|after)|(?:isn'?t|aren'?t|wasn'?t|weren'?t) (?:in (?:my|the|it|our)|there|anywhere"
        r"|showing|applied|appearing|being applied)\b|not (?:showing|applied|appearing|anywhere"
        r"|in it|being applied)\b|never (?:appeared|applied|landed|paid|came"
        r" through|turned up|showed up)|no \w+ (?:assigned|inside|in it|in the box)",
        1.1,
        Kind.PROBLEM,
        "a fault told by its symptom",
    ),
    # Why: two sources that disagree ("the app says A, the bill says B") are an inconsistency
    # the customer is left to sort out.
    Cue(
        "conflicting_sources",
        r"(?:says|said|shows|showed|told (?:me|us)|reads)\b[^.,;!?]{0,60}[,;.:]\s+"
        r"(?:but |and |while |yet )?(?:the |my |your |our |a |their )?(?:[\w'-]+ ){0,3}"
        r"(?:says|said|shows|showed|reads|told (?:me|us))\b|differ(?:s|ed)? by"
        r"|(?:are|is) (?:all )?different\b|show different",
        1.1,
        Kind.PROBLEM,
        "sources disagree",
    ),
    # Why: the evidence shown instead of told ("this is how my parcel was left", "the state of
    # the platform", "what I ordered vs what arrived"): a photo post to a brand is a complaint.
    Cue(
        "evidence",
        r"this is (?:how|what)\b|look (?:at )?(?:how|what)\b|the state of\b|found (?:this|a \w+)"
        r" in\b|what (?:i|we) (?:ordered|paid for|got|received|found) vs|\bvs\.? what"
        r"|(?:how|what) (?:the |my |our |this |it )?(?:\w+ )?(?:arrived|was left|came|turned up)\b"
        r"|photo (?:attached|below)|\[photo\]|find the \w+\b",
        1.0,
        Kind.PROBLEM,
        "shows the problem",
    ),
    # Why: the brand's claim quoted back ('the "large" pizza', '"fixed" it') is the shortest way
    # to say it was not so: scare quotes are a known irony marker. Weak alone (song titles and
    # names are quoted too): about half the short quotes in tweets to brands are complaints.
    Cue(
        "scare_quotes",
        r'"[a-z0-9£$][\w\'&£$%.+-]*(?: [\w\'&£$%.+-]+){0,3}"',
        0.45,
        Kind.PROBLEM,
        "quotes a claim back",
    ),
    Cue(
        "service_failure",
        r"(?:terrible|bad|poor|worst|awful|horrible|lousy) (?:customer )?(?:service"
        r"|support|experience)|rude|attitude|unprofessional|incompeten\w*|clueless|lied to|misled"
        r"|false advertising|bait and switch|(?:waste|wasted|wasting) (?:of )?(?:my |our )?"
        r"(?:time|money|day)|not (?:what i (?:ordered|paid for)|as (?:described|advertised))"
        r"|rip[- ]?off|scam\w*|unacceptable|ridiculous\b(?!,? in (?:a|the) (?:good|best) way)"
        r"|zero stars|(?:1|one) star|do better"
        r"|step (?:it )?up|you had one job|(?:such|what) a (?:mess|joke|disaster)"
        r"|(?:is )?how you treat|inept|patroni[sz]\w*|condescending|(?:don'?t"
        r"|doesn'?t) (?:really )?care"
        r"|get (?:its|their|your) act together|jump(?:ing)? through hoops"
        r"|complain(?:t|ts|ing|ed)?\b(?<!no complaints)(?<!no complaint)(?<!n't complain)"
        r"(?<!nt complain)|unbearable|intolerable|inexcusable|mess(?:ed"
        r"|ing)? up"
        r"|screw(?:ed|ing)? (?:up|over|me|us|ppl|people|customers)|botched",
        1.2,
        Kind.PROBLEM,
        "poor service",
    ),
    Cue(
        "complaint_question",
        r"(?:where(?:'s| is| are| the hell| on earth)|why (?:is|are|was|were|did|does|don'?t"
        r"|doesn'?t|can'?t|won'?t|isn'?t|would|am i|has|have|haven'?t|hasn'?t|should|must|not"
        r"|the hell|on earth|do (?:you|u|y'?all|they|i have|we have|i need|i keep|i get))"
        r"|when (?:will|are you|is (?:my|our|this|it)|can i expect"
        r"|do i get)|how (?:come|much longer|many more|hard is it|is (?:this|it) (?:ok|okay"
        r"|acceptable|possible|fair|legal))|how long (?:do (?:i|we)|must|should|until|will (?:it"
        r"|this"
        r"|i|we|you)|are you|have (?:i|we))|what (?:happened|is going on|'s going on|the hell"
        r"|the heck|gives|is the point)"
        r"|is (?:it|this) too much to ask|who do i (?:talk|speak|complain)|can (?:someone|anyone"
        r"|you) (?:please )?(?:explain|tell me why|fix|respond|answer|get back|call me|help me)"
        r"|any (?:update|news|word|idea when)|what(?:'s| is) the point)",
        1.1,
        Kind.PROBLEM,
        "question about a problem",
    ),
    Cue(
        "demand",
        r"fix (?:this|it|that|the|my|your)|please (?:fix|help|respond|answer|explain|call|refund"
        r"|resolve|sort|advise|look into|get back|do something)|(?:i|we) (?:just )?(?:want"
        r"|need|demand|expect|deserve) (?:my |our |to speak|to talk|answers"
        r"|someone|better|compensation|the money)|give (?:me|us) (?:my|our|a|back)|call me back"
        r"|get back to me|make (?:this|it) right|sort (?:this|it) out|explain (?:why|this"
        r"|yourselves|please)|please (?:update|stop|change|don'?t|do not|check|reply|contact me"
        r"|dm me|remove|please)|(?:you|u|y'?all|they) (?:guys |people |really )?(?:need|needs)"
        r" (?:to|better|more|some|a)|answer (?:me|my)|help\s*[!?]|help (?:me|us|please)|(?:need"
        r"|want|hoping"
        r" (?:for|to get)|get) (?:some )?help|(?:need|want) (?:this |it )?(?:fixed|resolved"
        r"|sorted)|speak to (?:a |your )?(?:manager|supervisor)|need to (?:improve|fix|hire|train"
        r"|update|upgrade|stop|work on|figure|learn)|should (?:have|not|n'?t)|would (?:have been"
        r"|be) nice|could be (?:more|better)|get (?:a handle|your act|your shit|it) together"
        r"|do something",
        1.0,
        Kind.PROBLEM,
        "demand for action",
    ),
    Cue(
        "negated_praise",
        r"(?:not|isn'?t|wasn'?t|aren'?t|weren'?t|never|hardly|far from|less than)\s+"
        r"(?:very |so |that |too |at all |exactly |really |even |remotely |a bit |the least )?"
        r"(?:happy|pleased|impressed|satisfied|helpful|good|great|acceptable|ok|okay|fun|cool"
        r"|amused|professional|friendly|nice|worth|fair|reliable|easy|fast|quick|thrilled|a fan"
        r"|fine|right)\b|(?:un|dis)satisf\w*|unhappy|unhelpful|not a happy",
        1.4,
        Kind.PROBLEM,
        "negated praise",
    ),
    Cue(
        "never_again",
        r"never (?:again|flying|fly|using|use|buying|buy|ordering|order|shopping|shop|coming back"
        r"|recommend|going back)|(?:done|through|finished) with (?:you|u|y'?all|this|them|your)"
        r"|last time i|won'?t be (?:back|using|flying|buying|ordering)|lost (?:a|another)"
        r" customer|(?:switching|switch|moving) (?:carriers|providers|companies|airlines|banks)"
        r"|(?:leaving|leave|left|dropping|ditching|ditch) (?:you|u|y'?all)\b"
        r"|take my business|about to (?:leave|switch|cancel|give up)|give up on"
        r"|(?:will not|won'?t|never) (?:ever )?(?:fly|use|buy|order|shop|return|come back"
        r"|recommend)",
        1.5,
        Kind.PROBLEM,
        "won't come back",
    ),
    Cue(
        "negative_hashtag",
        r"#\w*(?:fail|sucks?\b|sucked|worst|never|poor|bad(?!g)|terribl|awful|disappoint|fraud|scam|ripoff"
        r"|unacceptabl|angry|hate|shame|nothappy|notcool|wtf|smh|ugh|late|delay|lies|liar"
        r"|doesntcare|dontcare|nohelp|sad|mad|again)",
        1.2,
        Kind.PROBLEM,
        "negative hashtag",
    ),
    # --- generic negativity (needs a target) ---------------------------------------------
    Cue(
        "strong_negative",
        r"worst|terrible|horrible|awful|pathetic|disgrace\w*|disgust\w*|nightmare|sucks?\b"
        r"|useless|shady|disappoint\w*|frustrat\w*|annoy\w*|fed up|sick of|tired of|furious"
        r"|angry|livid|lousy|crap(?:py)?\b|trash\b|garbage|joke\b|embarrass\w*|shame on"
        r"|smd?h\b|ugh\b|ughh\w*|wtf\b|wtff\w*|ffs\b|fuck\w*|fk\b|fkn\w*|fkin\w*|shit\w*|idiot\w*"
        r"|stupid|moron\w*|pissed|liars?\b|lying\b"
        r"|damn\w*|hate\b|bs\b|come on\b|c'?mon\b|are you (?:kidding|serious)|unbelievable",
        0.9,
        Kind.NEGATIVE,
        "strong negative word",
    ),
    # --- urgency (raise severity to high) ------------------------------------------------
    Cue(
        "legal_threat",
        r"lawyer|attorney|\bsue\b|\bsued\b|suing|lawsuit|legal action|small claims|\bcourt\b"
        r"|\bbbb\b|better business bureau|consumer protection"
        r"|(?:report|complain|file|filing|filed|contact|call|calling|write|writing|tell)\w*"
        r" (?:a complaint )?(?:\w+ )?(?:to |with )?(?:the )?(?:fcc|ftc|bbb|regulator|ombudsman)"
        r"|report(?:ing)? (?:you|this) to|fraud\w*|class action",
        1.6,
        Kind.URGENT,
        "legal threat",
    ),
    Cue(
        "chargeback",
        r"charge ?back|dispute (?:the|this|a) (?:charge|transaction)|(?:call|calling|contact\w*)"
        r" my (?:bank|credit card)|credit card company",
        1.6,
        Kind.URGENT,
        "chargeback",
    ),
    Cue(
        "safety",
        r"caught fire|burst into flames|smok(?:e|ing)\b|sparks?\b|sparked|overheat\w*"
        r"|explod\w*|burn(?:ed|t)? (?:my|me|his|her|our)|injur\w*|(?:got|was|were|am|is|get"
        r"|getting|been|be) hurt|hurt (?:me|my|him|her|us|someone|somebody|people|a child)"
        r"|could (?:get|have been) (?:hurt|killed)|dangerous\b|unsafe|hazard\w*|food poisoning"
        r"|poison\w*|(?:made|got) (?:me|us|my \w+) sick|chok(?:e|ed|ing)\b|swallow\w*|allergic"
        r"|hospitali[sz]ed|in (?:the )?hospital|emergency|electrocut\w*|\bmou?ld\b"
        r"|burning (?:smell|plastic)|smells? (?:like )?burn"
        r"|is (?:this|it) safe",
        1.6,
        Kind.URGENT,
        "safety",
    ),
    Cue(
        "account_cancel",
        r"cancel+(?:ing|ed)? (?:my|our|the) (?:account|service|subscription|membership|contract"
        r"|plan|card)|clos(?:e|ing) (?:my|our) account|i'?m cancel+ing|#cancel\b"
        r"|(?:terminate|terminating|end(?:ing)?) (?:my|our) (?:service|contract|account)",
        1.6,
        Kind.URGENT,
        "closing the account",
    ),
    Cue(
        "outage",
        r"outages?|(?:is|are|was|were|been|went|goes|still|again|service|internet|wifi|network"
        r"|site|website|app|system|servers?|signal|phones?|cable|tv)\s+(?:is\s+)?down\b"
        r"|no (?:service|signal|internet|wifi|connection|power|coverage|dial tone|bars|data)\b"
        r"|dropped calls?|calls? (?:keep )?drop\w*|(?:lose|lost|losing|loses) (?:all )?(?:service"
        r"|signal|connection|internet|power|wifi|data|reception)|can'?t (?:connect|log ?in|sign ?in"
        r"|get through|make (?:a )?calls?|get online)|(?:internet|service|wifi|power)"
        r" (?:is )?out\b",
        1.4,
        Kind.URGENT,
        "outage",
    ),
    # --- sarcasm -------------------------------------------------------------------------
    Cue(
        "sarcasm",
        r"(?:love|loving|lovely|adore) (?:how|that you|it when|when|the way)|great job|good job"
        r"|well done|nice job|nice one|way to go|just great|just perfect|perfect timing"
        r"|great timing|(?:oh|just|how) (?:great|wonderful|lovely|perfect|fantastic|brilliant)"
        r"|gotta love|got to love|thanks a (?:lot|bunch|ton)|thanks again for|cool cool"
        r"|real(?:ly)? great|so helpful|great service|wonderful service|keep up the"
        r" (?:good|great) work|what a (?:great|wonderful|fantastic)|glad (?:to know|i paid)"
        r"|love being|thanks for (?:ruining|making|the (?:delay|wait))"
        r"|world[- ]class|top[- ]notch|stellar|bravo|impressive|class act|superb|(?:amazing"
        r"|excellent|outstanding|awesome|fantastic|best|stellar) (?:customer )?(?:service|job"
        r"|work|support)|(?:5|five)[- ]star",
        1.3,
        Kind.SARCASM,
        "praise used for blame",
    ),
    Cue(
        "irony",
        r"thanks? (?:for|4) nothing|yeah[, ]+right|#not\b|#sarcasm"
        r"|(?:thanks?|thx|ty) (?:again )?(?:for|4) (?:disconnecting|cancell?ing|losing|charging"
        r"|overcharging|ruining|wasting|breaking|leaving|ignoring|delaying|stranding|keeping"
        r" (?:me|us) waiting|never|not|the runaround|hanging up)"
        r"|so much for(?<!you so much for)(?<!thanks so much for)|cool cool cool|what a surprise"
        r"|shocker|colou?r me"
        r"|big surprise|good luck with that",
        1.5,
        Kind.IRONY,
        "sarcasm",
    ),
    # --- relief (toward not a complaint) -------------------------------------------------
    Cue(
        "negated_complaint",
        r"not bad|no complaints?|no (?:problems?|issues?) (?:at all|so far|with|here)"
        r"|nothing (?:wrong|bad)|can'?t complain|never (?:had|have) (?:a|any) (?:problem|issue)"
        r"|no worries|not (?:a|one) (?:single )?(?:complaint|problem|issue|fault)"
        r"|never (?:a|one) (?:single )?(?:missing|late|wrong|bad|broken|cold|dropped|delayed)"
        r"|can'?t believe how (?:good|quick|fast|easy|cheap|nice|great|well|smooth|comfy|clean)",
        -1.6,
        Kind.RELIEF,
        "says nothing is wrong",
    ),
    Cue(
        "resolved",
        r"(?:sorted|resolved|solved|taken care of|worked out|came through|all good|all set)\b"
        r"(?<!been resolved)(?<!be resolved)(?<!been sorted)(?<!be sorted)(?<!been solved)"
        r"|fixed(?<!n't fixed)(?<!not fixed)(?<!never fixed) (?:it|my|the|in|right|quickly|fast"
        r"|within)"
        r"|for (?:fixing|sorting|resolving|helping|the help|taking care)"
        r"|(?:refund|money|package|order|bag|luggage) (?:arrived|came|came through|is here"
        r"|was returned|showed up|found)(?! (?:\w+ )?(?:smashed|broken|damaged|crushed|open"
        r"|empty|late|wet|torn|dented|missing|without|wrong|but|and (?:it|the|was)))"
        r"|(?:got|received) my (?:refund|money|bag|luggage|package)"
        r"|(?:quick|fast|speedy|prompt|great|helpful|easy|smooth) (?:response|reply|service|help"
        r"|delivery|shipping|refund|replacement|resolution|fix)|went smoothly"
        r"|for (?:the|my) (?:quick |fast |speedy |prompt )?(?:refund|replacement|credit)",
        -1.3,
        Kind.RELIEF,
        "problem solved or praised",
    ),
    Cue(
        "gratitude",
        r"thank(?:s|ing|ed)?\b(?! to)|\bthx\b|\bty\b|appreciat\w*|kudos|shout ?out|props to"
        r"|grateful|love (?:you|the|my|it|this|your)|congrat\w*|well deserved",
        -0.8,
        Kind.GRATITUDE,
        "gratitude",
    ),
    # --- v2: asking without a problem, and negativity aimed elsewhere (issue 17) -----------
    # Why: help and information requests ("please advise", "how do I") state no problem.
    Cue(
        "request",
        r"(?:can|could|would|will) (?:you|u|someone|anyone|somebody) (?:please |pls |guys )?"
        r"(?:help|tell me|let me know|advise|assist|check|confirm|send|explain how|show me"
        r"|point me|look up|dm)|help me (?:get|find|update|change|with|out|book|upgrade|go"
        r"|understand|figure|choose|decide|pick|set|add|transfer|switch|move)|(?:i'?d|i would"
        r"|we'?d|we would) (?:like|love) to|is there (?:any ?way|anything|a way|an? (?:option"
        r"|number|email|app|link|form))|any chance|how (?:do|can|would|should) (?:i|we)"
        r"|let me know|please advise|(?:when|where) (?:should|can|do) (?:i|we)|who (?:can|should"
        r"|do) (?:i|we)? ?(?:help|contact|talk|speak|ask|call)|(?:do|does) (?:you|u) (?:guys )?"
        r"(?:have|offer|sell|ship|know|accept|carry|allow|fly|do)|wondering (?:if|whether|how"
        r"|when|what|where)|i need to (?:unlink|change|update|add|remove|transfer|book|know"
        r"|get|find|upgrade|switch|move|reset)|is it possible|can i (?:get|use|change|add|bring"
        r"|book|upgrade|pay|transfer|buy|order|still)|what(?:'s| is) the (?:best|easiest|fastest)"
        r" way|looking for (?:a|an|the|some|info)|quick question|question for (?:you|u)",
        -0.6,
        Kind.REQUEST,
        "asks for help or information, states no problem",
    ),
    # Why: anger at an election, a game or one's own slip is not about the brand.
    Cue(
        "elsewhere",
        r"vot(?:e|es|ed|ing)\b|election|president\w*|congress|senat(?:e|or)|politic\w*"
        r"|government|democrat\w*|republican\w*|\bgop\b|terroris\w*|sponsor\w*"
        r"|(?:the|this|that|our|their|your) (?:game|match|team|season|refs?|referee|coach"
        r"|players?|league)\b|touchdown|playoffs?|my (?:own )?fault|my bad|silly me|stupid me"
        r"|i'?m (?:such |so )?(?:an idiot|a mess|a disaster|stupid|a klutz|clumsy)"
        r"|i (?:forgot|lost|dropped|misplaced|left|broke) my|lost my \w+ (?:somewhere|again"
        r"|at (?:work|home|school))",
        -0.5,
        Kind.ELSEWHERE,
        "negativity aimed elsewhere (politics, sport, oneself)",
    ),
    # Why: the author's own slip ("I booked the wrong date", "accidentally deleted", "my fault")
    # is no breach by the brand, whatever loss or damage it names.
    Cue(
        "own_fault",
        r"my (?:own )?(?:fault|mistake|bad|error)\b|by (?:mistake|accident)|accidental+y"
        r"|(?:like|such) an idiot|silly me|stupid me|my own \w+ (?:wrong|fault)"
        r"|i (?:forgot|lost|dropped|misplaced|misread|mixed up|locked myself|ran out|scratched"
        r"|deleted|misspelled|left|broke|put|typed|wrote|picked|booked|bought|ordered|entered"
        r"|chose|selected)\b(?: \w+){0,4} (?:wrong|myself|by mistake)\b"
        r"|i (?:forgot|dropped|misplaced|misread|mixed up|locked myself|ran out|scratched"
        r"|broke) (?:my|the|our|to|it|all)\b|forgot (?:my|to)\b(?<!you forgot my)(?<!you forgot to)"
        # "I lost my order/data/progress" is what a failure of the brand's did to the author
        r"|i lost (?!(?:my|the|our|all) (?:\w+ )?(?:orders?|data|progress|money|account|booking"
        r"|files?|work|saves?|photos|points|reservation|miles|history|messages|contacts|streak"
        r"|subscription|internet|connection|signal|service|cart|basket|seat)\b)"
        r"(?:my|the|our|it|all)\b"
        r"|lost my (?:\w+ ){0,3}(?:card|phone|key|keys|ticket|wallet|cup|charger|documents|password"
        r"|codes|instructions|number|email)|(?:totally|all) (?:my (?:fault|bad|mistake)|on me)"
        r"|that'?s on me|(?:my|our) (?:cat|dog|kid|kids|son|daughter|toddler) (?:sat|pressed"
        r"|bought|ordered|broke)",
        -1.0,
        Kind.NO_BREACH,
        "the author's own doing",
    ),
    # Why: a mishap in an "if" clause ("what happens if my flight is cancelled?") is a question
    # about a policy, not a report.
    Cue(
        "hypothetical",
        r"(?:what happens|what do i do|what should i do|what'?s the process|how do i \w+ a \w+)"
        r" (?:\w+ )?if\b|if (?:my|the|a|an|i|it|we|our|your) (?:\w+ ){0,3}(?:ever|gets?|is|are"
        r"|was|were) (?:\w+ )?(?:cancell?ed|delayed|lost|damaged|late|broken|stolen|missing)"
        r"|if (?:\w+ ){0,4}ever\b|in case (?:\w+ ){0,3}(?:ever|gets?|is|goes)|just (?:want|wanted)"
        r" to know|asking (?:before|for|in case)|just comparing|before i (?:book|buy|order|sign)"
        r"|new to\b",
        -0.8,
        Kind.NO_BREACH,
        "a hypothesis, not a report",
    ),
    # Why: a refund given and thanked for ("thanks for refunding the fee so fast") closes the
    # case: the refund cue's "money owed back" no longer applies.
    Cue(
        "refund_given",
        r"refunded(?<!not refunded)(?<!n't refunded)(?<!never refunded)(?<!be refunded)"
        r"(?<!been refunded)(?! yet)|refunding|crediting"
        r"|refund (?:\w+ ){0,4}(?:received|arrived|processed|came|went through|was quick"
        r"|already|in my account|straight|in (?:minutes|\d|a day|days))"
        r"|(?:got|received|had) (?:a|my|the|full|a full) (?:\w+ )?refund|refund received",
        -1.0,
        Kind.RELIEF,
        "a refund given",
    ),
    # Why: slang praise uses complaint words ("killing it", "insanely good", "in the best way").
    Cue(
        "praise_idiom",
        r"in (?:a|the) (?:good|best) way|10/10|(?:killing|killed|crushed|smashed|nailed) it\b"
        r"|(?:insanely|stupidly|ridiculously|dangerously|absurdly|unreasonably|criminally"
        r"|sinfully|wickedly|seriously|stupid|scary) (?:good|fast|comfy|comfortable|easy|tasty"
        r"|satisfying|quick|cheap|addictive|fun|delicious|smooth)\b|game ?changer|no regrets"
        r"|(?:is|are|was) (?:a )?(?:killer|sick|fire|nuts|insane|unreal|illegal|evil|sinful"
        r"|brutal|wicked|dangerous|addictive)\b(?:,? (?:it'?s so good|i had|everyone|go try"
        r"|feature|in the best|i'?ll|but i'?m)|\s*[🔥😅]|$)|killer feature",
        -1.3,
        Kind.RELIEF,
        "praise in slang",
    ),
    # Why: the brand as the bright spot after a bad day ("awful week. @brand pizza to survive",
    # "at least @brand kept us updated") points the negativity elsewhere.
    Cue(
        "consolation",
        r"at least(?! (?:\d|one|two|an? |tell|let|give|answer|reply|respond|say|send|apologi|have"
        r"|call|offer|try|acknowledge))|(?:,|\.) anyway\b|\bthough\s*[.!]?$"
        r"|(?:to|will) (?:console|survive|forget|mourn|cope|the rescue|cheer (?:me|us) up)\b"
        r"|(?:was|is|a) (?:a )?lifesaver|saves? (?:me|the day|my sanity)|saved (?:me|the day)"
        r"|keeps? me (?:sane|going)|kept (?:me|us) (?:sane|going|updated|informed)"
        r"|the only thing (?:keeping|that|getting|i)|made up for|got me through|as a reward"
        r"|to (?:treat|reward) (?:myself|ourselves)|(?:thank god|thankfully) for|nobody'?s fault"
        r"|not (?:\S+ )?fault|not even a brand thing",
        -0.5,
        Kind.ELSEWHERE,
        "the brand is the bright spot",
    ),
    # --- noise ---------------------------------------------------------------------------
    Cue(
        "promotion",
        r"giveaway|\bwin\b|winning|enter to|sweepstakes|chance to|promo code|\bdeals?\b"
        r"|\bsale\b|sign up|download|check out|tune in|watch live|now available|coming soon"
        r"|hiring|job fair|announce\w*|unveil\w*|launch\w*|partnership|earnings|stock|shares",
        -0.6,
        Kind.NOISE,
        "news or promotion",
    ),
    Cue(
        "laughter",
        r"lol\b|lolol\w*|lmao\b|lmfao\b|rofl\b|haha\w*|hehe\w*",
        -0.8,
        Kind.NOISE,
        "joking",
    ),
    Cue(
        "brand_reply",
        r"(?:we|i) apologi[sz]e|sorry for (?:any|the) (?:inconvenience|trouble|frustration"
        r"|confusion|miscommunication|delay|experience)|(?:please|pls|kindly) (?:dm|follow"
        r"|send) us|dm us|send us (?:a|your) (?:dm|direct message|private message)"
        r"|(?:we'?re|we are) (?:here|happy) to help|we'?d (?:like|love) to help|reach out to us"
        r"|(?:sorry|sad|glad) to hear|(?:i'?m|i am) (?:so |very )?sorry (?:your|you|for|about)"
        r"|were we able|(?:do|did) you still need (?:help|assistance)",
        -1.5,
        Kind.NOISE,
        "reads like the brand's own reply",
    ),
)
"""Problem cues are deliberately broad: a borderline post is better flagged low than dropped."""
