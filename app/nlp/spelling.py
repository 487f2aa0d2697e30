"""Misspellings, run-together words and chat shorthand mended before a message is encoded, so
that "wher is my ordr" and "whats ur retrun polcy" reach the models as the words they mean.

`Speller` is SymSpell (symspellpy, MIT) over the business's own words (every word of the
knowledge base and the intents' examples, learnt again when the knowledge changes) and the
most frequent English words of symspellpy's bundled frequency list. Only a word it does not
know is touched, so a message typed correctly reaches the encoder unchanged:

- a run-together word that splits into common words of three letters or more ("howlong",
  "returnpolicy") is split;
- otherwise the closest known word within one edit (two for words of 8 letters or more) is
  taken (the business's own word when it is as close as any English one);
- a few chat shorthands of one or two letters ("u", "ur", "pls") are spelt out (too short to
  correct by edits without guessing).

Words with digits, capitals inside (codes such as "LS-10041", "GST/HST"), e-mail addresses,
links and words of fewer than four letters are never changed. The original text is what is
stored and shown; the mended one is what is read.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from symspellpy import SymSpell, Verbosity

GENERAL_WORDS = 20_000  # the most frequent English words (of 82,765) the speller knows
COMMON_WORDS = 3_000  # a run-together word splits only into these (or the business's own)
MIN_LENGTH = 4  # shorter words are left alone (too many real words are one edit apart)
LONG_WORD = 8  # words this long may be two edits off
_WORD = re.compile(r"^([^A-Za-z]*)([A-Za-z]+(?:'[a-z]+)?)([^A-Za-z]*)$")
_LEARN = re.compile(r"[a-z]+")
SHORTHAND = {
    "u": "you",
    "ur": "your",
    "r": "are",
    "pls": "please",
    "plz": "please",
    "thx": "thanks",
    "ty": "thank you",
    "msg": "message",
    "wat": "what",
    "wen": "when",
    "b4": "before",
    "acct": "account",
    "pw": "password",
    "pwd": "password",
    "addr": "address",
    "asap": "as soon as possible",
    "cant": "can't",
    "dont": "don't",
    "doesnt": "doesn't",
    "wont": "won't",
    "im": "I'm",
    "ive": "I've",
    "whats": "what's",
}


def _general_words(limit: int) -> Iterable[tuple[str, int]]:
    source = resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    with source.open("r", encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            if number >= limit:
                return
            word, count = line.split()
            yield word, int(count)


@dataclass(frozen=True)
class _English:
    """The general English dictionary, built once per process and never changed."""

    lookup: SymSpell  # up to two edits
    segmenter: SymSpell  # exact words only, for splitting run-together words
    common: frozenset[str]


_english_lock = threading.Lock()


@cache
def _english_unlocked() -> _English:
    lookup = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
    segmenter = SymSpell(max_dictionary_edit_distance=0, prefix_length=7)
    for word, count in _general_words(GENERAL_WORDS):
        lookup.create_dictionary_entry(word, count)
        segmenter.create_dictionary_entry(word, count)
    common = frozenset(word for word, _ in _general_words(COMMON_WORDS))
    return _English(lookup, segmenter, common)


def english() -> _English:
    """The shared general dictionary (about 2 s to build on 2 cores, the first time)."""
    with _english_lock:
        return _english_unlocked()


class Speller:
    """Mends the words of a message that it does not know (see the module docstring)."""

    def __init__(self) -> None:
        self._english = english()
        self._own = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        self._own_words: frozenset[str] = frozenset()

    def learn(self, texts: Iterable[str]) -> int:
        """Know the words of `texts` (articles, intent examples) as the business's own, in
        place of those learnt before; returns how many there are."""
        words = frozenset(w for text in texts for w in _LEARN.findall(text.lower()) if len(w) > 1)
        if words == self._own_words:
            return len(words)
        own = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        for word in words:
            own.create_dictionary_entry(word, 1)
        self._own, self._own_words = own, words  # swapped together, read without a lock
        return len(words)

    def known(self, word: str) -> bool:
        """Whether `word` (lower case) is a word the speller knows."""
        return word in self._own_words or word in self._english.lookup.words

    def _closest(self, word: str, distance: int) -> str | None:
        own = self._own.lookup(word, Verbosity.TOP, max_edit_distance=distance)
        general = self._english.lookup.lookup(word, Verbosity.TOP, max_edit_distance=distance)
        if own and (not general or own[0].distance <= general[0].distance):
            return str(own[0].term)
        return str(general[0].term) if general else None

    def _mend(self, word: str) -> str | None:
        lower = word.lower()
        if lower in SHORTHAND:
            return SHORTHAND[lower]
        if len(lower) < MIN_LENGTH or self.known(lower) or "'" in lower:
            return None
        if word[1:] != word[1:].lower():
            return None  # a code or a name written with capitals inside
        split = self._english.segmenter.word_segmentation(lower, max_edit_distance=0)
        parts = split.corrected_string.split()
        if len(parts) > 1 and all(
            len(p) >= 3 and (p in self._english.common or p in self._own_words) for p in parts
        ):
            return str(split.corrected_string)
        return self._closest(lower, 2 if len(lower) >= LONG_WORD else 1)

    def correct(self, text: str) -> str:
        """`text` with its unknown words mended (unchanged when every word is known)."""
        mended = False
        out = []
        for token in text.split(" "):
            match = _WORD.match(token)
            fixed = None
            if match and "@" not in token and "/" not in match.group(3):
                fixed = self._mend(match.group(2))
            if fixed is None or match is None:
                out.append(token)
                continue
            mended = True
            out.append(f"{match.group(1)}{fixed}{match.group(3)}")
        return " ".join(out) if mended else text
