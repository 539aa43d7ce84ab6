"""The learned model's scores, and its cost per post, from two trees of the code: same model file.

A change that only makes scoring cheaper must give every post the same probability (to ~1e-12),
the same label and the same reason. This scores the same texts, in polls of --poll posts, with
the code of another tree (e.g. HEAD, archived) and with this checkout, each in its own
subprocess importing its own tree; the scorer's log-odds and VADER compound that the blender
takes are computed once, here, so only the model's code differs. Prints the largest difference
of probabilities, the differing labels and reasons, and CPU µs/post of `explain_many` (the
n-grams, the embedding stage if the model has one, the blender and the reasons), best of
--rounds, the two trees alternating.

    mkdir -p /tmp/model-before && git archive HEAD | tar -x -C /tmp/model-before
    .venv/bin/python bench/model_equivalence.py --before /tmp/model-before \\
        --texts ../shared/data/customer_service_uva2015.csv \\
        --train-model ../shared/data/airline_sentiment_2015.csv     # or --model FILE

`--train-model` fits a bench model as `bench/pipeline.py` does (../shared/data allows
benchmarks; such a model is never shipped).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HERE = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from monitor.classifier.model import ModelStore
inputs = json.loads(Path(sys.argv[3]).read_text())
model = ModelStore(Path(sys.argv[2]).parent).load(Path(sys.argv[2]))
texts, z, compound = inputs["texts"], inputs["scorer_z"], inputs["compound"]
size, threshold = inputs["poll"], inputs["threshold"]
spans = [(start, start + size) for start in range(0, len(texts), size)]
def run():
    out = []
    for a, b in spans:
        out.extend(model.explain_many(texts[a:b], z[a:b], compound[a:b], threshold))
    return out
found = run()  # warm: first-use caches, the encoder
best = float("inf")
for _ in range(inputs["rounds"]):
    started = time.process_time()
    run()
    best = min(best, time.process_time() - started)
json.dump(
    {"log_odds": [s for s, _ in found], "reasons": [r.detail + f" {r.weight!r}" for _, r in found],
     "us_per_post": best / len(texts) * 1e6},
    sys.stdout,
)
"""


def texts_of(csv_path: Path, posts: int) -> list[str]:
    from bench.pipeline import real_texts

    texts = real_texts(csv_path)
    return [texts[i % len(texts)] for i in range(posts)]


def scorer_inputs(texts: list[str]) -> tuple[list[float], list[float]]:
    """The scorer's log-odds and VADER compound of each text (this checkout's scorer)."""
    from monitor.classifier import Classifier
    from monitor.classifier.settings import ClassifierSettings

    scorer = Classifier(ClassifierSettings())
    scored = [scorer._score(text, None) for text in texts]
    return [s.log_odds for s in scored], [s.compound for s in scored]


@dataclass(frozen=True)
class Scored:
    log_odds: list[float]
    reasons: list[str]
    us_per_post: float


def score_in(tree: Path, model: Path, inputs: Path) -> Scored:
    """The model's scores and cost with the code of `tree`, in a subprocess of its own."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tree), str(model), str(inputs)],
        check=True,
        capture_output=True,
        text=True,
    )
    found = json.loads(done.stdout)
    return Scored(found["log_odds"], found["reasons"], float(found["us_per_post"]))


def logistic(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="tree of the code before")
    parser.add_argument("--texts", type=Path, required=True, help="a labeled CSV (its texts)")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--model", type=Path, help="a saved model-NNNN.json.gz")
    group.add_argument("--train-model", nargs="+", metavar="CSV", help="fit a bench model")
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--poll", type=int, default=100, help="posts scored together")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if args.train_model:
            from bench.pipeline import train_model

            started = time.perf_counter()
            model = train_model(args.train_model, Path(tmp) / "bench-state")
            print(f"bench model trained in {time.perf_counter() - started:.0f} s")
        texts = texts_of(args.texts, args.posts)
        z, compound = scorer_inputs(texts)
        inputs = Path(tmp) / "inputs.json"
        inputs.write_text(
            json.dumps(
                {
                    "texts": texts,
                    "scorer_z": z,
                    "compound": compound,
                    "poll": args.poll,
                    "threshold": args.threshold,
                    "rounds": args.rounds,
                }
            )
        )
        trees = {"before": args.before.resolve(), "after": HERE}
        results: dict[str, list[Scored]] = {name: [] for name in trees}
        for _ in range(2):  # alternating, so both see the machine's load of the moment
            for name, tree in trees.items():
                results[name].append(score_in(tree, Path(model), inputs))

    before, after = results["before"][0], results["after"][0]
    p_before = [logistic(z) for z in before.log_odds]
    p_after = [logistic(z) for z in after.log_odds]
    limit = math.log(args.threshold / (1 - args.threshold))
    pairs = list(zip(before.log_odds, after.log_odds, strict=True))
    labels = sum((b >= limit) != (a >= limit) for b, a in pairs)
    reasons = sum(b != a for b, a in zip(before.reasons, after.reasons, strict=True))
    diff = max(abs(b - a) for b, a in zip(p_before, p_after, strict=True))
    cost = {name: min(r.us_per_post for r in runs) for name, runs in results.items()}
    print(f"posts                    {len(p_before)} ({args.texts.name}), polls of {args.poll}")
    print(f"max |P before - P after| {diff:.3g}")
    print(f"labels that differ       {labels}")
    print(f"reasons that differ      {reasons}")
    print(f"explain_many CPU before  {cost['before']:.1f} µs/post")
    ratio = cost["after"] / cost["before"]
    print(f"explain_many CPU after   {cost['after']:.1f} µs/post ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
