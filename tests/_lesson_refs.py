"""Independent reference computations for the issue-11 lessons: transformers activations,
then NumPy/SciPy written the textbook way (no tokgeo code)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from scipy import stats

from checkpoints import load_hf
from hf_reference import activations, residual_stream
from tokenizer_refs import tiktoken_gpt2 as encoding

_HF: dict[str, Any] = {}


def hf_model(folder: Any) -> Any:
    key = str(folder)
    if key not in _HF:
        _HF[key] = load_hf(folder)
    return _HF[key]


def states(folder: Any, text: str, convention: str = "hidden_states") -> tuple[np.ndarray, dict[str, np.ndarray], list[int]]:
    """[T, L+1, C] float64 states of one text run alone in transformers, the activations, the ids."""
    ids = encoding().encode(text)
    act = activations(hf_model(folder), ids)
    return np.swapaxes(residual_stream(act, convention), 0, 1), act, ids


def angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Degrees between matching rows (arccos of the clipped cosine)."""
    c = np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


def holm(p: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values, written as the textbook loop."""
    p = list(p)
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return np.array(out)


def welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, float]:
    """(t, p, df, Cohen's d with the (v1 + v2)/2 denominator) from scipy."""
    r = stats.ttest_ind(a, b, equal_var=False)
    v1, v2 = np.var(a, ddof=1), np.var(b, ddof=1)
    n1, n2 = len(a), len(b)
    df = (v1 / n1 + v2 / n2) ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    d = (np.mean(a) - np.mean(b)) / np.sqrt((v1 + v2) / 2)
    return float(r.statistic), float(r.pvalue), float(df), float(d)


def ci(x: np.ndarray) -> tuple[float, float, float]:
    m = float(np.mean(x))
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=m, scale=stats.sem(x))
    return m, float(lo), float(hi)
