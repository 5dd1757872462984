"""Which language a story is in, when nobody said: py3langid on its title and text.

py3langid (a maintained fork of langid.py: naive Bayes over byte n-grams, 97 languages, no
download at run time) was chosen by ``bench/language.py`` on the project's own samples: the best
accuracy on 3-8 word headlines of the candidates measured, no confident mistake at the
threshold below, about 0.1 ms a detection. Its model costs some 75 MiB once loaded, so it is
loaded on first use only.

Below ``THRESHOLD`` (a normalised probability) the answer is None, and the caller falls back on
the configuration's default language rather than mislabel the story.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

THRESHOLD = 0.70
# The opening of a story says its language as well as the whole of it does, at a fraction of
# the cost.
MAX_CHARS = 2000
MIN_LETTERS = 3

_lock = threading.Lock()
_identifier: Any = None


@dataclass(frozen=True, slots=True)
class Detection:
    language: str  # ISO 639-1 code, lower case
    confidence: float  # 0..1


def _model() -> Any:
    global _identifier
    # Detection may run in worker threads (``asyncio.to_thread``): load the model once.
    with _lock:
        if _identifier is None:
            from py3langid.langid import (  # type: ignore[import-untyped]
                MODEL_FILE,
                LanguageIdentifier,
            )

            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return _identifier


def classify(text: str) -> Detection | None:
    """The most likely language of ``text`` and how sure the model is; None without letters."""
    sample = text.strip()[:MAX_CHARS]
    if sum(c.isalpha() for c in sample) < MIN_LETTERS:
        return None
    language, confidence = _model().classify(sample)
    return Detection(str(language), float(confidence))


def detect(text: str, *, threshold: float = THRESHOLD) -> str | None:
    """The language code of ``text``, or None when the detector is not sure enough."""
    found = classify(text)
    if found is None or found.confidence < threshold:
        return None
    return found.language


def detect_story(title: str, body: str, *, threshold: float = THRESHOLD) -> str | None:
    """The language of a story from its title and text together."""
    return detect(f"{title}\n\n{body}", threshold=threshold)
