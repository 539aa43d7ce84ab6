"""Pipeline cost per post vs raw VADER, in one run: the scorer alone and with a learned model.

Pushes N posts (default 100,000) through fetch (JSONL file) → dedup → match → classify → store
(SQLite, or --database-url) → outbox, once with the scorer alone and, given a model, once with
it, each in its own fresh process and database; raw `SentimentIntensityAnalyzer.polarity_scores`
runs over the same texts just before and after each (`--rounds N` repeats each configuration
and reports the round with the median ratio: these machines are noisy). Prints posts per
second, the ratio to VADER in wall time and in CPU time (CPU time is steadier on a shared
machine), each process's peak RSS, and how much of the time `PostStore.store_poll` took (timed
around each call), what the history view's text index then costs to catch up (the daemon's job
behind the polls), then the CPU by stage from a further run of the same configuration with
timers around each stage (`--no-stages` skips it: its timers cost a few µs a post, so it never
gives the headline). A PostgreSQL `--database-url` gets a schema of its own for each run,
dropped afterwards.

    .venv/bin/python bench/pipeline.py --texts ../shared/data/customer_service_uva2015.csv
    .venv/bin/python bench/pipeline.py --texts CSV --model state/models/model-0001.json.gz
    .venv/bin/python bench/pipeline.py --texts CSV --train-model CSV [CSV...]   # a bench model
    .venv/bin/python bench/pipeline.py --texts CSV --profile     # where the time goes
    .venv/bin/python bench/pipeline.py --texts CSV --without-classifier   # storage etc. alone
    .venv/bin/python bench/pipeline.py --deliver                 # and delivery to a fake Slack

Without --texts the posts are short generated templates, which makes VADER unusually cheap;
real tweets (cycled to --posts, made unique and on-brand) are what the README figures use.
`--train-model` fits a model on labeled CSVs into a temporary directory for this run only
(../shared/data allows benchmarks; such a model is never shipped).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import csv
import gc
import itertools
import json
import multiprocessing
import pstats
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COMPLAINTS = [
    "@acme still waiting on my refund for order {n}, three weeks now",
    "@acme you charged me twice for order {n} and nobody answers",
    "acme app crashed again during checkout, lost my cart #{n}",
    "@acmehelp where is my package {n}? tracking hasn't moved in 6 days",
    "worst experience with acme ever, cancelled order {n} and no refund",
]
OTHERS = [
    "Loving the new acme app update, checkout is so fast now {n}",
    "does acme ship to canada? asking for order {n}",
    "Thanks @acmehelp, sorted out in five minutes. Great service! {n}",
    "acme summer sale starts today, picked up {n} things",
    "just watched a video about acme's new warehouse robots #{n}",
    "anyone know if acme is hiring in Austin? {n}",
    "acme's keynote was interesting, new speakers look nice {n}",
    "my cat sat on the acme box all day lol {n}",
]
AREAS = (
    ("classify: VADER", ("vaderSentiment", "classifier/sentiment.py")),
    ("classify: model", ("classifier/model.py", "numpy", "sklearn")),
    ("classify: scorer", ("monitor/classifier/",)),
    ("storage", ("monitor/storage/", "sqlalchemy", "sqlite3", "psycopg", "alembic")),
    ("fetch", ("connectors/",)),
)
"""Where profiled time is counted, by the file of the function that spent it (first match)."""


def real_texts(csv_path: Path) -> list[str]:
    """Texts of a labeled CSV (e.g. ../shared/data/*.csv, which allows benchmarks)."""
    with csv_path.open(encoding="utf-8", errors="replace", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle) if row.get("text")]


def generate(
    path: Path, count: int, complaint_share: float, rng: random.Random, corpus: list[str]
) -> list[str]:
    start = datetime(2026, 11, 23, tzinfo=UTC)
    texts = []
    with path.open("w", encoding="utf-8") as handle:
        for n in range(count):
            if corpus:  # real tweets, made unique and on-brand: each post is stored and scored
                text = f"@acme {corpus[n % len(corpus)]} #{n}"
            else:
                pool = COMPLAINTS if rng.random() < complaint_share else OTHERS
                text = rng.choice(pool).format(n=n)
            texts.append(text)
            line = {
                "id": str(n),
                "platform": "x",
                "author": f"user{n % 5000}",
                "followers": rng.randint(0, 5000),
                "text": text,
                "created_at": (start + timedelta(seconds=n)).isoformat(),
                "lang": "en",
            }
            handle.write(json.dumps(line) + "\n")
    return texts


def train_model(csv_paths: list[str], directory: Path) -> Path:
    """A model fitted on labeled CSVs, for this benchmark only."""
    from monitor.classifier import Classifier
    from monitor.classifier.evaluation import read_labeled_csv
    from monitor.classifier.model import ModelStore
    from monitor.classifier.settings import ClassifierSettings
    from monitor.classifier.training import train

    rows = [row for path in csv_paths for row in read_labeled_csv(path).rows]
    scorer = Classifier(ClassifierSettings())
    trained = train(rows, scorer, version=1, now=datetime.now(UTC), min_examples=40)
    return ModelStore(directory).save(trained.model, promote=False)


def memory_mb() -> dict[str, float]:
    """Resident now and at its peak (Linux's VmRSS and VmHWM)."""
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) / 1024
    return found


class FixedVerdict:
    """Stands in for the classifier (`--without-classifier`): ready-made verdicts, every third
    a complaint (the real tweets give about 35%), so the run measures fetch, matching and
    storage alone, alerts included."""

    def __init__(self, complaint: Any, other: Any) -> None:
        self.verdicts = itertools.cycle([complaint, other, other])
        self.version = "fixed-verdicts"
        self.model = None

    def classify(self, text: str, **_: Any) -> Any:
        return next(self.verdicts)

    def classify_many(self, texts: list[str], **_: Any) -> list[Any]:
        return [next(self.verdicts) for _ in texts]


def run_pipeline(
    feed: str,
    model: str | None,
    database_url: str | None,
    deliver: bool,
    profile: bool,
    classify: bool = True,
    gc_freeze: bool = False,
    stages_timed: bool = False,
) -> dict[str, Any]:
    """One configuration in this (fresh) process: its own state directory and database.

    `stages_timed` puts timers around each stage (two CPU-clock reads per call, one of them per
    post around VADER): that run gives the breakdown only, never the headline figures."""
    from _scratch import scratch_schema

    from monitor.classifier.model import ModelStore
    from monitor.clock import SystemClock
    from monitor.config import parse_config
    from monitor.daemon import Daemon
    from tests.fakes.slack import FakeSlack

    figures: dict[str, Any] = {}
    with contextlib.ExitStack() as opened:
        tmp = opened.enter_context(tempfile.TemporaryDirectory())
        slack = opened.enter_context(FakeSlack())
        if model:  # as `train` would leave it: in the state directory, made current
            models = ModelStore(Path(tmp))
            models.directory.mkdir(parents=True)
            shutil.copy(model, models.directory / Path(model).name)
            models.promote(Path(model).name)
        url = database_url or f"sqlite:///{tmp}/bench.db"
        if url.startswith("postgresql"):  # this run's own tables: another run may share the server
            url = opened.enter_context(scratch_schema(url, "bench_pipeline"))
        config = parse_config(
            {
                "daemon": {"state_dir": tmp},
                "brand": {"name": "Acme", "handles": ["acme", "acmehelp"]},
                "database": {"url": url},
                "slack": {
                    "sink": "slack",
                    "token_env": "BENCH_TOKEN",
                    "channel": "C1",
                    "base_url": slack.base_url,
                },
                "sources": [{"type": "jsonl", "path": feed, "max_lines_per_poll": 5000}],
            },
            env={"BENCH_TOKEN": slack.token},
        )
        daemon = Daemon(config, clock=SystemClock())
        daemon.prepare()
        if gc_freeze:  # what a daemon that froze its start-up objects would cost
            gc.freeze()
        (runner,) = daemon.runners
        if not classify:
            real = daemon.pipeline.classifier
            stand_in = FixedVerdict(
                real.classify("@acme still waiting on my refund"), real.classify("@acme hi")
            )
            daemon.pipeline.classifier = stand_in  # type: ignore[assignment]
        figures["classifier"] = daemon.pipeline.classifier.version
        store_clock = _time_store_poll(daemon.pipeline.posts)
        stages = _time_stages(daemon.pipeline, runner) if stages_timed else None
        figures["memory_before"] = memory_mb()
        profiler = cProfile.Profile() if profile else None
        wall, cpu = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        while (report := runner.poll()) is not None and report.more:
            pass
        if profiler is not None:
            profiler.disable()
        figures["wall"] = time.perf_counter() - wall
        figures["cpu"] = time.process_time() - cpu
        figures["memory"] = memory_mb()
        figures["store_wall"], figures["store_cpu"] = store_clock
        wall, cpu = time.perf_counter(), time.process_time()  # the daemon's job, every 10 s
        daemon.storage.text_index.catch_up(max_seconds=float("inf"))
        figures["index_wall"] = time.perf_counter() - wall
        figures["index_cpu"] = time.process_time() - cpu
        if stages is not None:
            figures["stages"] = stages.per_post()
        if profiler is not None:
            figures["areas"] = areas(pstats.Stats(profiler))
        if deliver:
            started = time.perf_counter()
            figures["delivery_report"] = str(daemon.deliver())
            figures["delivery_seconds"] = time.perf_counter() - started
            figures["sent"] = len(slack.messages)
        daemon.close()
    return figures


def _time_store_poll(posts: Any) -> list[float]:
    """Wraps this run's `PostStore.store_poll` to add up its wall and CPU time: the storage
    share of the pipeline, measured rather than inferred from a profile. Returns the running
    [wall, cpu] totals."""
    totals = [0.0, 0.0]
    store_poll = posts.store_poll

    def timed(**kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return store_poll(**kwargs)
        finally:
            totals[0] += time.perf_counter() - wall
            totals[1] += time.process_time() - cpu

    posts.store_poll = timed
    return totals


class StageClock:
    """CPU time by stage of each poll, from timers around whole-poll calls (a poll is
    thousands of posts, so the timers cost nothing measurable), plus VADER inside the scorer
    (timed per call: ~0.3 µs a post of timer overhead lands in it). Each stage is the time
    spent in it minus that of the stages nested inside it."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = {}
        self.inner: dict[str, float] = {}
        self.posts = 0
        self.gc_cpu = [0.0, 0.0, 0.0]
        """CPU time in garbage collection by generation: inside the stages, shown apart."""
        self._stack: list[str] = []
        self._gc_started = 0.0
        gc.callbacks.append(self._collected)

    def _collected(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.process_time()
        else:
            self.gc_cpu[info["generation"]] += time.process_time() - self._gc_started

    def wrap(self, owner: Any, attribute: str, stage: str) -> None:
        original = getattr(owner, attribute)
        clock = time.process_time
        cpu, inner, stack = self.cpu, self.inner, self._stack

        def timed(*args: Any, **kwargs: Any) -> Any:
            stack.append(stage)
            started = clock()
            try:
                return original(*args, **kwargs)
            finally:
                spent = clock() - started
                stack.pop()
                cpu[stage] = cpu.get(stage, 0.0) + spent
                if stack:  # charged to this stage, not to the one around it
                    inner[stack[-1]] = inner.get(stack[-1], 0.0) + spent

        setattr(owner, attribute, timed)

    def per_post(self) -> dict[str, float]:
        """µs per post by stage, own time only (nested stages subtracted)."""
        posts = self.posts or 1
        own = {stage: spent - self.inner.get(stage, 0.0) for stage, spent in self.cpu.items()}
        figures = {stage: spent / posts * 1e6 for stage, spent in own.items()}
        for generation, spent in enumerate(self.gc_cpu):
            figures[f"(of which GC, generation {generation})"] = spent / posts * 1e6
        return figures


STAGES = (
    "runner (leases, health, logs, metrics)",
    "pipeline.poll (brand match, report)",
    "fetch: read + parse JSONL",
    "fetch: sanitize (normalize_post) + cursor",
    "dedup (_drop_stored)",
    "muted + revisions",
    "judge: language, VIP, NewPost, routing",
    "classify: VADER",
    "classify: rest of the scorer",
    "store_poll",
)


def _time_stages(pipeline: Any, runner: Any) -> StageClock:
    """Timers around each stage of this run's polls (`StageClock`)."""
    import monitor.pipeline as pipeline_module

    clock = StageClock()
    connector = runner.connector
    fetch = connector.fetch

    def counted(cursor: Any) -> Any:
        result = fetch(cursor)
        clock.posts += len(result.posts)
        return result

    connector.fetch = counted
    clock.wrap(runner, "poll", STAGES[0])
    clock.wrap(pipeline, "poll", STAGES[1])
    clock.wrap(connector, "poll", STAGES[3])
    clock.wrap(connector, "fetch", STAGES[2])
    clock.wrap(pipeline, "_drop_stored", STAGES[4])
    clock.wrap(pipeline, "_muted", STAGES[5])
    clock.wrap(pipeline, "_alerted_originals", STAGES[5])
    clock.wrap(pipeline, "_judge", STAGES[6])
    clock.wrap(pipeline_module, "detect", "judge: language detection")
    clock.wrap(pipeline.classifier, "classify_many", STAGES[8])
    scorer = getattr(pipeline.classifier, "_sentiment", None)
    if scorer is not None:
        clock.wrap(scorer, "scores", STAGES[7])
    clock.wrap(pipeline.posts, "store_poll", STAGES[9])
    return clock


def areas(stats: pstats.Stats) -> dict[str, float]:
    """Share of the profiled time by area, attributed by the file of the spending function;
    built-in calls (regex, str methods, the sqlite3 C module) count for their caller's area."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    totals: dict[str, float] = {}
    for (filename, _, name), (_, _, own, _, callers) in raw.items():
        if filename == "~" and callers:  # a built-in: charge it to its callers, pro rata
            for caller, (_, _, spent, _) in callers.items():
                area = _area(caller[0], caller[2])
                totals[area] = totals.get(area, 0.0) + spent
            continue
        area = _area(filename, name)
        totals[area] = totals.get(area, 0.0) + own
    whole = sum(totals.values()) or 1.0
    return {area: seconds / whole for area, seconds in sorted(totals.items())}


def _area(filename: str, name: str) -> str:
    if "sqlite3" in name:
        return "storage"
    for area, marks in AREAS:
        if any(mark in filename for mark in marks):
            return area
    return "other (pipeline, brand match, json, logging)"


def vader_seconds(texts: list[str]) -> tuple[float, float]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    for text in texts[:500]:  # warm the lexicon dicts before timing
        analyzer.polarity_scores(text)
    wall, cpu = time.perf_counter(), time.process_time()
    for text in texts:
        analyzer.polarity_scores(text)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--complaint-share", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--texts", type=Path, help="take texts from a CSV with a text column")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--model", type=Path, help="a saved model-NNNN.json.gz to run as well")
    group.add_argument("--train-model", nargs="+", metavar="CSV", help="fit a bench model")
    parser.add_argument("--database-url", help="default: a fresh SQLite file per run")
    parser.add_argument("--deliver", action="store_true", help="also deliver to a fake Slack")
    parser.add_argument("--profile", action="store_true", help="print time shares by area")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() once the daemon is prepared: the start-up heap (VADER's lexicon, "
        "SQLAlchemy, settings) is then not walked by every full collection",
    )
    parser.add_argument(
        "--no-stages",
        action="store_true",
        help="skip the second, timed run of each configuration that gives the CPU by stage",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="untimed runs of each configuration, each between two timings of raw VADER; "
        "the round with the median CPU ratio gives the figures",
    )
    parser.add_argument(
        "--without-classifier",
        action="store_true",
        help="also run with a fixed verdict: what fetch, matching and storage cost alone",
    )
    args = parser.parse_args()
    corpus = real_texts(args.texts) if args.texts else []
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        feed = Path(tmp) / "mentions.jsonl"
        texts = generate(feed, args.posts, args.complaint_share, random.Random(args.seed), corpus)
        model = args.model
        if args.train_model:
            started = time.perf_counter()
            model = train_model(args.train_model, Path(tmp) / "bench-state")
            print(f"bench model trained in {time.perf_counter() - started:.0f} s: {model}")
        runs: dict[str, tuple[str | None, bool]] = {"scorer alone": (None, True)}
        if model:
            runs["with the model"] = (str(model), True)
        if args.without_classifier:
            runs["without the classifier (fixed verdicts)"] = (None, False)
        results: dict[str, dict[str, Any]] = {}
        for name, (model_file, classify) in runs.items():
            # The headline figures come from untimed runs, each between two timings of raw
            # VADER (the machine may change meanwhile); the CPU by stage from a further, timed
            # one (its timers cost a few µs a post, which would inflate the ratio).
            rounds: list[dict[str, Any]] = []
            for timed in [False] * args.rounds + ([] if args.no_stages or args.profile else [True]):
                before = vader_seconds(texts) if not timed else (0.0, 0.0)
                with spawn.Pool(1) as pool:
                    figures = pool.apply(
                        run_pipeline,
                        (
                            str(feed),
                            model_file,
                            args.database_url,
                            args.deliver and not timed,
                            args.profile,
                            classify,
                            args.gc_freeze,
                            timed,
                        ),
                    )
                if timed:
                    results[name]["stages"] = figures["stages"]
                    results[name]["timed_cpu"] = figures["cpu"]
                    continue
                after = vader_seconds(texts)
                figures["vader"] = ((before[0] + after[0]) / 2, (before[1] + after[1]) / 2)
                rounds.append(figures)
                if len(rounds) == args.rounds:  # the round with the median CPU ratio
                    ranked = sorted(rounds, key=lambda r: r["cpu"] / r["vader"][1])
                    results[name] = ranked[len(ranked) // 2]
                    results[name]["rounds"] = [r["cpu"] / r["vader"][1] for r in rounds]

    posts = args.posts
    print(f"posts                  {posts} ({args.texts or 'generated'})")
    print(f"database               {args.database_url or 'sqlite (fresh file)'}")
    for name, run in results.items():
        vader_wall, vader_cpu = run["vader"]
        per_post = vader_wall / posts * 1e6
        print(f"--- {name}: {run['classifier']}")
        print(f"raw VADER              {posts / vader_wall:9.0f} posts/s  ({per_post:.0f} µs/post)")
        if len(run["rounds"]) > 1:
            print(
                f"CPU ratio by round     {', '.join(f'{r:.2f}' for r in run['rounds'])}: "
                "the figures below are the median round's"
            )
        print(
            f"pipeline to the outbox {posts / run['wall']:9.0f} posts/s  "
            f"({run['wall'] / posts * 1e6:.0f} µs/post; fetch, dedup, match, classify, store)"
        )
        print(
            f"ratio vs raw VADER     {run['wall'] / vader_wall:9.2f}x wall, "
            f"{run['cpu'] / vader_cpu:.2f}x CPU"
        )
        print(
            f"  of which store_poll  {run['store_wall'] / posts * 1e6:9.1f} µs/post wall, "
            f"{run['store_cpu'] / posts * 1e6:.1f} µs/post CPU "
            f"({run['store_cpu'] / vader_cpu:.2f}x VADER's CPU)"
        )
        with_index = (run["cpu"] + run["index_cpu"]) / vader_cpu
        print(
            f"text index, behind     {run['index_cpu'] / posts * 1e6:9.1f} µs/post CPU, "
            f"{run['index_wall'] / posts * 1e6:.1f} wall with its pauses for polls (the "
            f"daemon's job after the polls; with it {with_index:.2f}x raw VADER's CPU)"
        )
        memory = run["memory"]
        started = run["memory_before"].get("VmRSS", 0)
        print(
            f"RSS after the run      {memory.get('VmRSS', 0):9.0f} MB "
            f"(peak {memory.get('VmHWM', 0):.0f} MB; {started:.0f} MB once started)"
        )
        if "sent" in run:
            print(
                f"delivery               {run['sent'] / run['delivery_seconds']:9.0f} alerts/s "
                f"({run['delivery_report']})"
            )
        stages = run.get("stages")
        if stages:
            vader_us = vader_cpu / posts * 1e6
            timed_us = run["timed_cpu"] / posts * 1e6
            print(
                f"  CPU by stage          µs/post  (x raw VADER's {vader_us:.1f} µs CPU; a "
                f"second run, {timed_us:.0f} µs/post with its timers)"
            )
            own = [s for s in stages if not s.startswith("(of which")]
            for stage in sorted(own, key=lambda s: STAGES.index(s) if s in STAGES else 99):
                spent = stages[stage]
                print(f"    {stage:42} {spent:6.1f}  {spent / vader_us:5.2f}x")
            total = sum(stages[stage] for stage in own)
            print(f"    {'total':42} {total:6.1f}  {total / vader_us:5.2f}x")
            for stage in sorted(set(stages) - set(own)):
                print(f"    {stage:42} {stages[stage]:6.1f}  {stages[stage] / vader_us:5.2f}x")
        for area, share in run.get("areas", {}).items():
            print(f"  profile: {area:45} {share:6.1%}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"this process's peak RSS {peak:8.0f} MB (texts, raw VADER)")


if __name__ == "__main__":
    main()
