"""Finding an objectionable word in text, through the ways people dodge a filter.

Every text and every list entry goes through the same normalisation: NFKC (full-width letters,
compatibility jamo such as `ㅅ`), case folding, accents dropped, look-alike Cyrillic letters
read as Latin. Then two matchers, one a script:

- English, by whole words: a word is the Latin letters of a run without spaces, with leetspeak
  read as letters (`sh1t`, `$h!t`, `a55`) and symbols between letters dropped (`s.h.i.t`);
  a run of single letters is one word (`f u c k`); a letter typed three times or more to
  stretch a word counts once (`fuuuck`). A listed word matches alone or with a common ending
  (`fucking`, `shits`), never inside another word, so `Scunthorpe`, `assistant`, `classic` and
  `Sussex` pass.
  Entries with spaces are phrases, matched on the words in order.
- Korean, inside words (particles and endings attach to them), on jamo rather than syllables:
  `씨발`, `씨 발`, `씨1발`, `ㅆ ㅣ 발` and `ㅅㅂ` (an entry written in consonants) are all
  sequences of jamo, read with digits, Latin letters and symbols inside a run dropped, and
  runs of one syllable or one jamo joined. Jamo typed one by one are assembled as an input
  method would (`ㅅㅣㅂㅏㄹ` is `시발`).

The allow-list is checked first: an ordinary word that contains an entry (`시발점`) hides that
entry inside it, so `시발점` passes and `시발점 시발` does not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_HERE = Path(__file__).parent
BUILT_IN_WORDS = _HERE / "wordlist.txt"
BUILT_IN_ALLOWED = _HERE / "allowlist.txt"

# Endings that keep a listed English word a match (`fuck` + `ing`); longest first.
_ENDINGS = ("heads", "head", "ings", "ing", "ers", "ies", "er", "es", "ed", "in", "y", "s")

# Leetspeak, read as the letter it stands for, inside a run that holds a letter (`2024` is a
# number, `sh1t` a word). `1` and `|` may be `i` or `l`: both readings are tried.
_LEET_SYMBOLS = "@$!+|€£"
_LEET = {"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a"}
_LEET |= {"$": "s", "!": "i", "+": "t", "€": "e", "£": "l"}
_LEET_I = str.maketrans({**_LEET, "1": "i", "|": "i"})
_LEET_L = str.maketrans({**_LEET, "1": "l", "|": "l"})
# Cyrillic letters that look like Latin ones (after case folding), read as those.
_LOOK_ALIKES = str.maketrans(dict(zip("аеорсухіјѕԁ", "aeopcyxijsd", strict=True)))
_DIGITS = re.compile("[0-9]")
# A run of letters, digits and leetspeak symbols: one word, whatever separates it from the next.
_RUN = re.compile(f"[a-z0-9{re.escape(_LEET_SYMBOLS)}]+")
_LATIN_WORD = re.compile("[a-z]+")
_LETTER = re.compile("[a-z]")
# Combining marks left by decomposition (`ü` → `u` + U+0308), dropped.
_ACCENTS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")


def _is_jongseong(c: str) -> bool:
    return "\u11a8" <= c <= "\u11ff"


def _is_jamo(c: str) -> bool:
    return "\u1100" <= c <= "\u11ff"


def _jamo_tables() -> tuple[dict[str, str], dict[str, str]]:
    """(A final or a cluster as initials: `ㄳ` → `ㄱㅅ`; an initial as its final: `ㄹ`.)"""
    initial_by_name = {}
    for code in range(0x1100, 0x1160):
        name = unicodedata.name(chr(code), "").removeprefix("HANGUL CHOSEONG ")
        initial_by_name[name] = chr(code)
    as_initials: dict[str, str] = {}
    as_final: dict[str, str] = {}
    for code in [*range(0x1100, 0x1160), *range(0x11A8, 0x1200)]:
        c = chr(code)
        name = unicodedata.name(c, "")
        short = name.removeprefix("HANGUL CHOSEONG ").removeprefix("HANGUL JONGSEONG ")
        parts = short.split("-")
        if all(p in initial_by_name for p in parts) and (len(parts) > 1 or _is_jongseong(c)):
            as_initials[c] = "".join(initial_by_name[p] for p in parts)
        if _is_jongseong(c) and short in initial_by_name:
            as_final.setdefault(initial_by_name[short], c)
    return as_initials, as_final


_AS_INITIALS, _AS_FINAL = _jamo_tables()


def fold(text: str) -> str:
    """NFKC, case folded, syllables decomposed to jamo, accents dropped, look-alikes read."""
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text).casefold())
    return _ACCENTS.sub("", decomposed).translate(_LOOK_ALIKES)


_VOWEL = "[\u1160-\u11a7]"
_BARE_CLUSTER = re.compile(f"(?<!{_VOWEL})[{''.join(_AS_INITIALS)}]")
_BARE_FINAL = re.compile(f"(?<={_VOWEL})[{''.join(_AS_FINAL)}](?!{_VOWEL})")
_NOT_JAMO = re.compile("[^\u1100-\u11ff]+")


def assemble_jamo(jamo: str) -> str:
    """Jamo as an input method assembles them: a final or a cluster with no vowel before it is
    read as initials (`ㅄ` → `ㅂㅅ`), an initial between a vowel and a non-vowel as a final."""
    spread = _BARE_CLUSTER.sub(lambda m: _AS_INITIALS[m[0]], jamo)
    return _BARE_FINAL.sub(lambda m: _AS_FINAL[m[0]], spread)


_STRETCHED = re.compile(r"(.)\1\1")


def _collapse(word: str) -> str:
    """Letters repeated in a row, once (`fuuuck` → `fuck`)."""
    return re.sub(r"(.)\1+", r"\1", word)


def _read_lines(path: Path | str) -> Iterator[str]:
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            yield entry


@dataclass(frozen=True, slots=True)
class _Entries:
    """One list (the objectionable words, or the allowed ones), ready to match."""

    english: frozenset[str]
    english_collapsed: frozenset[str]
    phrases: re.Pattern[str] | None
    korean: re.Pattern[str] | None
    symbols: tuple[str, ...]

    @classmethod
    def of(cls, entries: Iterable[str]) -> _Entries:
        english: set[str] = set()
        phrases: list[str] = []
        korean: set[str] = set()
        symbols: set[str] = set()
        for entry in entries:
            folded = fold(entry)
            if any(_is_jamo(c) for c in folded):
                korean.add(assemble_jamo(_NOT_JAMO.sub("", folded)))
            elif words := _LATIN_WORD.findall(folded.translate(_LEET_I)):
                if len(words) == 1:
                    english.add(words[0])
                else:
                    phrases.append(" ?".join(words))
            elif folded.strip():
                symbols.add(folded.strip())
        return cls(
            english=frozenset(english),
            english_collapsed=frozenset(_collapse(w) for w in english),
            phrases=_alternation(phrases, r"(?<![a-z])(?:{})(?![a-z])"),
            korean=_alternation(sorted(map(re.escape, korean), key=len, reverse=True), "{}"),
            symbols=tuple(sorted(symbols)),
        )


def _alternation(patterns: list[str], frame: str) -> re.Pattern[str] | None:
    return re.compile(frame.format("|".join(patterns))) if patterns else None


def _listed_word(word: str, listed: frozenset[str]) -> bool:
    """`word` is a listed English word, alone or with an ending."""
    if word in listed:
        return True
    return any(word.endswith(e) and word[: -len(e)] in listed for e in _ENDINGS)


def _read_leet(run: str) -> list[str]:
    """The words a run may be: leetspeak read as letters (`1` as `i`, then as `l`), again
    without the symbols at its ends (`ass!` is `ass`, not `assi`), and without the digits
    slipped between its letters (`f1uck`, `s2hit`)."""
    trimmed = run.strip(_LEET_SYMBOLS) or run
    readings = [
        r.translate(table) for r in dict.fromkeys((run, trimmed)) for table in (_LEET_I, _LEET_L)
    ]
    undigited = _DIGITS.sub("", trimmed)
    if undigited != trimmed and _LETTER.search(undigited):
        readings.append(undigited.translate(_LEET_I))
    return readings


@dataclass(frozen=True, slots=True)
class _Readings:
    """The ways a text can be read: its English words, its line of words, its Korean runs."""

    words: frozenset[str]
    # Words stretched by a letter typed three times or more (`fuuuck`; English doubles a
    # letter, never triples one), with every repeat squeezed to one letter.
    stretched: frozenset[str]
    line: str
    korean: str
    folded: str

    @classmethod
    def of(cls, text: str) -> _Readings:
        folded = fold(text)
        words: set[str] = set()
        stretched: set[str] = set()
        line: list[str] = []
        korean: list[str] = []
        letters_run: list[str] = []  # single letters spaced out: `f u c k`, `f.u c.k`
        jamo_run: list[str] = []  # single syllables or jamo spaced out: `씨 발`, `ㅅ ㅂ`

        def end_letters() -> None:
            if letters_run:
                words.add("".join(letters_run))
                line.append("".join(letters_run))
            letters_run.clear()

        def end_jamo() -> None:
            if jamo_run:
                korean.append(assemble_jamo("".join(jamo_run)))
            jamo_run.clear()

        for token in folded.split():
            jamo = _NOT_JAMO.sub("", token)
            letters = []  # the token's words as first read; single letters join a run
            for run in _RUN.findall(token):
                if not _LETTER.search(run):
                    continue
                readings = _read_leet(run)
                words.update(readings)
                if _STRETCHED.search(run):
                    stretched.update(_collapse(r) for r in readings)
                letters.append(readings[0])
            if len(letters) > 1:
                words.add("".join(letters))
            if not letters and not jamo:
                continue  # digits or symbols alone separate nothing: `씨 1 발`, `f - u - c - k`
            if not jamo and all(len(p) == 1 for p in letters):
                end_jamo()
                letters_run.extend(letters)
                continue
            end_letters()
            if jamo and not letters and len(unicodedata.normalize("NFC", jamo)) == 1:
                jamo_run.append(jamo)
                continue
            end_jamo()
            if letters:
                line.append("".join(letters))
            if jamo:
                korean.append(assemble_jamo(jamo))
        end_letters()
        end_jamo()
        return cls(
            frozenset(words), frozenset(stretched), " ".join(line), "\x00".join(korean), folded
        )


class Matcher:
    """The objectionable words and the ordinary words that contain one, compiled once."""

    def __init__(self, listed: Iterable[str], allowed: Iterable[str]) -> None:
        self._listed = _Entries.of(listed)
        self._allowed = _Entries.of(allowed)

    @classmethod
    def load(cls, extra_words_file: str | Path | None = None) -> Matcher:
        """The built-in lists, plus one word a line from `extra_words_file` when given."""
        listed = list(_read_lines(BUILT_IN_WORDS))
        if extra_words_file:
            listed += _read_lines(extra_words_file)
        return cls(listed, _read_lines(BUILT_IN_ALLOWED))

    def objectionable(self, text: str) -> bool:
        """Whether `text` holds a listed word, however it is spaced, spelled or decomposed."""
        readings = _Readings.of(text)
        listed, allowed = self._listed, self._allowed
        if any(s in readings.folded for s in listed.symbols):
            return True
        for word in readings.words:
            if word not in allowed.english and _listed_word(word, listed.english):
                return True
        for word in readings.stretched:
            if _listed_word(word, listed.english_collapsed):
                return True
        if listed.phrases and listed.phrases.search(readings.line):
            return True
        if listed.korean and readings.korean:
            korean = readings.korean
            if allowed.korean:
                korean = allowed.korean.sub("\x00", korean)
            if listed.korean.search(korean):
                return True
        return False


@cache
def built_in() -> Matcher:
    return Matcher.load()
