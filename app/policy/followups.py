"""Which reading of a message the policy acts on: the message alone, or the message in the
context of the conversation's topic (pure, no I/O).

A turn after the first is read twice from the same encoder vector: alone, and mixed with the
topic the conversation is on (the vector of the reading the previous turn acted on). Each
reading's strength is its calibrated confidence, the probability that its best article or
intent is right (`kb_confidence` and the intent's confidence share one scale).

- A message whose reading alone is **decisive** (an article above the answer threshold with
  no close neighbour, or an accepted intent) keeps it: a real change of topic, even one that
  opens with "and" or "what about", names its own subject. Only a short message that points
  back with a pronoun ("do they expire?", "is that free?") is read in context instead, unless
  the context reading is weaker by more than `followup_cue_slack`: its own words may match
  something else well ("expire" and the rewards points) while "they" are the gift cards.
- Otherwise the context reading wins when it is more likely to be right by
  `followup_margin`, or, when the wording leans on the previous turn ("and for express?",
  "how much does that cost?"), unless it is weaker by more than `followup_cue_slack`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.policy.decision import IntentSignal, routes_intent
from app.policy.settings import PolicySettings

# Words and openings by which a message leans on what was said before it.
_LEADS = re.compile(
    r"^\W*(and|also|plus|or|but|so|then|what about|how about|same for|same with|and if|"
    r"what if|is that|does that|do they|are they|is it|does it|can it|will it|can i also)\b"
)
_ANAPHORA = re.compile(
    r"\b(it|its|it's|that|this|those|these|they|them|their|there|one|ones|same|either|both)\b"
)
CUE_MAX_WORDS = 10
POINTER_MAX_WORDS = 8


# The "there" of "is there" points at nothing.
_EXISTENTIAL = re.compile(r"\b(is|are|was|were|isn't|aren't) there\b")


def _normal(text: str) -> str:
    return " ".join(text.lower().replace("\u2019", "'").split())


def _pronouns(normal: str) -> bool:
    return bool(_ANAPHORA.search(_EXISTENTIAL.sub(" ", normal)))


def leans_on_context(text: str) -> bool:
    """Whether a short message's wording points back at the previous turn: an opening such as
    "and", "what about", "does it", or a pronoun (it, that, they, …) in at most 10 words."""
    normal = _normal(text)
    if len(normal.split()) > CUE_MAX_WORDS:
        return False
    return bool(_LEADS.search(normal)) or _pronouns(normal)


def points_back(text: str) -> bool:
    """Whether a message of at most 8 words refers back with a pronoun ("do they expire?")."""
    normal = _normal(text)
    return len(normal.split()) <= POINTER_MAX_WORDS and _pronouns(normal)


@dataclass(frozen=True)
class ReadingStrength:
    """How likely a reading's best article or intent is right (calibrated, 0 to 1), and
    whether the policy would act on it as it stands (answer or run, not ask back)."""

    kb_confidence: float
    intent_confidence: float
    decisive: bool = False

    @property
    def best(self) -> float:
        """The stronger of the two."""
        return max(self.kb_confidence, self.intent_confidence)


def decisive(scores: list[float], intent: IntentSignal | None, settings: PolicySettings) -> bool:
    """Whether a reading with these article `scores` (best first) and intent would be acted
    on: an intent the policy routes to, or an article above the answer threshold with no
    neighbour within the ambiguity margin."""
    if intent is not None and routes_intent(intent, settings):
        return True
    if not scores or scores[0] < settings.answer_threshold:
        return False
    return len(scores) < 2 or scores[0] - scores[1] >= settings.ambiguity_margin


def prefer_context(
    alone: ReadingStrength,
    context: ReadingStrength,
    *,
    cue: bool,
    pointer: bool,
    settings: PolicySettings,
) -> bool:
    """Whether the policy should act on the context reading rather than the message alone
    (`cue`: the wording leans on the previous turn; `pointer`: a short message with a
    pronoun pointing back)."""
    if alone.decisive and not pointer:
        return False
    if cue or pointer:
        return context.best >= alone.best - settings.followup_cue_slack
    return context.best >= alone.best + settings.followup_margin
