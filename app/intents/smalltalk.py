"""Small talk the bot understands whatever the intents folder holds: greetings, thanks,
acknowledgements, goodbyes and questions about the bot (`SmallTalkAct`), and its replies.

Recognition reads what the turn already has, the message's text and its sentence vector (no
second encoder call), and only ever takes a message that is *nothing but* small talk: "hi,
where is my order?" is the question, not a greeting.

- **The text**: the lower-cased words, with repeated letters folded ("thanksss") and
  apostrophes dropped, are covered left to right by the acts' phrases ("thank you", "got it",
  "have a nice day") and by filler words ("so", "much", "for your help"); a single other word
  and the message is not small talk. A message with several acts is the last to matter:
  goodbye over thanks over an acknowledgement over a greeting ("ok thanks" thanks, "thanks,
  bye" says goodbye). Questions about the bot ("are you a bot?", "am I talking to a real
  person?") are whole-message patterns: a question, not a request for a person.
- **The vector**: a short message (at most `VECTOR_MAX_WORDS` words) whose cosine to one of
  an act's examples reaches `VECTOR_SIMILARITY` is that act ("thank you ever so much",
  "hello, anyone there?"). The built-in examples are below; a folder intent named after an
  act (`greeting`, `thanks`, `acknowledgement`, `goodbye`, `bot_question`) adds its examples,
  and its reply replaces the built-in one (`scripts/eval_human_requests.py` measures both).

The replies fit the moment: at the start "hi" greets and invites the question; after an answer
or a completed intent, thanks and acknowledgements close politely ("Glad I could help…").
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence

import numpy as np
from cachetools import LRUCache

from app.intents.definitions import IntentCatalog
from app.policy.decision import DecisionKind, SmallTalkAct

Encode = Callable[[list[str]], Awaitable[np.ndarray]]

VECTOR_SIMILARITY = 0.85  # smalltalk.csv: accuracy flat from 0.75 to 0.95 (eval --tune)
VECTOR_MAX_WORDS = 6
MAX_WORDS = 14


def _listed(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split("|") if part.strip())


_PHRASES: dict[SmallTalkAct, tuple[str, ...]] = {
    SmallTalkAct.GREETING: _listed(
        "hi | hello | hey | hiya | heya | howdy | yo | hola | greetings | good morning |"
        "good afternoon | good evening | morning | afternoon | evening | whats up | sup |"
        "how are you | how are you doing | hows it going | hope youre well | hi hi |"
        "hello hello | anyone there | is anyone there | anybody there | is anybody there |"
        "good day | hullo | hallo | hey all | hi folks | hey folks | hello folks"
    ),
    SmallTalkAct.THANKS: _listed(
        "thanks | thank you | thank u | thx | thnx | thanx | thnks | ty | tysm | tyvm |"
        "thankyou | many thanks | much appreciated | appreciate it | i appreciate it |"
        "appreciated | i appreciate that | ta | appreciate | thanks a bunch | thanks a million |"
        "thanks loads | big thanks | thanks again"
    ),
    SmallTalkAct.ACKNOWLEDGEMENT: _listed(
        "ok | okay | okey | okie | k | kk | got it | gotcha | cheers | perfect | great | cool |"
        "alright | all right | sure | understood | i understand | i see | noted | fine | nice |"
        "awesome | sounds good | makes sense | that makes sense | excellent | brilliant |"
        "lovely | good | very good | fair enough | will do | that helps | that helped |"
        "thats helpful | helpful | that works | works for me | good to know | thats great |"
        "thats perfect | thats fine | thats good | amazing | wonderful | fantastic | super |"
        "ok then | right | ah ok | oh ok | i got it | no problem | no worries | nice one |"
        "roger | roger that | good stuff | clear | thats clear | fine by me | thats brilliant |"
        "thats helpful | thats useful"
    ),
    SmallTalkAct.GOODBYE: _listed(
        "bye | goodbye | bye bye | byebye | see you | see ya | see you later | later |"
        "take care | have a nice day | have a good day | have a great day | have a good one |"
        "have a nice evening | good night | thats all | that is all | thats it |"
        "thats everything | nothing else | im done | all done | im all set | all set |"
        "no more questions | thats all i needed | that was all | ciao | catch you later |"
        "goodnight | thats all i wanted | done for now | until next time | talk soon |"
        + " | ".join(
            f"have a {adjective} {when}"
            for adjective in ("nice", "good", "great", "lovely", "wonderful")
            for when in ("day", "evening", "weekend", "night", "one")
        )
    ),
}
_FILLER = frozenset(
    _listed(
        "so | much | very | a | lot | again | for | your | the | help | that | this | all |"
        "everyone | there | team | bot | guys | mate | buddy | you | u | really | indeed | just |"
        "oh | ah | um | hmm | well | then | now | and | no | yes | yeah | info | information |"
        "answer | reply | response | quick | advice | support | time | it | was | is | ever |"
        "kind | of | yep | yup | folks"
    )
)
_ORDER = (
    SmallTalkAct.GOODBYE,
    SmallTalkAct.THANKS,
    SmallTalkAct.ACKNOWLEDGEMENT,
    SmallTalkAct.GREETING,
)
_BOT = (
    r"(a |an |really a |really an |just a |actually a )?(real |actual |live )?"
    r"(bot|robot|human|person|ai|machine|computer|chat ?bot|program|human being|real|automated)"
)
_OR_BOT = r"( or (a |an )?(real |actual )?(bot|robot|human|person|ai|machine|computer|not))?"
_BOT_QUESTIONS = tuple(
    re.compile(p)
    for p in (
        rf"^((so|hey|hi|wait|um|quick question) )?(are|r) (you|u) {_BOT}{_OR_BOT}$",
        rf"^(am i|are we) (talking|chatting|speaking|typing) (to|with) {_BOT}{_OR_BOT}$",
        rf"^is (this|that|it) {_BOT}{_OR_BOT}( (chat|reply|replying|answering|typing|here))?$",
        r"^(who|what) (am i|are we) (talking|chatting|speaking) (to|with)( here| now)?$",
        r"^(who|what) are you$",
        r"^is (this|the) chat (automated|a bot|a robot|run by a bot)$",
        rf"^(youre|you are) {_BOT}( right| arent you| yes| then)?$",
    )
)

# "thanks for <what was done>", whatever it was (a few words).
# Not thanks: "thanks for nothing", "thanks for the refund but where is it".
_NOT_THANKS = frozenset(
    _listed(
        "nothing | but | where | when | how | what | why | can | could | do | does | still |"
        "not | never | wasting | again"
    )
)
_THANKS_FOR = re.compile(r"^(?:thanks|thank you|thank u|thx|many thanks|ty) for ((?:\w+ ?){1,6})$")

EXAMPLES: dict[SmallTalkAct, tuple[str, ...]] = {
    SmallTalkAct.GREETING: _listed(
        "hi | hello | hey there | good morning | hi, anyone there? | hello, how are you?"
    ),
    SmallTalkAct.THANKS: _listed(
        "thanks | thank you so much | thanks a lot, that helped | thank you for your help |"
        "many thanks | much appreciated"
    ),
    SmallTalkAct.ACKNOWLEDGEMENT: _listed(
        "ok | got it | cheers | perfect | great | sounds good | alright then | that makes sense"
    ),
    SmallTalkAct.GOODBYE: _listed(
        "bye | goodbye | see you later | have a nice day | that's all, bye | that's everything"
    ),
    SmallTalkAct.BOT_QUESTION: _listed(
        "are you a bot? | am I talking to a real person? | is this a robot? | are you human? |"
        "are you an AI?"
    ),
}

REPLIES_AFTER_HELP = {
    SmallTalkAct.THANKS: "Glad I could help! Is there anything else I can help you with?",
    SmallTalkAct.ACKNOWLEDGEMENT: (
        "Glad I could help. Is there anything else I can help you with?"
    ),
    SmallTalkAct.GOODBYE: "Glad I could help. Thanks for chatting with us, and goodbye!",
    SmallTalkAct.GREETING: "Hello again! What else can I help you with?",
}
REPLIES_AT_START = {
    SmallTalkAct.GREETING: "Hi! What can I help you with today?",
    SmallTalkAct.THANKS: "You're welcome! What can I help you with?",
    SmallTalkAct.ACKNOWLEDGEMENT: "OK. What can I help you with?",
    SmallTalkAct.GOODBYE: "Thanks for stopping by. Goodbye!",
}
REPLIES = {
    SmallTalkAct.GREETING: "Hello again! What else can I help you with?",
    SmallTalkAct.THANKS: "You're welcome! Is there anything else I can help you with?",
    SmallTalkAct.ACKNOWLEDGEMENT: "OK. Tell me what you need, and I'll do my best to help.",
    SmallTalkAct.GOODBYE: "Thanks for chatting with us. Goodbye!",
    SmallTalkAct.BOT_QUESTION: (
        "I'm an automated assistant, not a person. I can answer most questions right here, and "
        "if you'd rather talk to someone from our team, just say so."
    ),
}
HELPED = (DecisionKind.ANSWER.value, DecisionKind.RUN_INTENT.value)

_examples: LRUCache[tuple[str, tuple[str, ...]], np.ndarray] = LRUCache(maxsize=8)


def words(text: str) -> list[str]:
    """The message's words as small talk is read: lower case, no apostrophes or punctuation,
    letters repeated three times or more folded to one ("thanksss", "hiii")."""
    normal = text.lower().replace("\u2019", "").replace("'", "")
    normal = re.sub(r"(\w)\1{2,}", r"\1", normal)
    return re.findall(r"[a-z0-9]+", normal)


_LONGEST = max(len(p.split()) for phrases in _PHRASES.values() for p in phrases)
_PHRASE_ACT = {
    tuple(phrase.split()): act for act, phrases in _PHRASES.items() for phrase in phrases
}


def lexical_act(text: str) -> SmallTalkAct | None:
    """The act `text` is nothing but, read from its words alone; None for anything else."""
    tokens = words(text)
    if not tokens or len(tokens) > MAX_WORDS:
        return None
    joined = " ".join(tokens)
    if any(pattern.match(joined) for pattern in _BOT_QUESTIONS):
        return SmallTalkAct.BOT_QUESTION
    thanked = _THANKS_FOR.match(joined)
    if thanked and not _NOT_THANKS.intersection(thanked.group(1).split()):
        return SmallTalkAct.THANKS
    found: set[SmallTalkAct] = set()
    at = 0
    while at < len(tokens):
        for size in range(min(_LONGEST, len(tokens) - at), 0, -1):
            act = _PHRASE_ACT.get(tuple(tokens[at : at + size]))
            if act is not None:
                found.add(act)
                at += size
                break
        else:
            if tokens[at] not in _FILLER:
                return None
            at += 1
    return next((act for act in _ORDER if act in found), None)


class SmallTalk:
    """Recognises small talk from a message's text and vector. Immutable once built."""

    def __init__(self, vectors: np.ndarray, acts: Sequence[SmallTalkAct]) -> None:
        self._vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._acts = tuple(acts)

    @classmethod
    async def start(
        cls, catalog: IntentCatalog, encode: Encode, *, model_key: str | None = None
    ) -> SmallTalk:
        """The built-in examples plus those of folder intents named after an act, encoded
        (once per process for the same texts and encoder `model_key`)."""
        texts: list[str] = []
        acts: list[SmallTalkAct] = []
        for act in SmallTalkAct:
            own = catalog.intents.get(act.value)
            for text in (*EXAMPLES.get(act, ()), *(own.examples if own else ())):
                texts.append(text)
                acts.append(act)
        key = (model_key or "", tuple(texts))
        vectors = _examples.get(key) if model_key is not None else None
        if vectors is None:
            vectors = np.asarray(await encode(texts), dtype=np.float32)
            if model_key is not None:
                _examples[key] = vectors
        return cls(vectors, acts)

    def read_many(self, texts: Sequence[str], vectors: np.ndarray) -> list[str | None]:
        """The act each message is nothing but (`vectors[i]` is the vector of `texts[i]`), or
        None."""
        similarities = np.atleast_2d(np.asarray(vectors, dtype=np.float32)) @ self._vectors.T
        out: list[str | None] = []
        for text, row in zip(texts, similarities, strict=True):
            act = lexical_act(text)
            if act is None and len(words(text)) <= VECTOR_MAX_WORDS and len(row):
                best = int(np.argmax(row))
                if float(row[best]) >= VECTOR_SIMILARITY:
                    act = self._acts[best]
            out.append(act.value if act is not None else None)
        return out


def smalltalk_reply(act: str, last_kind: str | None, custom: str | None = None) -> str:
    """The reply to small talk `act` after a bot turn of `last_kind` (None: the conversation's
    first message); `custom`, a folder intent's own reply, replaces the built-in one."""
    if custom:
        return custom
    which = SmallTalkAct(act)
    if last_kind is None:
        table = REPLIES_AT_START
    elif last_kind in HELPED:
        table = REPLIES_AFTER_HELP
    else:
        table = REPLIES
    return table.get(which) or REPLIES[which]
