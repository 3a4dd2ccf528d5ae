"""The filter's matching, without the API: each way of disguising a word, each ordinary word
that contains one (CONTRACT section 3, Filtering)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.api.app import create_app
from services.api.filtering.matcher import Matcher, built_in
from tests.support import make_settings

DISGUISED = {
    "consonants only": "ㅅㅂ",
    "consonants spaced out": "ㅅ ㅂ",
    "consonants among laughter": "ㅋㅋㅋㅅㅂㅋㅋ",
    "a cluster consonant": "ㅄ",
    "a digit inside": "시1발",
    "syllables spaced out": "씨 발",
    "a digit between spaced syllables": "씨 1 발",
    "dashes between spaced letters": "f - u - c - k",
    "symbols inside": "병.신",
    "typed jamo by jamo": "ㅅㅣㅂㅏㄹ",
    "a particle attached": "개새끼야",
    "dotted letters": "s.h.i.t",
    "spaced letters": "f u c k",
    "spaced and dotted letters": "f.u c.k",
    "leetspeak digits": "sh1t",
    "digits slipped between letters": "f1uck",
    "any digit slipped in": "s2hit",
    "leetspeak symbols": "$h!t",
    "stretched letters": "fuuuuck",
    "an ending": "fucking",
    "capitals": "FuCk",
    "full-width letters": "ｆｕｃｋ",
    "a Cyrillic look-alike": "fuсk",
    "a phrase": "piece of shit",
    "a phrase run together": "pieceofshit",
    "Korean typed on an English keyboard": "tlqkf",
    "an emoji": "🖕",
    "inside a sentence": "오늘 산책 시1발 너무 힘들었음",
    "an ordinary word beside a listed one": "시발점 시발",
}

ORDINARY = {
    "시발점 (starting point)": "시발점",
    "Scunthorpe": "Scunthorpe",
    "assistant": "assistant",
    "classic": "classic",
    "Sussex": "Sussex",
    "Penistone": "Penistone",
    "a Shiba Inu": "시바견이랑 산책",
    "a stroller": "유모차 타고 나갔어요",
    "don't look": "보지 마",
    "a chew toy": "씹는 장난감",
    "a cocker spaniel": "cocker spaniel",
    "cumin": "cumin",
    "paws after a walk": "산책 시 발바닥 닦기",
    "a dog's puppies": "우리 개 새끼들",
    "a final before an initial": "것보다 좋아요, 다섯번",
    "laughter": "ㅋㅋㅋ ㅎㅎ",
    "a date": "2024년 1월 5일",
    "single letters": "I am a b c",
    "a childhood friend": "불알친구랑 산책",
    "glasses and passes": "glasses passes assassin",
}


@pytest.mark.parametrize("text", DISGUISED.values(), ids=DISGUISED.keys())
def test_a_listed_word_is_found_however_it_is_disguised(text: str) -> None:
    assert built_in().objectionable(text)


@pytest.mark.parametrize("text", ORDINARY.values(), ids=ORDINARY.keys())
def test_an_ordinary_word_that_contains_a_listed_one_passes(text: str) -> None:
    assert not built_in().objectionable(text)


def test_the_operators_words_are_added_to_the_built_in_ones(tmp_path: Path) -> None:
    extra = tmp_path / "words.txt"
    extra.write_text("# ours\n멍청이\n\nsnoot boop\n", encoding="utf-8")
    matcher = Matcher.load(extra)
    assert matcher.objectionable("멍 청 이")
    assert matcher.objectionable("snoot b00p")
    assert matcher.objectionable("ㅅㅂ")
    assert not built_in().objectionable("멍청이")


def test_a_moderation_wordlist_file_that_cannot_be_read_stops_the_service(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        create_app(
            make_settings(
                "postgresql://unused@127.0.0.1:1/x",
                "redis://127.0.0.1:1/0",
                moderation_wordlist_file=str(tmp_path / "missing.txt"),
            )
        )
    create_app(make_settings("postgresql://unused@127.0.0.1:1/x", "redis://127.0.0.1:1/0"))
