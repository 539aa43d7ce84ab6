"""Training in a child process, capped in memory and time, so a fit can never hurt the daemon.

A fit on 20,000 labels peaks near 470 MB of memory, next to the unit's `MemoryMax=512M`: run in
the daemon's own process, an out-of-memory kill would take polling and delivery down with it, and
the memory a fit touched stays with the daemon afterwards. So `fit_in_subprocess` runs it in
`python -m monitor.classifier.fit_process`, which caps its own address space (RLIMIT_AS, before
numpy or scikit-learn is imported) so that a fit needing more fails with a MemoryError instead of
meeting the kernel's OOM killer; it runs one BLAS thread at a lower priority, so polls keep their
core. The parent waits `timeout_seconds` at most, then kills it. The child writes the model file
(never promoting it) and a small JSON result; a fit that failed, was killed or timed out leaves
no model file, and the current model stays: `TrainingFailed` says why.

Feedback goes to the child in a file in an owner-only temporary directory of the state
directory (it is customer text), removed when the fit ends.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.errors import MonitorError
from monitor.models import LabeledRow

EXIT_NOT_ENOUGH = 3
EXIT_OUT_OF_MEMORY = 4
EXIT_FAILED = 5
_ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""A background fit takes one core; the other stays the daemon's."""
_NICENESS = 10
_DETAIL_CHARS = 300
"""At most this much of an unexpected error is repeated in the log (no customer text is in it:
the child reports exception types and messages, never rows)."""


class TrainingFailed(MonitorError):
    """The fit did not finish (memory cap, timeout, a crash): no model was made, the current
    model stays, and the message says why."""


@dataclass(frozen=True, slots=True)
class FitRequest:
    """Everything the child needs to fit a model, as plain JSON."""

    rows: list[LabeledRow]
    settings: dict[str, Any]
    """`ClassifierSettings.model_dump(mode="json")`: the scorer whose log-odds are a feature."""
    brand: dict[str, Any] | None
    version: int
    now: datetime
    feedback_max_id: int
    min_examples: int
    meta: dict[str, Any]
    """Added to the model's meta before it is saved (e.g. feedback counts by origin)."""
    weights: list[float] | None = None
    """Beside `rows`: each label's training weight (None: all 1)."""
    fine_tune: bool = False
    """Also fine-tune the small encoder (`monitor.classifier.finetune`, the `[finetune]` extra)."""
    fine_tune_epochs: int = 3

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": [[r.text, r.label] for r in self.rows],
            "settings": self.settings,
            "brand": self.brand,
            "version": self.version,
            "now": self.now.isoformat(),
            "feedback_max_id": self.feedback_max_id,
            "min_examples": self.min_examples,
            "meta": self.meta,
            "weights": self.weights,
            "fine_tune": self.fine_tune,
            "fine_tune_epochs": self.fine_tune_epochs,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FitRequest:
        return cls(
            rows=[LabeledRow(str(text), int(label)) for text, label in data["rows"]],
            settings=dict(data["settings"]),
            brand=data["brand"],
            version=int(data["version"]),
            now=datetime.fromisoformat(data["now"]),
            feedback_max_id=int(data["feedback_max_id"]),
            min_examples=int(data["min_examples"]),
            meta=dict(data["meta"]),
            weights=[float(w) for w in data["weights"]] if data.get("weights") else None,
            fine_tune=bool(data.get("fine_tune", False)),
            fine_tune_epochs=int(data.get("fine_tune_epochs", 3)),
        )


@dataclass(frozen=True, slots=True)
class FitResult:
    """What the child reports: the model file it saved (not promoted) and the figures."""

    path: Path
    model_figures: dict[str, float]
    scorer_figures: dict[str, float]
    peak_rss_mb: float
    peak_address_space_mb: float
    uncapped: str = ""
    """Why the memory cap could not be set ("" when it was)."""


