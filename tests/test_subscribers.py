"""Subscribers: the config list and CSV file, address validation, the paper filter."""

from __future__ import annotations

from pathlib import Path

import pytest
from feed_helpers import make_digest, make_paper

from newsletter.config import Settings, Subscriber
from newsletter.errors import ConfigError
from newsletter.subscribers import is_valid_address, load_subscribers, select_papers

DIGEST = make_digest("2025-06-04", [
    make_paper("2506.00001", category="cs.CV", title="Diffusion for segmentation"),
    make_paper("2506.00002", category="cs.LG", tldr="A new TRANSFORMER trick."),
    make_paper("2506.00003", category="q-bio.NC", abstract="Spiking neurons and Transformers."),
    make_paper("2506.00004", category="math.OC", categories=("math.OC", "cs.LG")),
])


def ids(papers: tuple[object, ...]) -> list[str]:
    return [p.id for p in papers]  # type: ignore[attr-defined]


def test_empty_filter_is_everything() -> None:
    assert len(select_papers(DIGEST, Subscriber("a@x.org"))) == 4


def test_category_globs_are_case_sensitive_and_see_cross_lists() -> None:
    assert ids(select_papers(DIGEST, Subscriber("a@x.org", categories=("cs.*",)))) == [
        "2506.00001", "2506.00002", "2506.00004"]
    assert ids(select_papers(DIGEST, Subscriber("a@x.org", categories=("q-bio.NC",)))) == [
        "2506.00003"]
    assert select_papers(DIGEST, Subscriber("a@x.org", categories=("CS.*",))) == ()


def test_keywords_are_case_insensitive_in_title_tldr_and_abstract() -> None:
    sub = Subscriber("a@x.org", keywords=("transformer", "SEGMENTATION"))
    assert ids(select_papers(DIGEST, sub)) == ["2506.00001", "2506.00002", "2506.00003"]


def test_categories_and_keywords_both_apply() -> None:
    sub = Subscriber("a@x.org", categories=("cs.LG",), keywords=("transformer",))
    assert ids(select_papers(DIGEST, sub)) == ["2506.00002"]


def test_nothing_matches_is_empty() -> None:
    assert select_papers(DIGEST, Subscriber("a@x.org", keywords=("quantum gravity",))) == ()


@pytest.mark.parametrize("address", ["a@example.com", "first.last+tag@sub.example.co.uk",
                                     "x@localhost", "u@bücher.de"])
def test_valid_addresses(address: str) -> None:
    assert is_valid_address(address)


@pytest.mark.parametrize("address", ["", "plain", "a@", "@x.org", "a b@x.org", "a@x..org",
                                     "a@x.org\r\nBcc: evil@x.org", "<a@x.org>", "a@-x.org",
                                     "a@b@x.org", "a,b@x.org"])
def test_invalid_addresses(address: str) -> None:
    assert not is_valid_address(address)


def test_csv_rows_bad_rows_warned_with_file_and_line(tmp_path: Path) -> None:
    csv_path = tmp_path / "subs.csv"
    csv_path.write_text(
        "email,name,categories,keywords\n"
        "ann@example.com,Ann,cs.*;q-bio.NC,\n"
        "not-an-address,Bad,,\n"
        "\n"
        '"bob@example.com","Bob, Jr.",,diffusion; transformer\n'
        "ANN@example.com,Dup,,\n",
        encoding="utf-8",
    )
    settings = Settings(subscribers=(Subscriber("cfg@example.com", name="Cfg\r\nX"),),
                        subscribers_file=csv_path)
    result = load_subscribers(settings)
    assert [s.email for s in result.subscribers] == [
        "cfg@example.com", "ann@example.com", "bob@example.com"]
    ann, bob = result.subscribers[1], result.subscribers[2]
    assert ann.categories == ("cs.*", "q-bio.NC") and ann.keywords == ()
    assert bob.name == "Bob, Jr." and bob.keywords == ("diffusion", "transformer")
    assert result.subscribers[0].name == "Cfg X"
    assert len(result.warnings) == 2
    assert result.warnings[0].startswith(f"{csv_path}:3: 'not-an-address'")
    assert result.warnings[1].startswith(f"{csv_path}:6: ")


def test_csv_without_an_email_column_is_a_config_error(tmp_path: Path) -> None:
    csv_path = tmp_path / "subs.csv"
    csv_path.write_text("mail,name\nann@example.com,Ann\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"subs.csv:1: .*email,name,categories,keywords"):
        load_subscribers(Settings(subscribers_file=csv_path))


def test_missing_csv_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_subscribers(Settings(subscribers_file=tmp_path / "nope.csv"))
