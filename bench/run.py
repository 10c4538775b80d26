"""The benchmark: each figure beside a baseline measured in the same run, their ratio, the target.

Run from the project root with the project's interpreter:

    .venv/bin/python bench/run.py [--quick] [--profile] [--only ROW ...]

Prints one table and writes bench/results.json. Work files (the synthetic inbox, outputs) go to
bench/_work/ and the synthetic inputs are cached there, keyed by their parameters.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / "_work"
CORPUS = ROOT.parent / "shared" / "corpus"
RESULTS = BENCH / "results.json"
PY = sys.executable
NEWSLETTER = [PY, "-m", "newsletter.cli"]
SEED = 20250617
MB = 1_000_000

sys.path.insert(0, str(BENCH))
import synth  # noqa: E402  (bench/ is not a package)


@dataclass(frozen=True, slots=True)
class Sizes:
    """What `--quick` shrinks."""

    quick: bool
    synth_parse_bytes: int
    repeats: int  # whole-process repeats (generate-day)
    window_repeats: int
    inbox_days: int
    inbox_papers: int
    subscribers: int
    filters: int
    day_papers: int
    messages: int
    polls: int


FULL = Sizes(False, 20 * MB, 5, 3, 260, 100_000, 10_000, 50, 500, 2_000, 50)
QUICK = Sizes(True, 5 * MB, 3, 1, 260, 8_000, 1_000, 50, 500, 200, 20)


@dataclass(slots=True)
class Row:
    """One line of the table."""

    row: str
    figure: float | None = None
    unit: str = ""
    baseline: float | None = None
    baseline_unit: str = ""
    ratio: float | None = None
    target: str = ""
    ok: bool | None = None  # None: no verdict (not built, or nothing to judge)
    also: str = ""  # a second figure shown in the same cell, e.g. the peak memory
    status: str = ""  # "n/a (not built)", "skipped: ...", "error: ..."
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------ measurement


@dataclass(frozen=True, slots=True)
class ChildRun:
    seconds: float
    maxrss_mb: float
    returncode: int
    stdout: str
    stderr: str


# Runs the command and reports its wall time and peak RSS. Linux carries a parent's RSS high-water
# mark through fork+exec into the child's ru_maxrss, so the benchmark (which may itself be large
# after parsing 20 MB) never forks the measured command directly: this small launcher does.
_LAUNCHER = """
import json, os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
seconds = time.perf_counter() - start
proc.returncode = code = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as f:
    json.dump({"seconds": seconds, "returncode": code, "maxrss_kb": usage.ru_maxrss}, f)
