"""The model learned from the team's feedback, stacked on the scorer.

Two stages, both logistic regressions (fitted by `monitor.classifier.training`):

1. a *text model* over word (1-2) and character (2-5) n-grams, TF-IDF weighted, that learns the
   brand's own vocabulary ("no signal", "dropped call") from labeled posts;
2. a *blender* that weighs the text model's log-odds against the scorer's own log-odds and VADER
   compound. It is fitted on out-of-fold text-model predictions, so it learns how far to trust
   the n-grams on posts they have not seen, and the scorer's general cues keep counting.

The model is saved as plain gzipped JSON (vocabulary, IDF, coefficients, figures), never as a
pickle: loading a file from the state directory cannot run code, and a model outlives upgrades
of scikit-learn. Scoring needs numpy only (no scikit-learn or SciPy in the daemon's memory), and
`explain_many` scores a whole poll at once (`monitor.classifier.ngrams`).
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.classifier.ngrams import BlockScores, NgramBlock, PollWords, WordIndex, telling
from monitor.errors import ConfigError
from monitor.models import Reason

if TYPE_CHECKING:
    from monitor.classifier.embeddings import _WordTokens
    from monitor.classifier.finetune import FineTuned

log = logging.getLogger(__name__)

FORMAT = 1
"""Bumped when the file layout changes; an unknown format is refused with a clear message."""
FORMAT_EMBEDDINGS = 2
"""A model with an embedding stage: format 1 readers refuse it rather than score without it."""
FORMAT_FINETUNED = 3
"""A model with a fine-tuned encoder (`monitor.classifier.finetune`) in a file beside it."""
MODEL_GLOB = "model-*.json.gz"
CURRENT = "current"
"""A one-line file naming the model in use; replaced atomically, so readers never see half."""
KEEP_MODELS = 10
"""Older model files are deleted; the feedback they came from stays in the database."""
CHUNK = 500
"""Texts scored together: a poll's worth amortises numpy's per-call cost; a 5,000-post page
at once would hold tens of MB of window arrays for nothing."""

_URL = re.compile(r"[HWhw](?:(?<=[Hh])(?i:ttps?://)|(?<=[Ww])(?i:ww\.))\S+")
"""`https?://\\S+|www\\.\\S+` in any case, as the scorer's `_URL`: a pattern case-blind from
its start is tried at every position; one that starts with the class of its first letters is
searched for them (a link cost 3 µs a post, now 1)."""
_HANDLE = re.compile(r"@(?<![\w@]@)\w{1,30}")
"""An "@" after no word character or "@" (`(?<![\\w@])@\\w{1,30}`), checked once the "@" is
found: a pattern that starts with a lookbehind is tried at every position (3 µs a post, now
0.8), one that starts with its literal is searched for it."""


_SAID = '"%s" %+.2f'
"""How a reason words a term and its weight: `%` by `map` formats a poll's terms from C, a
quarter cheaper than an f-string evaluated for each (and the same text)."""


def normalize(text: str) -> str:
    """What the n-grams see: links and @handles become placeholders (the brand's handle would
    otherwise be the strongest "feature" of every post), case folded, spaces collapsed."""
    return " ".join(normalized_words(text))  # as `\s+` → " " and strip, without a regex pass


def normalized_words(text: str) -> list[str]:
    """The words of `normalize(text)`, as `str.split` gives them: a poll's are numbered from
    these (`WordIndex`), not split again. Lower case makes no white space and changes none,
    and white space bounds the context of a final sigma: lowered before the split or after
    the join, the words are the same."""
    if "://" in text or "w." in text or "W." in text:  # what a link needs: most posts skip it
        text = _URL.sub(" _url_ ", text)
    if "@" in text:
        text = _HANDLE.sub(" _user_ ", text)
    return text.lower().split()


def logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True, slots=True)
class Blender:
    """P(complaint) from the text model's log-odds, the scorer's log-odds and VADER compound."""

    text_weight: float
    scorer_weight: float
    compound_weight: float
    intercept: float
    embedding_weight: float = 0.0
    """The embedding stage's log-odds' weight (0 when the model has none)."""
    finetuned_weight: float = 0.0
    """The fine-tuned encoder's log-odds' weight (0 when the model has none)."""

    def log_odds(
        self,
        text_z: float,
        scorer_z: float,
        compound: float,
        embedding_z: float = 0.0,
        finetuned_z: float = 0.0,
    ) -> float:
        return (
            self.text_weight * text_z
            + self.scorer_weight * scorer_z
            + self.compound_weight * compound
            + self.embedding_weight * embedding_z
            + self.finetuned_weight * finetuned_z
            + self.intercept
        )


@dataclass(frozen=True, slots=True, eq=False)
class EmbeddingStage:
    """A logistic regression over the post's sentence embedding (`monitor.classifier.
    embeddings`, the optional extra): its log-odds are one more input of the blender."""

    encoder: str
    coef: Any
    """numpy float64 array, one weight per dimension."""
    intercept: float
    _words: list[_WordTokens | None] = field(default_factory=list, repr=False)
    """The stage's own cache of its words' tokens, made on first use (`words` numbers)."""

    def log_odds_many(self, prepared: Sequence[str], words: PollWords | None = None) -> Any:
        """The stage's log-odds of each text (already through `normalize`), as an array;
        `words`: the texts' words as the model numbered them for its blocks."""
        from monitor.classifier.embeddings import require

        if not prepared:
            return self.coef[:0]
        encoder = require(self.encoder)
        if words is None:
            return encoder.embed(prepared) @ self.coef + self.intercept
        if not self._words:
            self._words[:] = [encoder.cache()]  # a race makes two: each one sound
        return encoder.embed(prepared, words, self._words[0]) @ self.coef + self.intercept


@dataclass(slots=True)
class LearnedModel:
    version: int
    blocks: tuple[NgramBlock, ...]
    text_intercept: float
    blender: Blender
    decision_threshold: float
    """The blender's probability that counts as a complaint, chosen in training to keep recall."""
    scorer_version: str
    """The scorer whose log-odds the blender learned to weigh; another scorer needs a retrain."""
    trained_on: frozenset[str]
    """Fingerprints of the training texts, so an evaluation can leave them out."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Figures from training: examples, cross-validated scores, feedback id, timestamps."""
    embedding: EmbeddingStage | None = None
    """Sentence embeddings beside the n-grams, when trained with the `[embeddings]` extra."""
    finetuned: FineTuned | None = None
    """A fine-tuned encoder beside the n-grams, when trained with `[classifier] fine_tune`."""
    words: WordIndex = field(default_factory=WordIndex, repr=False, compare=False)
    """Numbers each poll's words once for every block and the embedding stage."""

    @property
    def name(self) -> str:
        return f"model-{self.version}"

    @property
    def examples(self) -> int:
        return int(self.meta.get("examples", len(self.trained_on)))

    @property
    def feedback_max_id(self) -> int:
        """The newest feedback row it learned from: newer rows count toward a retrain."""
        return int(self.meta.get("feedback_max_id", 0))

    def text_log_odds(self, text: str) -> tuple[float, dict[str, float]]:
        """The text model's log-odds, and each *word* n-gram's share (to explain it)."""
        return self.prepared_log_odds(normalize(text))

    def prepared_log_odds(self, prepared: str) -> tuple[float, dict[str, float]]:
        """As `text_log_odds`, for a text already through `normalize`: one text costs less
        in plain Python (`NgramBlock.one_log_odds`) than numpy's fixed cost per call."""
        total = self.text_intercept
        words: dict[str, float] = {}
        for block in self.blocks:
            share, contributions = block.one_log_odds(prepared, block.analyzer == "word")
            total += share
            words.update(contributions)
        return total, words

    def prepared_log_odds_many(
        self, prepared: Sequence[str]
    ) -> list[tuple[float, dict[str, float]]]:
        """`prepared_log_odds` of many texts, `CHUNK` at a time in one pass per block."""
        if len(prepared) > CHUNK:
            return [
                found
                for start in range(0, len(prepared), CHUNK)
                for found in self.prepared_log_odds_many(prepared[start : start + CHUNK])
            ]
        totals, word_blocks = self._text_log_odds_many(prepared, self.words.words(prepared))
        explained: list[tuple[float, dict[str, float]]] = []
        for index, total in enumerate(totals.tolist()):
            words: dict[str, float] = {}
            for scores in word_blocks:
                words.update(scores.contributions(index))
            explained.append((total, words))
        return explained

    def _text_log_odds_many(
        self, prepared: Sequence[str], poll: PollWords
    ) -> tuple[Any, list[BlockScores]]:
        """The text model's log-odds of each text (a numpy array), and the word blocks'
        breakdowns; the character blocks are only summed (their n-grams are never shown)."""
        import numpy as np

        totals = np.full(len(prepared), self.text_intercept)
        words: list[BlockScores] = []
        for block in self.blocks:
            if block.analyzer == "word":  # readable terms: worth their breakdown
                scores = block.score_many(prepared, poll)
                totals = totals + np.asarray(scores.log_odds)
                words.append(scores)
            else:
                totals = totals + block.log_odds_many(prepared, poll)
        return totals, words

    def explain(
        self, text: str, scorer_z: float, compound: float, threshold: float
    ) -> tuple[float, Reason]:
        """The combined log-odds, placed so that `score >= threshold` means the blender's
        probability reached `decision_threshold` (one threshold knob for both), and the reason
        that shows the shift and the words behind it."""
        text_z, words = self.text_log_odds(text)
        embedding_z = 0.0
        if self.embedding is not None:
            embedding_z = float(self.embedding.log_odds_many([normalize(text)])[0])
        finetuned_z = 0.0
        if self.finetuned is not None:
            finetuned_z = float(self.finetuned.log_odds_many([normalize(text)])[0])
        blended = self.blender.log_odds(text_z, scorer_z, compound, embedding_z, finetuned_z)
        threshold = min(max(threshold, 0.01), 0.99)
        combined = blended - logit(self.decision_threshold) + logit(threshold)
        shift = combined - scorer_z
        scale = self.blender.text_weight
        direction = 1 if shift >= 0 else -1
        telling = sorted(
            (
                (term, share * scale)
                for term, share in words.items()
                if share * direction > 0 and "_" not in term  # not the _user_/_url_ stand-ins
            ),
            key=lambda item: abs(item[1]),
            reverse=True,
        )[:3]
        terms = ", ".join(map(_SAID.__mod__, telling))
        detail = f"{self.name}, learned from {self.examples:,} team labels"
        detail += f": {terms}" if terms else ""
        return combined, Reason("learned", round(shift, 4) + 0.0, detail)

    def explain_many(
        self,
        texts: Sequence[str],
        scorer_z: Sequence[float],
        compound: Sequence[float],
        threshold: float,
    ) -> list[tuple[float, Reason]]:
        """`explain` for a whole poll: the n-grams of every text are weighed at once, and the
        words behind each shift are picked in arrays too; only the reason's text is built per
        post."""
        import numpy as np

        if len(texts) > CHUNK:
            return [
                found
                for start in range(0, len(texts), CHUNK)
                for found in self.explain_many(
                    texts[start : start + CHUNK],
                    scorer_z[start : start + CHUNK],
                    compound[start : start + CHUNK],
                    threshold,
                )
            ]
        split = list(map(normalized_words, texts))
        prepared = list(map(" ".join, split))
        poll = self.words.words(prepared, split)
        text_z, words = self._text_log_odds_many(prepared, poll)
        z = np.asarray(scorer_z, dtype=np.float64)
        blender = self.blender
        blended = (
            blender.text_weight * text_z
            + blender.scorer_weight * z
            + blender.compound_weight * np.asarray(compound, dtype=np.float64)
            + blender.intercept
        )
        if self.embedding is not None:
            embedding_z = self.embedding.log_odds_many(prepared, poll)
            blended = blended + blender.embedding_weight * embedding_z
        if self.finetuned is not None:
            blended = blended + blender.finetuned_weight * self.finetuned.log_odds_many(prepared)
        threshold = min(max(threshold, 0.01), 0.99)
        combined = blended - logit(self.decision_threshold) + logit(threshold)
        shift = combined - z
        bounds, terms, weights = telling(words, np.where(shift >= 0, 1, -1), blender.text_weight)
        said = list(map(_SAID.__mod__, zip(terms, weights, strict=True)))
        detail = f"{self.name}, learned from {self.examples:,} team labels"
        lead = detail + ": "
        explained: list[tuple[float, Reason]] = []
        for moved, change, start, stop in zip(
            combined.tolist(), shift.tolist(), bounds[:-1], bounds[1:], strict=True
        ):
            why = lead + ", ".join(said[start:stop]) if stop > start else detail
            explained.append((moved, Reason("learned", round(change, 4) + 0.0, why)))
        return explained

    # -- files --------------------------------------------------------------------------------

    def to_json(self, finetuned_file: tuple[str, str] | None = None) -> dict[str, Any]:
        """`finetuned_file`: the name and SHA-256 of the fine-tuned encoder's weights file,
        written beside the model file (`ModelStore.save`)."""
        data: dict[str, Any] = {
            "format": FORMAT if self.embedding is None else FORMAT_EMBEDDINGS,
            "version": self.version,
            "scorer_version": self.scorer_version,
            "decision_threshold": self.decision_threshold,
            "text_intercept": self.text_intercept,
            "blender": {
                "text_weight": self.blender.text_weight,
                "scorer_weight": self.blender.scorer_weight,
                "compound_weight": self.blender.compound_weight,
                "intercept": self.blender.intercept,
            },
            "blocks": [
                {
                    "analyzer": b.analyzer,
                    "ngram_range": list(b.ngram_range),
                    "terms": list(b.terms),
                    "idf": [round(v, 6) for v in b.idf.tolist()],
                    "coef": [round(v, 6) for v in b.coef.tolist()],
                }
                for b in self.blocks
            ],
            "trained_on": sorted(self.trained_on),
            "meta": self.meta,
        }
        if self.embedding is not None:
            data["blender"]["embedding_weight"] = self.blender.embedding_weight
            data["embedding"] = {
                "encoder": self.embedding.encoder,
                "coef": [round(v, 6) for v in self.embedding.coef.tolist()],
                "intercept": self.embedding.intercept,
            }
        if self.finetuned is not None:
            if finetuned_file is None:
                raise ValueError("a fine-tuned model is saved with its weights file")
            data["format"] = FORMAT_FINETUNED
            data["blender"]["finetuned_weight"] = self.blender.finetuned_weight
            data["finetuned"] = {
                "encoder": self.finetuned.encoder,
                "file": finetuned_file[0],
                "sha256": finetuned_file[1],
            }
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], directory: Path | None = None) -> LearnedModel:
        """`directory`: where a fine-tuned encoder's weights file is (the model file's)."""
        if not isinstance(data, dict):
            raise TypeError(f"a JSON {type(data).__name__} where an object belongs")
        if data.get("format") not in (FORMAT, FORMAT_EMBEDDINGS, FORMAT_FINETUNED):
            raise ValueError(
                f"model format {data.get('format')!r}, this version reads {FORMAT}, "
                f"{FORMAT_EMBEDDINGS} and {FORMAT_FINETUNED}"
            )
        finetuned = _finetuned_from(data["finetuned"], directory) if "finetuned" in data else None
        embedding: EmbeddingStage | None = None
        if "embedding" in data:
            import numpy as np

            from monitor.classifier.embeddings import require

            stage = data["embedding"]
            embedding = EmbeddingStage(
                str(stage["encoder"]),
                np.asarray([float(c) for c in stage["coef"]], dtype=np.float64),
                float(stage["intercept"]),
            )
            if embedding.coef.size != require(embedding.encoder).dimension:
                raise ValueError(f"{embedding.coef.size} embedding weights for {stage['encoder']}")
        for b in data["blocks"]:  # checked here, or the first poll would fail instead of now
            low, high = int(b["ngram_range"][0]), int(b["ngram_range"][1])
            if b["analyzer"] not in ("word", "char_wb") or not 1 <= low <= high <= 10:
                raise ValueError(f"a block {b['analyzer']!r} {low}-{high} this version can't use")
        blocks = tuple(
            NgramBlock.build(
                str(b["analyzer"]),
                (int(b["ngram_range"][0]), int(b["ngram_range"][1])),
                [str(t) for t in b["terms"]],
                [float(i) for i in b["idf"]],
                [float(c) for c in b["coef"]],
            )
            for b in data["blocks"]
        )
        return cls(
            version=int(data["version"]),
            blocks=blocks,
            text_intercept=float(data["text_intercept"]),
            blender=Blender(**{k: float(v) for k, v in data["blender"].items()}),
            decision_threshold=float(data["decision_threshold"]),
            scorer_version=str(data["scorer_version"]),
            trained_on=frozenset(str(f) for f in data["trained_on"]),
            meta=dict(data.get("meta", {})),
            embedding=embedding,
            finetuned=finetuned,
        )


def _finetuned_from(stage: dict[str, Any], directory: Path | None) -> FineTuned:
    """The fine-tuned encoder a model file names: a plain file name in the model's own
    directory, whose SHA-256 must match (a swapped or damaged file is refused, not scored)."""
    from monitor.classifier import finetune

    name, encoder = str(stage["file"]), str(stage["encoder"])
    if directory is None or Path(name).name != name or not name.endswith(".safetensors"):
        raise ValueError(f"a fine-tuned encoder file {name!r} this version can't use")
    if not finetune.available():  # said before the 45 MB are read
        raise ConfigError(
            f"the model was trained with a fine-tuned encoder ({encoder}), which needs the "
            f"optional extra: {finetune.INSTALL}; or set [classifier] fine_tune = false and run "
            "`complaint-monitor train` to make a model without it"
        )
    data = (directory / name).read_bytes()
    if finetune.digest(data) != stage["sha256"]:
        raise ValueError(f"{directory / name} does not match the SHA-256 its model file holds")
    return finetune.FineTuned.from_bytes(data, encoder)


class ModelStore:
    """Versioned models in `<state_dir>/models/`, and which one is current."""

    def __init__(self, state_dir: Path) -> None:
        self.directory = state_dir / "models"

    def path_of(self, version: int) -> Path:
        return self.directory / f"model-{version:04d}.json.gz"

    def next_version(self) -> int:
        versions = [_version_of(p) for p in self.directory.glob(MODEL_GLOB)]
        return max([v for v in versions if v is not None], default=0) + 1

    def current_name(self) -> str | None:
        """The file name the pointer names, cheap enough to check every few minutes. A pointer
        that can't be read counts as none (logged): the scorer runs alone."""
        pointer = self.directory / CURRENT
        try:
            return pointer.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as err:
            log.warning(
                "model pointer %s is unreadable (%s); scoring with the scorer alone", pointer, err
            )
            return None

    def current(self) -> LearnedModel | None:
        """The model in use, or None (the scorer runs alone) when none was promoted."""
        name = self.current_name()
        return self.load(self._named(name)) if name else None

    def _named(self, name: str) -> Path:
        """The model file the pointer names; never a path outside the model directory (a
        pointer like ``../../etc/passwd``, an absolute path, or a symlink leading out)."""
        path = self.directory / name
        inside = (
            Path(name).name == name
            and fnmatchcase(name, MODEL_GLOB)
            and path.resolve().parent == self.directory.resolve()
        )
        if not inside:
            raise ConfigError(
                f"model pointer {self.directory / CURRENT} names {name!r}, which is not a model "
                f"file in {self.directory}: it is refused; run `complaint-monitor train` to make "
                "a new one"
            )
        return path

    def load(self, path: Path) -> LearnedModel:
        """The model in `path`; any damage (a truncated or corrupt gzip, JSON of the wrong
        shape) is a `ConfigError` naming the file and the fix, never another exception."""
        try:
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                return LearnedModel.from_json(json.load(handle), path.parent)
        except FileNotFoundError as err:
            raise ConfigError(
                f"model file {path} is missing; run `complaint-monitor train` to make a new one"
            ) from err
        except ConfigError as err:  # sound, but this install cannot score it (e.g. an extra)
            raise ConfigError(f"model file {path}: {err}") from err
        except Exception as err:  # reading plain JSON runs no code: any error means damage
            raise ConfigError(
                f"model file {path} is unreadable ({type(err).__name__}: {err}); "
                "run `complaint-monitor train` to make a new one"
            ) from err

    def feedback_max_id(self, path: Path) -> int:
        """The newest feedback row the model in `path` learned from, read without building the
        model (a fine-tuned one would load torch into the daemon just to answer); 0 when the
        file is missing or unreadable."""
        try:
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                return int(json.load(handle).get("meta", {}).get("feedback_max_id", 0))
        except Exception:  # as `load`: any damage means no model to count from
            return 0

    def save(self, model: LearnedModel, *, promote: bool) -> Path:
        """Write the model (atomically, and durably: fsync before the rename, then the
        directory's) and, when `promote`, make it current."""
        self._make_directory()
        path = self.path_of(model.version)
        finetuned_file: tuple[str, str] | None = None
        if model.finetuned is not None:  # first: a model file never names a missing encoder
            weights = model.finetuned.to_bytes()
            beside = _finetuned_path(path)
            _write_durably(beside, weights, self.directory)
            finetuned_file = (beside.name, _sha256(weights))
        payload = json.dumps(model.to_json(finetuned_file), separators=(",", ":")).encode("utf-8")
        _write_durably(path, gzip.compress(payload, mtime=0), self.directory)
        if promote:
            self.promote(path.name)
        self._prune()
        return path

    def promote(self, name: str) -> None:
        self._make_directory()
        _write_durably(self.directory / CURRENT, (name + "\n").encode("utf-8"), self.directory)

    def _make_directory(self) -> None:
        """Owner-only when we create them (models hold n-grams of customer text); a directory
        systemd's `StateDirectory=` made keeps the mode systemd gave it."""
        self.directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory.mkdir(mode=0o700, exist_ok=True)

    def _prune(self) -> None:
        current = self.current_name()
        files = sorted(self.directory.glob(MODEL_GLOB), key=lambda p: _version_of(p) or 0)
        for old in files[:-KEEP_MODELS]:
            if old.name != current:
                old.unlink(missing_ok=True)
                _finetuned_path(old).unlink(missing_ok=True)


def _finetuned_path(model_path: Path) -> Path:
    """Where a model's fine-tuned encoder is kept: `model-0007.json.gz` beside
    `model-0007.finetuned.safetensors` (outside `MODEL_GLOB`, so never taken for a model)."""
    return model_path.with_name(model_path.name.removesuffix(".json.gz") + ".finetuned.safetensors")


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _write_durably(path: Path, data: bytes, directory: Path) -> None:
    """Write a temporary file, fsync it, rename it over `path`, fsync the directory: after a
    crash or power loss, `path` holds the old bytes or the new ones, never a truncated file."""
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory_descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_descriptor)
    finally:
        os.close(directory_descriptor)


def _version_of(path: Path) -> int | None:
    digits = path.name.removeprefix("model-").split(".")[0]
    return int(digits) if digits.isdigit() else None
