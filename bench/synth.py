"""Synthetic V3 digest files (FORMAT.md §2.1, byte-exact) of any size, deterministic from a seed."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

# Bump when the output changes, so cached inputs in bench/_work are written again.
VERSION = 2

# Section mix seen in the upstream corpus (cs.CV dominates, a long tail of other archives).
CATEGORY_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("cs.CV", 33.0), ("cs.CL", 13.0), ("cs.LG", 11.0), ("cs.AI", 6.0), ("cs.RO", 4.0),
    ("cs.HC", 2.5), ("cs.GR", 2.0), ("eess.SY", 2.0), ("cs.IT", 1.6), ("cs.SD", 1.2),
    ("cs.CR", 2.2), ("stat.ML", 1.5), ("eess.IV", 1.5), ("cs.IR", 1.4), ("cs.GT", 0.8),
    ("cs.NE", 0.5), ("cs.CE", 0.4), ("cs.MA", 0.3), ("math.OC", 0.6), ("q-bio.NC", 0.4),
    ("physics.med-ph", 0.4), ("cond-mat.str-el", 0.2), ("eess.AS", 0.6), ("cs.DC", 0.7),
    ("cs.SE", 1.0), ("astro-ph.GA", 0.3), ("q-fin.ST", 0.1), ("econ.EM", 0.1),
)
_CATS = [c for c, _ in CATEGORY_WEIGHTS]
_CAT_W = [w for _, w in CATEGORY_WEIGHTS]


def _split(words: str) -> tuple[str, ...]:
    return tuple(words.split())


_WORDS = _split(
    "learning model models neural network networks data training method methods approach "
    "framework performance results benchmark benchmarks task tasks large language vision "
    "diffusion transformer attention representation representations features feature image "
    "images video scene segmentation detection generation generative reasoning agent agents "
    "policy reinforcement robust robustness efficient efficiency scalable adaptive multimodal "
    "semantic spatial temporal graph graphs optimization loss function gradient inference "
    "evaluation experiments dataset datasets state-of-the-art baseline baselines accuracy "
    "we propose novel existing however while across under our the a of and to in for with on "
    "that this by is are from as which can be show demonstrate significantly improves "
    "outperforms achieves compared prior work recent advances challenge challenges problem "
    "problems limited supervision self-supervised contrastive pretraining fine-tuning zero-shot "
    "few-shot prompt prompts retrieval knowledge alignment uncertainty calibration privacy "
    "federated theoretical analysis bound bounds convergence sample complexity estimation "
    "3D point cloud depth pose motion tracking rendering Gaussian splatting radiance field "
    "medical clinical speech audio text token tokens decoding encoder decoder latent space"
)
_TITLE_WORDS = _split(
    "Towards Scalable Efficient Robust Learning Diffusion Models Vision-Language Reasoning "
    "Agents Multimodal Benchmark Adaptive Graph Neural Networks Self-Supervised Representation "
    "Generative Video Segmentation 3D Gaussian Splatting Large Language Model Alignment "
    "Retrieval-Augmented Generation Zero-Shot Federated Privacy-Preserving Contrastive "
    "Transformers Attention Policy Optimization Reinforcement Calibration Uncertainty Medical "
    "Imaging Speech Recognition Point Cloud Depth Estimation Tracking Planning Robotic "
    "Manipulation Sparse Mixture Experts Quantization Distillation Pruning Tokenization"
)
_TITLE_GLUE = ("for", "via", "with", "in", "of", "and", "from", "under", "through")
_FIRST = _split(
    "Wei Li Jian Zhang Yu Wang Xin Liu Hao Chen Yang Zhao Lei Huang Jun Xu Ming Sun Tao Hu "
    "Maria Anna Thomas Daniel Sarah David Laura Michael Elena Ahmed Priya Rahul Kenji Yuki "
    "Sofia Lucas Hugo Emma Noah Chloé Théo Véronique Jörg Søren Ana"
)
_LAST = _split(
    "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Luo Gao Smith "
    "Müller García Rossi Dubois Kim Park Tanaka Suzuki Singh Kumar Patel Nguyen Silva Novak "
    "Johansson Cohen Ivanov Okafor Bruyère Defosse Süsstrunk"
)
_ZH = (
    "本文提出了一种新的方法", "以解决现有模型在复杂场景中的泛化问题",
    "该方法结合了扩散模型与大语言模型", "实验表明其性能显著优于基线方法",
    "通过引入自适应注意力机制", "在多个公开数据集上取得了最先进的结果",
    "现有方法依赖大量标注数据", "难以扩展到真实世界的应用",
    "作者设计了一个轻量级的编码器", "并利用对比学习提升表示质量",
    "研究发现模型的推理能力仍然有限", "该框架可以高效处理长视频",
    "同时降低了计算成本和内存占用", "提出的基准测试涵盖多种任务",
    "结果显示该方法在零样本设置下表现稳健", "为未来的多模态研究提供了新思路",
    "通过强化学习优化策略", "有效缓解了幻觉问题",
    "在三维重建任务上实现了实时渲染", "该工作揭示了数据质量对训练的重要影响",
    "利用图神经网络建模空间关系", "显著提升了检测精度",
    "并在机器人操作任务中验证了有效性", "模型在低资源语言上也取得了良好效果",
)
_FAILED = (
    "Summary generation failed", "Motivation analysis unavailable", "Method extraction failed",
    "Result analysis unavailable", "Conclusion extraction failed",
)
# Median lengths (characters) measured on upstream V3 files: TL;DR 65, Motivation 49,
# Method 54, Result 45, Conclusion 40; abstract 1,330; title 82; 5 authors.
_AI_LENGTHS = (65, 49, 54, 45, 40)


@dataclass(frozen=True, slots=True)
class SynthPaper:
    arxiv_id: str
    title: str
    authors: str
    category: str
    ai: tuple[str, str, str, str, str]  # tldr, motivation, method, result, conclusion
    abstract: str


def _zh(rng: random.Random, target: int) -> str:
    parts: list[str] = []
    size = 0
    while size < target:
        part = rng.choice(_ZH)
        parts.append(part)
        size += len(part) + 1
    return "，".join(parts) + "。"


def _sentence(rng: random.Random) -> str:
    words = rng.choices(_WORDS, k=rng.randint(12, 30))
    return words[0].capitalize() + " " + " ".join(words[1:]) + "."


def _wrap(text: str, width: int = 80) -> str:
    lines: list[str] = []
    line: list[str] = []
    size = 0
    for word in text.split(" "):
        if size and size + 1 + len(word) > width:
            lines.append(" ".join(line))
            line, size = [], 0
        size += len(word) + (1 if line else 0)
        line.append(word)
    if line:
        lines.append(" ".join(line))
    return "\n".join(lines)


def _abstract(rng: random.Random, *, wrapped: bool) -> str:
    target = max(250, int(rng.gauss(1250, 270)))
    sentences: list[str] = []
    size = 0
    while size < target:
        s = _sentence(rng)
        sentences.append(s)
        size += len(s) + 1
    text = " ".join(sentences)
    return _wrap(text) if wrapped else text


def _title(rng: random.Random) -> str:
    head = " ".join(rng.choices(_TITLE_WORDS, k=rng.randint(2, 5)))
    tail = " ".join(rng.choices(_TITLE_WORDS, k=rng.randint(2, 5)))
    title = f"{head} {rng.choice(_TITLE_GLUE)} {tail}"
    roll = rng.random()
    if roll < 0.02:
        title += " with $\\mathcal{O}(n \\log n)$ Cost"
    elif roll < 0.03:
        title += " at 1.5 < z < 4.2 [O III] & *More*"
    if rng.random() < 0.3:
        title = rng.choice(_TITLE_WORDS) + ": " + title
    return title


def make_paper(seed: int, number: int, *, category: str, wrapped: bool) -> SynthPaper:
    """Paper number `number` of the universe of `seed`: the same inputs give the same paper."""
    rng = random.Random(seed * 1_000_003 + number)
    n_auth = min(60, max(1, int(rng.lognormvariate(1.6, 0.6))))
    authors = ",".join(f"{rng.choice(_FIRST)} {rng.choice(_LAST)}" for _ in range(n_auth))
    if rng.random() < 0.03:
        ai: tuple[str, str, str, str, str] = _FAILED
    else:
        a = [_zh(rng, max(5, int(rng.gauss(m - 8, m * 0.3)))) for m in _AI_LENGTHS]
        ai = (a[0], a[1], a[2], a[3], a[4])
    block = number // 90_000
    arxiv_id = f"{25 + block // 12:02d}{1 + block % 12:02d}.{10_000 + number % 90_000:05d}"
    return SynthPaper(
        arxiv_id=arxiv_id,
        title=_title(rng),
        authors=authors,
        category=category,
        ai=ai,
        abstract=_abstract(rng, wrapped=wrapped),
    )


def render_paper(idx: int, p: SynthPaper) -> str:
    """One PAPER production of FORMAT.md §2.1."""
    tldr, motivation, method, result, conclusion = p.ai
    return (
        f"### [{idx}] [{p.title}](https://arxiv.org/abs/{p.arxiv_id})\n"
        f"*{p.authors}*\n"
        "\n"
        f"Main category: {p.category}\n"
        "\n"
        f"TL;DR: {tldr}\n"
        "\n"
        "\n"
        "<details>\n"
        "  <summary>Details</summary>\n"
        f"Motivation: {motivation}\n"
        "\n"
        f"Method: {method}\n"
        "\n"
        f"Result: {result}\n"
        "\n"
        f"Conclusion: {conclusion}\n"
        "\n"
        f"Abstract: {p.abstract}\n"
        "\n"
        "</details>\n"
    )


def render_digest(sections: Sequence[tuple[str, Sequence[SynthPaper]]]) -> str:
    """A whole V3 file: TOC, then each non-empty section; idx runs 1..N across the file."""
    sections = [(cat, papers) for cat, papers in sections if papers]
    out = ["<div id=toc></div>\n\n# Table of Contents\n\n"]
    out += [f"- [{cat}](#{cat}) [Total: {len(papers)}]\n" for cat, papers in sections]
    idx = 0
    for cat, papers in sections:
        out.append(f"\n\n<div id='{cat}'></div>\n\n# {cat} [[Back]](#toc)\n\n")
        rendered = []
        for paper in papers:
            idx += 1
            rendered.append(render_paper(idx, paper))
        out.append("\n\n".join(rendered))
    return "".join(out)


@dataclass(frozen=True, slots=True)
class DaySpec:
    papers: int  # entries including duplicates
    first_number: int  # paper numbers first_number .. first_number+unique-1
    repeat_from: int  # numbers of a previous day's papers that reappear (weekend re-listing)
    repeats: int


def digest_text(
    *,
    seed: int,
    papers: int,
    first_number: int = 0,
    wrapped: bool = True,
    dup_rate: float = 0.005,
    repeat_from: int = 0,
    repeats: int = 0,
) -> str:
    """A V3 digest with `papers` entries (same-section duplicates included, as N counts them)."""
    rng = random.Random(seed * 7919 + first_number)
    entries: dict[str, list[SynthPaper]] = {}
    numbers = [repeat_from + i for i in range(repeats)]
    numbers += range(first_number, first_number + papers - len(numbers))
    made = 0
    for number in numbers:
        if made >= papers:
            break
        cat_rng = random.Random(seed * 31 + number)
        category = cat_rng.choices(_CATS, weights=_CAT_W)[0]
        paper = make_paper(seed, number, category=category, wrapped=wrapped)
        group = entries.setdefault(category, [])
        group.append(paper)
        made += 1
        if made < papers and rng.random() < dup_rate:
            group.append(paper)
            made += 1
    order = sorted(entries, key=lambda c: (-_CAT_W[_CATS.index(c)], c))
    return render_digest([(cat, entries[cat]) for cat in order])


def digest_of_size(*, seed: int, target_bytes: int, wrapped: bool = True) -> str:
    """A V3 digest of at least `target_bytes` UTF-8 bytes (within ~2% above it)."""
    estimate = max(1, target_bytes // 2600)
    best = ""
    for _ in range(6):
        text = digest_text(seed=seed, papers=estimate, wrapped=wrapped)
        size = len(text.encode("utf-8"))
        if size >= target_bytes:
            best = text
            if size <= target_bytes * 1.02:
                return text
            estimate = max(1, int(estimate * target_bytes / size))
        else:
            estimate = int(estimate * target_bytes / size) + 1
    return best or digest_text(seed=seed, papers=estimate * 2, wrapped=wrapped)


def weekdays(start: dt.date, count: int) -> Iterator[dt.date]:
    day = start
    made = 0
    while made < count:
        if day.weekday() < 5:
            yield day
            made += 1
        day += dt.timedelta(days=1)


def inbox_plan(*, seed: int, days: int, total_papers: int) -> list[tuple[dt.date, DaySpec]]:
    """Per-day sizes around total_papers/days (light days and heavy days), about 1% re-listed."""
    rng = random.Random(seed)
    weights = [max(0.1, rng.lognormvariate(0.0, 0.45)) for _ in range(days)]
    scale = total_papers / sum(weights)
    plan: list[tuple[dt.date, DaySpec]] = []
    number = 0
    prev_first, prev_count = 0, 0
    for date, w in zip(weekdays(dt.date(2025, 1, 1), days), weights, strict=True):
        count = max(1, round(w * scale))
        repeats = min(prev_count, int(count * 0.01)) if plan else 0
        plan.append((date, DaySpec(count, number, prev_first, repeats)))
        prev_first, prev_count = number, count
        number += count
    return plan


def write_inbox(folder: Path, *, seed: int, days: int, total_papers: int) -> list[Path]:
    """Write `days` digests (weekdays from 2025-01-01) into `folder`; returns them oldest first."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for date, spec in inbox_plan(seed=seed, days=days, total_papers=total_papers):
        path = folder / f"{date.isoformat()}.md"
        text = digest_text(
            seed=seed, papers=spec.papers, first_number=spec.first_number,
            repeat_from=spec.repeat_from, repeats=spec.repeats,
        )
        write_atomic(path, text)
        paths.append(path)
    return paths


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(text.encode("utf-8"))
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", type=Path, help="a file (--papers/--bytes) or a folder (--days)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--papers", type=int, help="entries in one digest")
    ap.add_argument("--bytes", type=int, help="size of one digest in bytes (at least)")
    ap.add_argument("--days", type=int, help="write an inbox of this many digests")
    ap.add_argument("--total", type=int, default=100_000, help="papers across the inbox")
    ap.add_argument("--one-line", action="store_true", help="abstracts on one line (late 2025+)")
    args = ap.parse_args(argv)
    if args.days:
        write_inbox(args.out, seed=args.seed, days=args.days, total_papers=args.total)
    elif args.bytes:
        text = digest_of_size(seed=args.seed, target_bytes=args.bytes, wrapped=not args.one_line)
        write_atomic(args.out, text)
    else:
        text = digest_text(seed=args.seed, papers=args.papers or 469, wrapped=not args.one_line)
        write_atomic(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