"""


def run_child(
    cmd: Sequence[str], *, cwd: Path | None = None, timeout: float = 600.0
) -> ChildRun:
    """Run `cmd`: its wall time and peak RSS (wait4 in a small launcher), its output."""
    with tempfile.TemporaryDirectory() as tmp:
        report, out_path, err_path = (Path(tmp) / n for n in ("report", "out", "err"))
        start = time.perf_counter()
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen([PY, "-c", _LAUNCHER, str(report), *cmd], cwd=cwd,
                                    stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        stdout = out_path.read_text("utf-8", "replace")
        stderr = err_path.read_text("utf-8", "replace")
        if not report.exists():  # killed: the parent's clock, no memory figure
            return ChildRun(time.perf_counter() - start, 0.0, -9, stdout, stderr)
        data = json.loads(report.read_text())
        return ChildRun(data["seconds"], data["maxrss_kb"] / 1024, data["returncode"],
                        stdout, stderr)


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def median_child(cmd: Sequence[str], repeats: int, *, cwd: Path | None = None
                 ) -> tuple[float, list[ChildRun]]:
    runs = []
    for _ in range(repeats):
        run = run_child(cmd, cwd=cwd)
        if run.returncode != 0:
            raise ChildFailed(cmd, run)
        runs.append(run)
    return statistics.median(r.seconds for r in runs), runs


class ChildFailed(Exception):
    def __init__(self, cmd: Sequence[str], run: ChildRun) -> None:
        last = (run.stderr.strip().splitlines() or ["(no output)"])[-1]
        super().__init__(f"`{' '.join(cmd[2:5])}...` exited {run.returncode}: {last[:160]}")
        self.run = run


class NotBuilt(Exception):
    """The command or module a row needs does not exist yet."""


def require_command(name: str) -> None:
    """NotBuilt unless `newsletter <name>` has a real handler (stubs say 'not implemented')."""
    from newsletter import cli

    handler = getattr(cli, f"_cmd_{name}", None)
    if handler is None:
        raise NotBuilt(f"newsletter {name}")
    import inspect

    source = inspect.getsource(handler)
    if "not implemented" in source and source.count("\n") < 4:
        raise NotBuilt(f"newsletter {name}")


def require_module(name: str) -> None:
    import importlib.util

    if importlib.util.find_spec(name) is None:
        raise NotBuilt(name)


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def profile_child(name: str, cmd: Sequence[str], *, cwd: Path | None = None) -> list[str]:
    """Run `cmd` (a python -m ... command) once under cProfile; the top functions as text."""
    prof = WORK / "profiles" / f"{name}.prof"
    prof.parent.mkdir(parents=True, exist_ok=True)
    run = run_child([PY, "-m", "cProfile", "-o", str(prof), *cmd[1:]], cwd=cwd)
    if run.returncode != 0 or not prof.exists():
        return [f"profile of {name} failed: {run.stderr.strip()[-200:]}"]
    return top_functions(prof)


def top_functions(prof: Path, *, limit: int = 16) -> list[str]:
    """The functions with the largest cumulative share (start-up frames left out), and own."""
    import pstats

    stats = pstats.Stats(str(prof))
    total = max(getattr(stats, "total_tt", 0.0), 1e-9)
    rows = []
    entries: dict[Any, Any] = getattr(stats, "stats", {})
    for (filename, line, func), (_, calls, tottime, cumtime, _) in entries.items():
        if filename.startswith("<") or func in ("<module>", "<built-in method builtins.exec>"):
            continue
        rows.append((cumtime, tottime, calls, f"{_short_path(filename)}:{line}({func})"))
    rows.sort(reverse=True)
    out = [f"profile {prof.name}: total {total:.2f} s under cProfile; cumulative% / own% / "
           "calls  function:"]
    for cumtime, tottime, calls, label in rows[:limit]:
        out.append(f"  {100 * cumtime / total:5.1f}% / {100 * tottime / total:4.1f}% / "
                   f"{calls:>7}  {label}")
    own = sorted(rows, key=lambda r: r[1], reverse=True)[:6]
    out.append("  top own time: " + "; ".join(
        f"{label} {100 * t / total:.1f}%" for _, t, _, label in own))
    return out


def _short_path(filename: str) -> str:
    for marker in ("site-packages/", "/newsletter/", "/lib/python"):
        if marker in filename:
            return filename.split(marker, 1)[1] if marker != "/newsletter/" else (
                "newsletter/" + filename.split(marker, 1)[1])
    return filename


# ------------------------------------------------------------------------------ inputs


def _cached(path: Path, make: Callable[[], str]) -> Path:
    """`path`, written from `make()` the first time it is asked for."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        synth.write_atomic(path, make())
    return path


def synthetic_day(papers: int) -> Path:
    folder = WORK / "inputs" / f"day-v{synth.VERSION}-s{SEED}-p{papers}"
    return _cached(folder / "2025-07-01.md", lambda: synth.digest_text(seed=SEED, papers=papers))


def synthetic_big(target_bytes: int) -> Path:
    folder = WORK / "inputs" / f"big-v{synth.VERSION}-s{SEED}-b{target_bytes}"
    return _cached(folder / "2025-07-02.md",
                   lambda: synth.digest_of_size(seed=SEED, target_bytes=target_bytes))


def synthetic_inbox(days: int, papers: int) -> Path:
    """The cached inbox; a marker file says it was written completely."""
    folder = WORK / "inputs" / f"inbox-v{synth.VERSION}-s{SEED}-d{days}-p{papers}"
    marker = folder / ".complete"
    if not marker.exists():
        fresh_dir(folder)
        synth.write_inbox(folder, seed=SEED, days=days, total_papers=papers)
        marker.write_text("ok\n")
    return folder


def last_days(inbox: Path, days: int) -> Path:
    """A folder holding hard links to the newest `days` digests of `inbox`."""
    folder = inbox.with_name(f"{inbox.name}-last{days}")
    files = sorted(inbox.glob("*.md"))[-days:]
    if sorted(p.name for p in folder.glob("*.md")) != [p.name for p in files]:
        fresh_dir(folder)
        for path in files:
            os.link(path, folder / path.name)
    return folder


