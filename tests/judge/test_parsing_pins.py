"""Pins of the judge's reply parser that the mutation run found loose (issue 18).

Every number word, the example format on both sides of n = 8, and the exact reasons a rejected
reply is given (what a person reading the run's log sees).
"""

from __future__ import annotations

import pytest

from karena.judge.parsing import UnparseableReply, format_example, parse_ranking

WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def test_every_number_word_is_its_number() -> None:
    reply = ", ".join(f"Image {w}" for w in reversed(WORDS))
    assert parse_ranking(reply, 10) == tuple(range(9, -1, -1))
    for i, word in enumerate(WORDS):
        others = [str(j + 1) for j in range(10) if j != i]
        text = f"Image {word.upper()}, " + ", ".join(f"Image {o}" for o in others)
        assert parse_ranking(text, 10)[0] == i, word


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (2, "Image 1, Image 2"),
        (3, "Image 3, Image 1, Image 2"),
        (4, "Image 3, Image 1, Image 2, Image 4"),
        (5, "Image 3, Image 1, Image 5, Image 2, Image 4"),
        (8, "Image 3, Image 1, Image 5, Image 2, Image 4, Image 7, Image 6, Image 8"),
        (9, "Image 1, Image 2, Image 3, Image 4, Image 5, Image 6, Image 7, Image 8, Image 9"),
        (12, ", ".join(f"Image {i}" for i in range(1, 13))),
    ],
)
def test_example_format_on_both_sides_of_eight(n: int, expected: str) -> None:
    assert format_example(n) == expected
    assert sorted(parse_ranking(expected, n)) == list(range(n))


def test_example_format_takes_the_label() -> None:
    assert format_example(3, label="Video") == "Video 3, Video 1, Video 2"


def test_n_below_two_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match=r"^n must be at least 2, got 1$"):
        parse_ranking("Image 1", 1)
    assert parse_ranking("Image 2, Image 1", 2) == (1, 0)


@pytest.mark.parametrize(
    ("reply", "n", "message"),
    [
        ("", 3, "^the judge sent an empty reply$"),
        (
            "<think>Image 1, Image 2, Image 3",
            3,
            "^the judge's reply is an unfinished reasoning block$",
        ),
        ("<THINK>Image 1, Image 2, Image 3", 3, "unfinished reasoning block"),
        ("no idea", 3, "^could not read a ranking: no ranking of 3 outputs found$"),
        (
            "Image 1, Image 2, Image 3, Image 1",
            3,
            r"^could not read a ranking: 4 mentions in one list for 3 outputs: \[1, 2, 3, 1\]$",
        ),
        (
            "Image 2, Image 2, Image 1",
            3,
            r"^could not read a ranking: duplicate \[2\] in \[2, 2, 1\]$",
        ),
        ("Image 3, Image 2, Image 2, Image 3", 4, r"duplicate \[2, 3\] in \[3, 2, 2, 3\]$"),
        (
            "Image 4, Image 1, Image 0",
            3,
            r"out-of-range \[0, 4\] in \[4, 1, 0\] \(expected 1\.\.3\)$",
        ),
        ("Image 3, Image 1", 4, r"missing \[2, 4\] in \[3, 1\]$"),
        ("3, 1", 3, r"missing \[2\] in \[3, 1\]$"),
        ("3 1 2 2", 4, r"duplicate \[2\] in \[3, 1, 2, 2\]$"),
        (
            "Image 1, Image 2, Image 3. No: Image 2, Image 1, Image 3. "
            "Or Image 3, Image 1, Image 2",
            3,
            "^the reply states 3 different rankings$",
        ),
    ],
)
def test_rejections_say_why(reply: str, n: int, message: str) -> None:
    with pytest.raises(UnparseableReply, match=message):
        parse_ranking(reply, n)


def test_rejection_detail_is_the_reply_cut_at_500_characters() -> None:
    reply = "Image 1, Image 1 " + "x" * 600
    with pytest.raises(UnparseableReply) as err:
        parse_ranking(reply, 2)
    assert err.value.detail == reply[:500]


def test_one_ranking_stated_twice_is_one_ranking() -> None:
    assert parse_ranking("Image 2, Image 1, Image 3.\nSo: Image 2, Image 1, Image 3", 3) == (
        1,
        0,
        2,
    )


def test_a_lone_mention_is_not_a_problem_but_two_are() -> None:
    """Single mentions in prose are ignored; the first chain of two or more is the reason."""
    reply = "Image 2 is nice. Image 3, Image 3 are equal."
    with pytest.raises(UnparseableReply, match=r"duplicate \[3\] in \[3, 3\]$"):
        parse_ranking(reply, 3)


def test_bare_numbers_only_when_the_whole_reply_is_numbers() -> None:
    assert parse_ranking("[2, 3, 1]", 3) == (1, 2, 0)
    assert parse_ranking(" 2 > 3 > 1. ", 3) == (1, 2, 0)
    assert parse_ranking("2;3;1", 3) == (1, 2, 0)
    with pytest.raises(UnparseableReply, match="no ranking of 3 outputs found"):
        parse_ranking("answer 2, 3, 1", 3)


def test_labels_and_separators_of_a_mention() -> None:
    for label in ("image", "img", "picture", "pic", "photo", "video", "vid", "clip"):
        assert parse_ranking(f"{label} 2, {label} 1", 2) == (1, 0)
    assert parse_ranking("Image no 2, Image No. 1", 2) == (1, 0)
    # A label inside a word, or a number that runs on, is no mention.
    with pytest.raises(UnparseableReply):
        parse_ranking("myimage 2, myimage 1", 2)
    with pytest.raises(UnparseableReply, match="out-of-range"):
        parse_ranking("Image 12, Image 1", 2)


def test_reasoning_blocks_of_any_case_and_many_lines_are_dropped() -> None:
    reply = (
        "<THINK>\nImage 1 is best?\nNo: Image 2, Image 1, Image 3.\n</Think>\n"
        "Image 3, Image 1, Image 2"
    )
    assert parse_ranking(reply, 3) == (2, 0, 1)


def test_a_missing_first_image_is_named() -> None:
    with pytest.raises(UnparseableReply, match=r"missing \[1\] in \[2, 3\]$"):
        parse_ranking("Image 2, Image 3", 3)
