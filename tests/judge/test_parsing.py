"""The tolerant-but-never-guessing reply parser, against every odd reply format we know."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from karena.judge.parsing import UnparseableReply, format_example, parse_ranking

GOOD = (2, 0, 4, 1, 3)  # "Image 3, Image 1, Image 5, Image 2, Image 4"

ACCEPTED = [
    "Image 3, Image 1, Image 5, Image 2, Image 4",
    "image 3, image 1, image 5, image 2, image 4",
    "IMAGE 3,IMAGE 1,IMAGE 5,IMAGE 2,IMAGE 4",
    "Image3, Image1, Image5, Image2, Image4",
    "Image_3, Image-1, Image #5, Image no. 2, Image number 4",
    "  Image 3 ,  Image 1 ,Image 5,   Image 2 , Image 4  \n",
    "[Image 3, Image 1, Image 5, Image 2, Image 4]",
    "(Image 3), (Image 1), (Image 5), (Image 2), (Image 4)",
    '["Image 3", "Image 1", "Image 5", "Image 2", "Image 4"]',
    '{"ranking": ["Image 3", "Image 1", "Image 5", "Image 2", "Image 4"]}',
    "**Image 3**, **Image 1**, **Image 5**, **Image 2**, **Image 4**",
    "`Image 3, Image 1, Image 5, Image 2, Image 4`",
    "```\nImage 3, Image 1, Image 5, Image 2, Image 4\n```",
    "Image 3 > Image 1 > Image 5 > Image 2 > Image 4",
    "Image 3 → Image 1 → Image 5 → Image 2 → Image 4",
    "Image 3 -> Image 1 -> Image 5 -> Image 2 -> Image 4",
    "Image 3; Image 1; Image 5; Image 2; Image 4.",
    "Image 3, Image 1, Image 5, Image 2, and Image 4",
    "Image 3, Image 1, Image 5, Image 2 and Image 4.",
    "Image 3\nImage 1\nImage 5\nImage 2\nImage 4",
    "1. Image 3\n2. Image 1\n3. Image 5\n4. Image 2\n5. Image 4",
    "1) Image 3\n2) Image 1\n3) Image 5\n4) Image 2\n5) Image 4",
    "- Image 3\n- Image 1\n- Image 5\n- Image 2\n- Image 4",
    "* Image 3\n* Image 1\n* Image 5\n* Image 2\n* Image 4",
    "Rank 1: Image 3\nRank 2: Image 1\nRank 3: Image 5\nRank 4: Image 2\nRank 5: Image 4",
    "Ranking: Image 3, Image 1, Image 5, Image 2, Image 4",
    "Here is the ranking from best to worst:\n\nImage 3, Image 1, Image 5, Image 2, Image 4",
    "Image 3, Image 1, Image 5, Image 2, Image 4. Image 3 has the best lighting.",
    "Sure! Image 3, Image 1, Image 5, Image 2, Image 4\n\nLet me know if you need more.",
    "<think>Image 1 looks worse than Image 3.</think>\nImage 3, Image 1, Image 5, Image 2, Image 4",
    "Image 3 (best), Image 1, Image 5, Image 2, Image 4 (worst)",
    "Image three, Image one, Image five, Image two, Image four",
    "Img 3, Img 1, Img 5, Img 2, Img 4",
    "Picture 3, Picture 1, Picture 5, Picture 2, Picture 4",
    "“Image 3”, “Image 1”, “Image 5”, “Image 2”, “Image 4”",
    "3, 1, 5, 2, 4",
    "3 > 1 > 5 > 2 > 4",
    "[3, 1, 5, 2, 4]",
    "Image 3,\u00a0Image 1,\u00a0Image 5,\u00a0Image 2,\u00a0Image 4",
    "Image 3 | Image 1 | Image 5 | Image 2 | Image 4",
]

REJECTED = [
    ("", "empty"),
    ("   \n ", "empty"),
    (None, "empty"),
    ("I'm sorry, I can't rank these images.", "no ranking"),
    ("Image 3, Image 1, Image 5, Image 2", "missing"),
    ("Image 3, Image 1, Image 5, Image 2, Image 2", "duplicate"),
    ("Image 3, Image 1, Image 5, Image 2, Image 6", "out-of-range"),
    ("Image 0, Image 1, Image 2, Image 3, Image 4", "out-of-range"),
    ("Image 3, Image 1, Image 5, Image 2, Image 4, Image 6", "mentions"),
    ("Image 1 is worse than Image 3, Image 5, Image 2, Image 4", "missing"),
    (
        "Image 3 beats Image 1 which beats Image 5 which beats Image 2 which beats Image 4",
        "no ranking",
    ),
    (
        "Image 3, Image 1, Image 5, Image 2, Image 4.\n"
        "Actually: Image 1, Image 3, Image 5, Image 2, Image 4.",
        "different rankings",
    ),
    ("<think>I need to look at Image 3, Image 1, Image 5, Image 2, Image 4", "reasoning"),
    ("Image A, Image B, Image C, Image D, Image E", "no ranking"),
    ("3, 1, 5, 2", "missing"),
    ("3, 1, 5, 2, 2", "duplicate"),
    ("The best is 3 and then 1, 5, 2, 4", "no ranking"),
    ("Image 3 Image 1", "missing"),
]


@pytest.mark.parametrize("reply", ACCEPTED)
def test_accepts_odd_but_unambiguous_formats(reply: str) -> None:
    assert parse_ranking(reply, 5) == GOOD


@pytest.mark.parametrize(("reply", "why"), REJECTED)
def test_rejects_what_it_cannot_read_for_sure(reply: str | None, why: str) -> None:
    with pytest.raises(UnparseableReply, match=why):
        parse_ranking(reply, 5)


def test_video_labels_and_other_k() -> None:
    assert parse_ranking("Video 2, Video 1, Video 3", 3) == (1, 0, 2)
    assert parse_ranking("video2 > video1", 2) == (1, 0)


@given(st.permutations(list(range(1, 9))), st.sampled_from([", ", " > ", "\n", " , "]))
def test_any_permutation_round_trips(order: list[int], sep: str) -> None:
    reply = sep.join(f"Image {i}" for i in order)
    assert parse_ranking(reply, len(order)) == tuple(i - 1 for i in order)


def test_the_example_format_is_itself_parseable() -> None:
    for n in range(2, 9):
        assert sorted(parse_ranking(format_example(n), n)) == list(range(n))