def write_config(path: Path, **tables: dict[str, Any]) -> Path:
    lines: list[str] = []
    for key, value in tables.pop("_top", {}).items():
        lines.append(f"{key} = {json.dumps(value)}")
    for name, table in tables.items():
        lines.append(f"\n[{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# Fifty distinct subscriber filters: category globs, keywords, and both.
FILTER_CATEGORIES = (
    "cs.CV", "cs.CL", "cs.LG", "cs.AI", "cs.RO", "cs.*", "eess.*", "stat.ML", "cs.CR", "cs.IR",
    "cs.CV;cs.AI", "cs.CL;cs.LG", "cs.LG;stat.ML", "cs.RO;eess.SY", "cs.HC;cs.GR", "q-bio.*",
    "cs.SD;eess.AS", "cs.SE;cs.DC", "math.*;cs.IT", "cs.CV;eess.IV",
)
FILTER_KEYWORDS = (
    "diffusion", "language", "graph", "robust", "3D", "reinforcement", "privacy", "video",
    "medical", "retrieval", "tracking", "speech", "agent", "calibration", "Gaussian",
)


def subscriber_filters(count: int) -> list[tuple[str, str]]:
    """`count` distinct (categories, keywords) pairs; the first is the unfiltered email."""
    pairs: list[tuple[str, str]] = [("", "")]
    pairs += [(c, "") for c in FILTER_CATEGORIES]
    pairs += [("", k) for k in FILTER_KEYWORDS]
    pairs += [(c, k) for c, k in zip(FILTER_CATEGORIES, reversed(FILTER_KEYWORDS), strict=False)]
    return pairs[:count]


def write_subscribers_csv(path: Path, count: int, filters: int) -> Path:
    pairs = subscriber_filters(filters)
    lines = ["email,name,categories,keywords"]
    for i in range(count):
        cats, kws = pairs[i % len(pairs)]
        lines.append(f"reader{i:05d}@example.org,Reader {i},{cats},{kws}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ rows


def row_parse(sizes: Sizes, profile: bool) -> list[Row]:
    require_module("newsletter.parse")
    from newsletter.parse import read_digest

    files: list[tuple[str, Path]] = []
    largest = CORPUS / "xmkxabc-rich" / "2025-06-26.md"
    rows = []
    if largest.exists():
        files.append(("parse (corpus)", largest))
    else:
        rows.append(Row("parse (corpus)", status="skipped: ../shared/corpus absent"))
    files.append((f"parse ({sizes.synth_parse_bytes // MB} MB synth)",
                  synthetic_big(sizes.synth_parse_bytes)))
    for name, path in files:
        size = path.stat().st_size
        repeats = 7 if size < 5 * MB else (2 if sizes.quick else 3)
        read_digest(path)  # warm the page cache and the regex caches

        def baseline(p: Path = path) -> object:
            return p.read_bytes().decode("utf-8").split("\n")

        def parse(p: Path = path) -> object:
            return read_digest(p)

        base_times: list[float] = []
        times: list[float] = []
        for _ in range(repeats):  # interleaved, so load from other processes hits both alike
            base_times.append(median_seconds(baseline, 3))
            times.append(median_seconds(parse, 1))
        base, took = statistics.median(base_times), statistics.median(times)
        speed = size / MB / took
        ratio = took / base
        row = Row(name, speed, "MB/s", size / MB / base, "MB/s", ratio,
                  ">= 25 MB/s and <= 10x baseline time", speed >= 25 and ratio <= 10)
        row.notes.append(f"{path.name}: {size / MB:.2f} MB, {len(read_digest(path).papers)} "
                         f"papers, parse {took * 1000:.0f} ms vs read+split {base * 1000:.1f} ms"
                         f" (ratio = parse time / baseline time); median of {repeats}")
        if profile and not row.ok:
            row.notes += profile_inline(f"parse-{path.stem}", parse)
        rows.append(row)
    return rows


def profile_inline(name: str, fn: Callable[[], object]) -> list[str]:
    import cProfile

    prof = WORK / "profiles" / f"{name}.prof"
    prof.parent.mkdir(parents=True, exist_ok=True)
    profiler = cProfile.Profile()
    profiler.runcall(fn)
    profiler.dump_stats(str(prof))
    return top_functions(prof)


def day_file() -> tuple[Path, str]:
    real = CORPUS / "upstream-dw-dengwei" / "2025-07-01.md"
    if real.exists():
        return real, "upstream-dw-dengwei/2025-07-01.md"
    return synthetic_day(469), "synthetic 469-paper day (../shared/corpus absent)"


def row_generate_day(sizes: Sizes, profile: bool) -> list[Row]:
    require_command("generate")
    path, label = day_file()
    cwd = fresh_dir(WORK / "generate-day")
    out = cwd / "out"
    cmd = [*NEWSLETTER, "generate", str(path), "-o", str(out)]
    run_child([PY, "-c", "import newsletter.cli"])  # warm caches (.pyc, page cache)
    base_times: list[float] = []
    bare_times: list[float] = []
    runs: list[ChildRun] = []
    for _ in range(sizes.repeats):  # interleaved, so load from other processes hits all alike
        bare_times.append(median_child([PY, "-c", "pass"], 1, cwd=cwd)[0])
        base_times.append(median_child([PY, "-c", "import newsletter.cli"], 1, cwd=cwd)[0])
        shutil.rmtree(out, ignore_errors=True)
        runs += median_child(cmd, 1, cwd=cwd)[1]
    base, bare = statistics.median(base_times), statistics.median(bare_times)
    took = statistics.median(r.seconds for r in runs)
    row = Row("generate-day", took, "s", base, "s", took / base, "< 1.0 s", took < 1.0)
    rss = statistics.median(r.maxrss_mb for r in runs)
    row.notes.append(f"{label}; whole process, fresh output folder, median of {sizes.repeats}; "
                     f"peak RSS {rss:.0f} MB; bare `python -c pass` {bare * 1000:.0f} ms, "
                     f"`import newsletter.cli` {base * 1000:.0f} ms")
    stages = stage_breakdown([path], cwd / "stages-out", repeats=1 if sizes.quick else 3)
    row.extra["stages"] = stages
    row.notes.append(format_stages(stages))
    heavy = heavy_imports(cwd)
    row.extra["imports_ms"] = heavy
    row.notes.append("the heaviest imports (`-X importtime`, cumulative ms, nested ones "
                     "included in their parent): " + ", ".join(
                         f"{name} {ms:.0f}" for name, ms in heavy.items()))
    if profile and not row.ok:
        shutil.rmtree(out, ignore_errors=True)
        row.notes += profile_child("generate-day", cmd, cwd=cwd)
    return [row]


STAGE_MODULES = ("newsletter.pipeline", "newsletter.parse", "newsletter.feeds",
                 "newsletter.site", "newsletter.compose", "newsletter.writer")


def heavy_imports(cwd: Path, *, threshold_ms: float = 12.0) -> dict[str, float]:
    """Imports of the generate stages that take longer than `threshold_ms`, outermost first."""
    run = run_child([PY, "-X", "importtime", "-c", "import " + ", ".join(STAGE_MODULES)],
                    cwd=cwd)
    found: dict[str, float] = {}
    for line in run.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip()
        depth = (len(name) - len(name.lstrip())) // 2
        ms = int(parts[1]) / 1000
        if depth <= 3 and ms >= threshold_ms and "editable" not in name and name.strip() != "site":
            found[name.strip()] = ms
    return dict(sorted(found.items(), key=lambda kv: -kv[1])[:10])


def stage_breakdown(paths: Sequence[Path], out: Path, *, repeats: int) -> dict[str, float]:
    """Median per-stage times (ms) and the peak RSS (MB) after each stage, from
    `run.py --child stages` (a fresh process each time)."""
    samples: list[dict[str, float]] = []
    for _ in range(repeats):
        shutil.rmtree(out, ignore_errors=True)
        cmd = [PY, str(Path(__file__)), "--child", "stages", str(out), *map(str, paths)]
        run = run_child(cmd)
        if run.returncode != 0:
            raise ChildFailed(cmd, run)
        samples.append(json.loads(run.stdout.strip().splitlines()[-1]))
    return {k: statistics.median(s[k] for s in samples) for k in samples[0]}


def format_stages(stages: dict[str, float]) -> str:
    times = ", ".join(f"{k} {v:.0f}" for k, v in stages.items() if not k.startswith("rss "))
    rss = ", ".join(f"{k[4:]} {v:.0f}" for k, v in stages.items() if k.startswith("rss "))
    return f"in-process stages (ms): {times}; peak RSS after each stage (MB): {rss}"


def child_stages(paths: Sequence[Path], out: Path) -> dict[str, float]:
    """Time the stages of `generate` for `paths` in this (fresh) process: ms, and RSS in MB."""
    import resource

    times: dict[str, float] = {}
    rss: dict[str, float] = {}
    start = mark = time.perf_counter()

    def done(stage: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        times[stage] = (now - mark) * 1000
        rss[f"rss {stage}"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        mark = now

    from newsletter import compose, feeds, pipeline, site, templating, writer
    from newsletter.config import load_settings

    done("import")
    settings = load_settings(None, cwd=out.parent)
    good, _ = pipeline.load_digests(list(paths))
    done("parse")
    env = templating.make_environment(settings.email.templates)
    feed_set = feeds.build_feeds(good, site_title=settings.site.title,
                                 max_entries=settings.feeds.max_entries)
    files = {f.filename: feeds.render_feed(f, site=settings.site) for f in feed_set.feeds}
    files[site.OPML_NAME] = site.render_opml(feed_set, site=settings.site,
                                             updated=feed_set.feeds[0].updated)
    files[site.INDEX_NAME] = site.render_index(feed_set, good, site=settings.site, env=env)
    done("feeds")
    for digest in good:
        files.update(compose.render_digest_files(digest, settings, env=env))
    done("email+day page")
    writer.write_outputs(out, files)
    done("write")
    times["total in-process"] = (time.perf_counter() - start) * 1000
    return {**times, **rss}


def row_window(sizes: Sizes, profile: bool) -> list[Row]:
    require_command("generate")
    inbox = synthetic_inbox(sizes.inbox_days, sizes.inbox_papers)
    small = last_days(inbox, 7)
    cwd = fresh_dir(WORK / "window")
    big_cfg = write_config(cwd / "big.toml", input={"dir": str(inbox)},
                           feeds={"days": 7, "out": str(cwd / "out-big")})
    small_cfg = write_config(cwd / "small.toml", input={"dir": str(small)},
                             feeds={"days": 7, "out": str(cwd / "out-small")})
    big_cmd = [*NEWSLETTER, "generate", "-c", str(big_cfg)]
    small_cmd = [*NEWSLETTER, "generate", "-c", str(small_cfg)]
    reps = sizes.window_repeats
    run_child(small_cmd, cwd=cwd)  # warm
    times_big: list[float] = []
    times_small: list[float] = []
    for _ in range(reps):  # interleaved, so drift on a shared machine hits both alike
        shutil.rmtree(cwd / "out-small", ignore_errors=True)
        times_small.append(median_child(small_cmd, 1, cwd=cwd)[0])
        shutil.rmtree(cwd / "out-big", ignore_errors=True)
        times_big.append(median_child(big_cmd, 1, cwd=cwd)[0])
    big, small_t = statistics.median(times_big), statistics.median(times_small)
    ratio = big / small_t
    row = Row("window", big, "s", small_t, "s", ratio, "ratio <= 1.3", ratio <= 1.3)
    row.notes.append(f"inbox of {sizes.inbox_days} synthetic digests, {sizes.inbox_papers} "
                     f"papers; feeds.days = 7; baseline: an inbox of only those 7; median of "
                     f"{reps}")
    if profile and not row.ok:
        shutil.rmtree(cwd / "out-big", ignore_errors=True)
        row.notes += profile_child("window", big_cmd, cwd=cwd)
    return [row]


def row_rebuild_year(sizes: Sizes, profile: bool) -> list[Row]:
    require_command("generate")
    inbox = synthetic_inbox(sizes.inbox_days, sizes.inbox_papers)
    cwd = fresh_dir(WORK / "rebuild")
    cfg = write_config(cwd / "year.toml", input={"dir": str(inbox)},
                       feeds={"days": sizes.inbox_days, "out": str(cwd / "out")})
    cmd = [*NEWSLETTER, "generate", "-c", str(cfg)]
    limit = 240.0
    runs: list[ChildRun] = []
    for _ in range(1 if sizes.quick else 2):  # a fresh output folder each time
        shutil.rmtree(cwd / "out", ignore_errors=True)
        run = run_child(cmd, cwd=cwd, timeout=limit)
        if run.returncode != 0:
            if run.seconds >= limit:
                row = Row("rebuild-year", run.seconds, "s", target="< 60 s and < 1 GB", ok=False)
                row.notes.append(f"killed after {limit:.0f} s")
                return [row]
            raise ChildFailed(cmd, run)
        runs.append(run)
    took = statistics.median(r.seconds for r in runs)
    peak = max(r.maxrss_mb for r in runs)
    ok = took < 60 and peak < 1000
    row = Row("rebuild-year", took, "s", target="< 60 s and < 1 GB", ok=ok,
              also=f"peak {peak:.0f} MB")
    row.extra["peak_rss_mb"] = peak
    row.notes.append(
        f"feeds.days = {sizes.inbox_days} over the same inbox ({sizes.inbox_papers} papers), "
        f"fresh output folder; runs: {', '.join(f'{r.seconds:.1f} s' for r in runs)} "
        f"(median shown); peak RSS of the child {peak:.0f} MB")
    if not ok:  # where the time and the memory go
        paths = sorted(inbox.glob("*.md"))[-sizes.inbox_days:]
        stages = stage_breakdown(paths, cwd / "stages-out", repeats=1)
        row.extra["stages"] = stages
        row.notes.append(format_stages(stages))
    if profile and not ok:
        shutil.rmtree(cwd / "out", ignore_errors=True)
        row.notes += profile_child("rebuild-year", cmd, cwd=cwd)
    return [row]


def row_render(sizes: Sizes, profile: bool) -> list[Row]:
    require_module("newsletter.compose")
    require_module("newsletter.outgoing")
    day = synthetic_day(sizes.day_papers)
    cmd = [PY, str(Path(__file__)), "--child", "render", str(day), str(sizes.subscribers),
           str(sizes.filters), "no-profile"]
    run = run_child(cmd, cwd=fresh_dir(WORK / "render"))
    if run.returncode != 0:
        raise ChildFailed(cmd, run)
    data = json.loads(run.stdout.strip().splitlines()[-1])
    per_sub = data["per_subscriber_ms"]
    ok = per_sub <= 2.0 and run.maxrss_mb < 300
    row = Row("render", per_sub, "ms/subscriber", data["full_render_ms"], "ms/full render",
              per_sub / data["full_render_ms"], "<= 2 ms/subscriber, peak < 300 MB", ok,
              also=f"peak {run.maxrss_mb:.0f} MB")
    row.extra.update(data, peak_rss_mb=run.maxrss_mb)
    row.notes.append(
        f"{sizes.subscribers} subscribers, {data['distinct_selections']} distinct selections of "
        f"a {sizes.day_papers}-paper synthetic day, through outgoing.plan_recipients + "
        f"MessageBuilder.build (serialised messages, per-recipient unsubscribe token); "
        f"{data['recipients']} recipients got mail; peak RSS of the child "
        f"{run.maxrss_mb:.0f} MB; total {data['total_s']:.2f} s "
        f"(plan {data['plan_s']:.2f} s)")
    if profile and not ok:
        cmd_prof = [*cmd[:-1], "profile"]
        prof_run = run_child(cmd_prof)
        if prof_run.returncode == 0:
            row.notes += top_functions(WORK / "profiles" / "render.prof")
    return [row]


def child_render(day: Path, subscribers: int, filters: int, *, profile: bool) -> dict[str, Any]:
    from newsletter.compose import render_email
    from newsletter.config import Settings, Subscriber
    from newsletter.outgoing import MessageBuilder, plan_recipients
    from newsletter.parse import read_digest
    from newsletter.subscribers import split_list
    from newsletter.templating import make_environment

    digest = read_digest(day)
    settings = Settings()
    settings = settings.replace(email=_replace(settings.email, unsubscribe_url=(
        "https://news.example.org/unsubscribe")))
    env = make_environment(None)
    pairs = subscriber_filters(filters)
    subs = [Subscriber(email=f"reader{i:05d}@example.org", name=f"Reader {i}",
                       categories=split_list(pairs[i % len(pairs)][0]),
                       keywords=split_list(pairs[i % len(pairs)][1]))
            for i in range(subscribers)]
    render_email(digest, settings, env=env)  # warm templates and CSS parsing
    # The baseline is one full render from nothing: a fresh Settings object each time, so no
    # cache the composer may keep (keyed by identity) can serve it.
    full = median_seconds(lambda: render_email(digest, settings.replace(), env=env), 3)
    now = dt.datetime(2025, 7, 1, 8, 0, tzinfo=dt.UTC)

    def per_subscriber() -> tuple[int, int, float]:
        mark = time.perf_counter()
        plan = plan_recipients(digest, subs, suppressed=frozenset(), send_empty=False)
        plan_s = time.perf_counter() - mark
        builder = MessageBuilder(digest, settings, env=env, secret=b"k" * 32, now=now)
        total = 0
        for i, recipient in enumerate(plan.recipients):
            total += len(builder.build(recipient, message_id=f"<{i}@bench.example>"))
        selections = {None if r.papers is None else tuple(p.id for p in r.papers)
                      for r in plan.recipients}
        return len(plan.recipients), len(selections), plan_s

    start = time.perf_counter()
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        recipients, distinct, plan_s = profiler.runcall(per_subscriber)
        (WORK / "profiles").mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(str(WORK / "profiles" / "render.prof"))
    else:
        recipients, distinct, plan_s = per_subscriber()
    total = time.perf_counter() - start
    return {"per_subscriber_ms": total * 1000 / subscribers, "full_render_ms": full * 1000,
            "recipients": recipients, "distinct_selections": distinct, "total_s": total,
            "plan_s": plan_s}


def _replace(obj: Any, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(obj, **changes)


# --- send


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def smtp_server(count_file: Path) -> Iterator[int]:
    """An aiosmtpd server in another process; yields its port."""
    port = free_port()
    proc = subprocess.Popen([PY, str(Path(__file__)), "--child", "smtpd", str(port),
                             str(count_file)], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().decode().strip()
        if ready != "ready":
            raise RuntimeError(f"smtp server did not start: {ready!r}")
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def server_count(count_file: Path) -> int:
    return int(count_file.read_text() or 0) if count_file.exists() else 0


def child_smtpd(port: int, count_file: Path) -> None:
    from aiosmtpd.controller import Controller

    class Counter:
        received = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            self.received += 1
            return "250 OK"

    handler = Counter()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    print("ready", flush=True)
    while not stop.wait(0.2):
        pass
    controller.stop()
    count_file.write_text(str(handler.received))


def send_config(path: Path, cwd: Path, csv_path: Path, *, port: int, state: str) -> Path:
    return write_config(
        path, _top={"subscribers_file": str(csv_path)},
        smtp={"host": "127.0.0.1", "port": port, "security": "none", "timeout": 60},
        email={"from": "Bench <bench@example.org>", "send_empty": True,
               "unsubscribe_url": "https://news.example.org/unsubscribe"},
        state={"path": str(cwd / state)},
        feeds={"out": str(cwd / "feeds")},
    )


def prebuilt_messages(day: Path, cwd: Path, csv_path: Path, expected: int) -> list[bytes]:
    """The messages `send --dry-run` writes (nothing is sent; its own state file)."""
    cfg = send_config(cwd / "dry.toml", cwd, csv_path, port=25, state="dry.sqlite3")
    cmd = [*NEWSLETTER, "send", str(day), "-c", str(cfg), "--dry-run", "-o", str(cwd / "outbox")]
    run = run_child(cmd, cwd=cwd)
    if run.returncode != 0:
        raise ChildFailed(cmd, run)
    messages = [p.read_bytes() for p in sorted((cwd / "outbox").rglob("*.eml"))]
    if len(messages) != expected:
        raise RuntimeError(f"--dry-run wrote {len(messages)} .eml files, expected {expected}")
    return messages


def smtplib_loop(port: int, messages: Sequence[bytes]) -> float:
    import smtplib

    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        for i, data in enumerate(messages):
            smtp.sendmail("bench@example.org", [f"reader{i:05d}@example.org"], data)
    return time.perf_counter() - start


def row_send(sizes: Sizes, profile: bool) -> list[Row]:
    require_command("send")
    day = synthetic_day(sizes.day_papers)
    cwd = fresh_dir(WORK / "send")
    csv_path = write_subscribers_csv(cwd / "subscribers.csv", sizes.messages, sizes.filters)
    messages = prebuilt_messages(day, cwd, csv_path, sizes.messages)
    reps = 1 if sizes.quick else 2
    base_times: list[float] = []
    runs: list[ChildRun] = []
    counted: list[int] = []
    for rep in range(reps):  # a fresh server and a fresh state file each time
        count_file = cwd / f"received{rep}"
        with smtp_server(count_file) as port:
            base_times.append(smtplib_loop(port, messages))
            cfg = send_config(cwd / f"send{rep}.toml", cwd, csv_path, port=port,
                              state=f"state{rep}.sqlite3")
            cmd = [*NEWSLETTER, "send", str(day), "-c", str(cfg)]
            run = run_child(cmd, cwd=cwd)
            if run.returncode != 0:
                raise ChildFailed(cmd, run)
            runs.append(run)
        counted.append(server_count(count_file) - len(messages))
    took = statistics.median(r.seconds for r in runs)
    base_s = statistics.median(base_times)
    rate, base_rate = sizes.messages / took, len(messages) / base_s
    ratio = rate / base_rate
    ok = ratio >= 0.7 and all(c == sizes.messages for c in counted)
    row = Row("send", rate, "msgs/s", base_rate, "msgs/s", ratio, ">= 0.7x baseline msgs/s", ok)
    if sizes.quick:
        row.notes.append("quick: with 200 messages the command's fixed start-up (import, parse, "
                         "prepare the email) weighs ~10x more than with 2,000; judge the full run")
    row.notes.append(
        f"{sizes.messages} subscribers (CSV, {sizes.filters} distinct filters) of a "
        f"{sizes.day_papers}-paper synthetic day to aiosmtpd on 127.0.0.1 in another process; "
        f"`newsletter send` whole process {took:.2f} s (median of {reps}; server counted "
        f"{counted}), peak RSS {max(r.maxrss_mb for r in runs):.0f} MB; baseline: smtplib, "
        f"one connection, the {len(messages)} messages `send --dry-run` wrote "
        f"({base_s:.2f} s, avg {statistics.mean(map(len, messages)) / 1000:.0f} KB)")
    if profile and not ok:
        with smtp_server(cwd / "received-prof") as port:
            cfg = send_config(cwd / "prof.toml", cwd, csv_path, port=port, state="prof.sqlite3")
            row.notes += profile_child(
                "send", [*NEWSLETTER, "send", str(day), "-c", str(cfg)], cwd=cwd)
    return [row]


def row_poll(sizes: Sizes, profile: bool) -> list[Row]:
    require_module("newsletter.watch")
    from newsletter.watch import InboxWatcher

    inbox = synthetic_inbox(sizes.inbox_days, sizes.inbox_papers)
    watcher = InboxWatcher(folder=inbox, pattern="*.md", settle_seconds=0)
    first = watcher.poll(time.time())
    calls: list[int] = []

    def poll() -> None:
        calls.append(len(watcher.poll(time.time())))

    took = median_seconds(poll, sizes.polls)
    base = median_seconds(lambda: list(os.scandir(inbox)), sizes.polls)
    row = Row("poll", took * 1000, "ms", base * 1000, "ms", took / base, "< 50 ms",
              took < 0.050 and not any(calls))
    row.notes.append(f"InboxWatcher.poll over {len(first)} digests after a first poll, nothing "
                     f"changed (new files reported: {sum(calls)}); median of {sizes.polls}")
    return [row]


ROWS: dict[str, Callable[[Sizes, bool], list[Row]]] = {
    "parse": row_parse,
    "generate-day": row_generate_day,
    "window": row_window,
    "rebuild-year": row_rebuild_year,
    "render": row_render,
    "send": row_send,
    "poll": row_poll,
}


# ------------------------------------------------------------------------------ output


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2 if abs(value) >= 1 else 3
    return f"{value:.{digits}f} {unit}".strip()


def format_table(rows: Sequence[Row]) -> str:
    lines = ["| row | figure | baseline (same run) | ratio | target | result |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        if r.status:
            lines.append(f"| {r.row} | {r.status} | — | — | {r.target or '—'} | — |")
            continue
        ratio = "—" if r.ratio is None else f"{r.ratio:.3g}"
        result = "—" if r.ok is None else "pass" if r.ok else "MISS"
        also = f", {r.also}" if r.also else ""
        lines.append(f"| {r.row} | {_fmt(r.figure, r.unit)}{also} | "
                     f"{_fmt(r.baseline, r.baseline_unit)} | {ratio} | {r.target} | {result} |")
    return "\n".join(lines)


def machine() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform()}


def run_rows(names: Sequence[str], sizes: Sizes, *, profile: bool) -> list[Row]:
    rows: list[Row] = []
    for name in names:
        start = time.perf_counter()
        try:
            got = ROWS[name](sizes, profile)
        except NotBuilt as exc:
            got = [Row(name, status=f"n/a (not built: {exc})")]
        except (ChildFailed, RuntimeError, OSError, KeyError, ValueError, AttributeError,
                ImportError, TypeError) as exc:
            got = [Row(name, status=f"error: {type(exc).__name__}: {str(exc)[:150]}")]
        for row in got:
            row.extra["row_seconds"] = time.perf_counter() - start
        rows += got
        print(f"  {name}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="newsletter benchmark (see bench/README.md)")
    ap.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats (< 1 min)")
    ap.add_argument("--profile", action="store_true",
                    help="profile every row that misses its target (cProfile, bench/_work/)")
    ap.add_argument("--only", nargs="+", choices=list(ROWS), help="run only these rows")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child_main(args.child)
    sizes = QUICK if args.quick else FULL
    WORK.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows = run_rows(args.only or list(ROWS), sizes, profile=args.profile)
    elapsed = time.perf_counter() - started
    mode = "quick (smaller sizes, fewer repeats)" if sizes.quick else "full"
    info = machine()
    print(f"\nnewsletter benchmark, {mode}, {dt.date.today().isoformat()}: {info['nproc']} "
          f"CPUs, {info['cpu']}, Python {info['python']}; {elapsed:.0f} s\n")
    print(format_table(rows))
    print()
    for row in rows:
        for note in row.notes:
            print(f"- {row.row}: {note}" if not note.startswith("  ") else note)
    RESULTS.write_text(json.dumps({
        "mode": mode, "date": dt.date.today().isoformat(), "machine": info,
        "seconds": elapsed, "sizes": asdict(sizes), "rows": [asdict(r) for r in rows],
        "table": format_table(rows),
    }, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


def child_main(args: list[str]) -> int:
    kind = args[0]
    if kind == "stages":
        print(json.dumps(child_stages([Path(a) for a in args[2:]], Path(args[1]))))
    elif kind == "render":
        result = child_render(Path(args[1]), int(args[2]), int(args[3]),
                              profile=args[4] == "profile")
        print(json.dumps(result))
    elif kind == "smtpd":
        child_smtpd(int(args[1]), Path(args[2]))
    else:
        raise SystemExit(f"unknown child {kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