def fit_in_subprocess(
    request: FitRequest, state_dir: Path, *, timeout_seconds: float, memory_mb: int
) -> FitResult:
    """Fit in a child process; the model is saved in `state_dir`'s model directory, unpromoted.

    Raises `NotEnoughFeedback` as training in-process would, and `TrainingFailed` when the child
    ran out of memory or time, or died."""
    from monitor.classifier.training import NotEnoughFeedback

    state_dir = state_dir.resolve()
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="training-", dir=state_dir) as work:
        request_path = Path(work) / "request.json"
        result_path = Path(work) / "result.json"
        request_path.write_text(json.dumps(request.to_json()), encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            __name__,
            str(request_path),
            str(result_path),
            str(state_dir),
            str(memory_mb),
        ]
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=_environment(),
        )
        try:
            _, stderr = child.communicate(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            raise TrainingFailed(
                f"the fit took longer than train_timeout_seconds={timeout_seconds:g} and was "
                "stopped"
            ) from None
        outcome = _read(result_path)
        if child.returncode == 0 and "path" in outcome:
            return FitResult(
                Path(outcome["path"]),
                outcome["model_figures"],
                outcome["scorer_figures"],
                float(outcome.get("peak_rss_mb", 0.0)),
                float(outcome.get("peak_address_space_mb", 0.0)),
                str(outcome.get("uncapped", "")),
            )
        if child.returncode == EXIT_NOT_ENOUGH:
            raise NotEnoughFeedback(str(outcome.get("error", "not enough feedback")))
        if child.returncode == EXIT_OUT_OF_MEMORY:
            raise TrainingFailed(
                f"the fit needed more than train_memory_mb={memory_mb} MB of memory and was stopped"
            )
        raise TrainingFailed(_died(child.returncode, outcome, stderr))


def _environment() -> dict[str, str]:
    """The parent's environment, one BLAS thread, and this very package first on the path (so
    the child runs the code the daemon runs, installed or not)."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return os.environ | dict.fromkeys(_ONE_THREAD, "1") | {"PYTHONPATH": path}


def _out_of_memory(err: BaseException) -> bool:
    """Under RLIMIT_AS an allocation fails as MemoryError, or as ENOMEM from the OS (a thread,
    a shared library that cannot be mapped)."""
    if isinstance(err, MemoryError):
        return True
    if isinstance(err, OSError) and err.errno == errno.ENOMEM:
        return True
    text = str(err)
    return isinstance(err, ImportError) and ("map segment" in text or "allocate memory" in text)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _died(returncode: int, outcome: dict[str, Any], stderr: bytes) -> str:
    if returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else ""
        cause = " (the kernel's out-of-memory killer sends SIGKILL)" if name == "SIGKILL" else ""
        return f"the training process was killed by signal {name or -returncode}{cause}"
    error = str(outcome.get("error") or "")
    if not error:
        lines = stderr.decode("utf-8", "replace").strip().splitlines()
        error = lines[-1] if lines else "no error message"
    return f"the training process failed (exit {returncode}): {error[:_DETAIL_CHARS]}"


def _limit_memory(memory_mb: int) -> str:
    """Cap the address space; "" when done, else why not. The shipped systemd unit forbids the
    @resources system calls (setrlimit among them): there the unit's MemoryMax holds, and this
    process volunteers as the out-of-memory killer's first choice, so the daemon survives."""
    import resource

    _first_to_be_killed()
    cap = memory_mb * 1024 * 1024
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (OSError, ValueError) as err:
        return f"setrlimit refused ({err})"
    return ""


def _first_to_be_killed() -> None:
    """oom_score_adj 1000: if memory runs out anyway, the kernel kills this process, not the
    daemon (raising one's own score needs no privilege)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/oom_score_adj").write_text("1000", encoding="ascii")


def _lower_priority() -> None:
    with contextlib.suppress(OSError):  # setpriority is an @resources call too
        os.nice(_NICENESS)


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_address_space_mb() -> float:
    """What RLIMIT_AS limits (Linux's VmPeak); 0 where /proc does not say."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmPeak:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str]) -> int:
    """The child: cap memory first, then import the fitting libraries, fit, save, report."""
    request_path, result_path, state_dir, memory_mb = argv
    result = Path(result_path)
    uncapped = _limit_memory(int(memory_mb))
    _lower_priority()
    try:
        from monitor.brand import BrandSettings
        from monitor.classifier.model import ModelStore
        from monitor.classifier.scorer import Classifier
        from monitor.classifier.settings import ClassifierSettings
        from monitor.classifier.training import NotEnoughFeedback, train

        request = FitRequest.from_json(json.loads(Path(request_path).read_text("utf-8")))
        brand = BrandSettings.model_validate(request.brand) if request.brand else None
        scorer = Classifier(ClassifierSettings.model_validate(request.settings), brand)
        trained = train(
            request.rows,
            scorer,
            version=request.version,
            now=request.now,
            feedback_max_id=request.feedback_max_id,
            min_examples=request.min_examples,
            weights=request.weights,
            fine_tune=request.fine_tune,
            fine_tune_epochs=request.fine_tune_epochs,
            seed_directory=ModelStore(Path(state_dir)).directory,
        )
        trained.model.meta.update(request.meta)
        path = ModelStore(Path(state_dir)).save(trained.model, promote=False)
    except NotEnoughFeedback as err:
        result.write_text(json.dumps({"error": str(err)}), encoding="utf-8")
        return EXIT_NOT_ENOUGH
    except MemoryError:
        return EXIT_OUT_OF_MEMORY
    except Exception as err:  # reported to the parent, which logs it and keeps the old model
        if _out_of_memory(err):
            return EXIT_OUT_OF_MEMORY
        result.write_text(json.dumps({"error": f"{type(err).__name__}: {err}"}), "utf-8")
        return EXIT_FAILED
    report = {
        "path": str(path),
        "model_figures": asdict(trained.model_figures),
        "scorer_figures": asdict(trained.scorer_figures),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "peak_address_space_mb": round(_peak_address_space_mb(), 1),
        "uncapped": uncapped,
    }
    result.write_text(json.dumps(report), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
