"""plan_sections: full first, fairly across categories, then titles, then "+N more"."""

from __future__ import annotations

from newsletter.budget import SectionCost, SectionPlan, Size, plan_sections


def raw(n: int) -> Size:
    return Size(html=n, html_qp=n, text=0, text_qp=0)


def section(papers: int, *, full: int = 100, title: int = 10) -> SectionCost:
    return SectionCost(head=raw(5), more=raw(3), full=[raw(full)] * papers,
                       title=[raw(title)] * papers)


def plan(sections: list[SectionCost], budget: int) -> list[SectionPlan]:
    return plan_sections(sections, fixed=Size(), budget=budget, cost=lambda s: s.html)


def test_everything_fits() -> None:
    assert plan([section(3), section(1)], 10_000) == [SectionPlan(3, 0, 0), SectionPlan(1, 0, 0)]


def test_every_paper_is_shown_or_counted_and_prefixes_are_kept() -> None:
    sections = [section(200), section(40), section(3), section(1)]
    for budget in (50, 400, 2_000, 5_000, 12_000):
        plans = plan(sections, budget)
        for p, s in zip(plans, sections, strict=True):
            assert p.full + p.title + p.more == len(s.full)
            assert min(p.full, p.title, p.more) >= 0


def test_first_paper_of_every_category_comes_first_then_proportional() -> None:
    sections = [section(200), section(40), section(3), section(1)]
    plans = plan(sections, 2_000)
    assert all(p.full >= 1 for p in plans)  # small categories are not starved
    assert plans[0].full > plans[1].full > plans[2].full  # big ones get more room
    assert plans[3] == SectionPlan(1, 0, 0)


def test_titles_after_full_then_more() -> None:
    plans = plan([section(50), section(50)], 2_000)
    assert all(p.full > 0 and p.title > 0 and p.more > 0 for p in plans)
    total = sum(5 + 3 + p.full * 100 + p.title * 10 for p in plans)
    assert total <= 2_000


def test_budget_below_the_fixed_part_shows_only_headings_and_counts() -> None:
    plans = plan([section(5), section(5)], 10)
    assert plans == [SectionPlan(0, 0, 5), SectionPlan(0, 0, 5)]
