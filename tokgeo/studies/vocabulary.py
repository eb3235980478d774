"""The whole vocabulary on one map (embedding lesson): t-SNE and PCA of every row of W_E.

Every token's embedding row (50,257 x ``n_embd`` for GPT-2) is reduced to 50 principal
components (:func:`tokgeo.metrics.pca`, exact), then mapped to the plane by t-SNE on those
components (:func:`tokgeo.metrics.tsne`, ``method="auto"``: the FFT-accelerated gradient
at this size), and by the first two components.  Each token gets a class from its text, so
the map can be read by colour:

* ``"word, leading space"``: a space then Latin letters (``" king"``, ``" The"``): the
  start of a word inside a sentence;
* ``"word piece"``: Latin letters only (``"ing"``, ``"The"``): a word's continuation or a
  word at the start of a text;
* ``"digits"``: digits, with or without a leading space (``" 1999"``, ``"00"``);
* ``"punctuation"``: no letter or digit (``"."``, ``" ("``, ``"--"``);
* ``"whitespace"``: spaces, tabs and newlines only;
* ``"non-Latin script"``: letters of another script (Cyrillic, Greek, CJK, Arabic, ...);
* ``"byte fragment"``: bytes that are not whole UTF-8 characters on their own (the
  byte-level BPE's pieces of multi-byte characters);
* ``"mixed"``: anything else (``"'s"``, ``"x2"``).

A few hundred tokens are labelled on the map: the lowest ids (the earliest merges, so
mostly frequent words) of the word classes, at most one per cell of a grid over the map,
and only where the label overlaps no other (:func:`tokgeo.plotting.place_labels`).
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import plotting
from .._reduce import pca, tsne
from ..errors import InvalidInputError
from ._base import Provenance, StudyResult, fmt, short_model
from ._common import Study, check_seed

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["VocabularyMap", "VocabularyMapResult", "TOKEN_CLASSES", "token_class", "distinct_rows"]

#: the token classes, in the order of their integer codes (``result["classes"]``)
TOKEN_CLASSES: tuple[str, ...] = (
    "word, leading space",
    "word piece",
    "digits",
    "punctuation",
    "whitespace",
    "non-Latin script",
    "byte fragment",
    "mixed",
)
_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:gray", "tab:purple", "tab:brown", "tab:olive")


def _latin(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith("LATIN")


def token_class(raw: bytes) -> int:
    """The class code (an index into :data:`TOKEN_CLASSES`) of a token's bytes."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return 6
    if not text or text.isspace():
        return 4
    body = text[1:] if text[0] == " " and len(text) > 1 else text
    if body.isdigit():
        return 2
    letters = [c for c in body if c.isalpha()]
    if letters and any(not _latin(c) for c in letters):
        return 5
    if body.isalpha():
        return 0 if body is not text else 1
    if not any(c.isalnum() for c in body):
        return 3
    return 7


def distinct_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of ``x`` [n, d]: (ids [m] int64, ascending, the first row of each
    distinct value; counts [m] int64, how many rows equal it).  Bitwise equality (so -0.0
    and 0.0 differ, as do NaN payloads); O(n log n) on the rows' bytes, no float copy when
    ``x`` is C-contiguous."""
    a = np.ascontiguousarray(x)
    keys = a.view(np.dtype((np.void, a.dtype.itemsize * a.shape[1]))).ravel()
    _, first, counts = np.unique(keys, return_index=True, return_counts=True)
    order = np.argsort(first, kind="stable")
    return first[order].astype(np.int64), counts[order].astype(np.int64)


class VocabularyMap(Study):
    """t-SNE and PCA maps of the whole token-embedding matrix, points coloured by token class.

    Args:
        model: a model name, a folder or a :class:`tokgeo.GPT2` (default ``"gpt2"``).
        n_tokens: map only the first ``n_tokens`` ids (default: the whole vocabulary).
            Tokens whose embedding rows are identical (bit for bit) are one point, labelled
            by the lowest id (tokgeo-mini gives its 42,065 rare tokens one shared row; GPT-2
            has none): ``result["shared"]`` counts the tokens behind each point.
        pca_dims: principal components the t-SNE runs on (default 50, or fewer when the
            embedding is narrower).
        perplexity, max_iter, learning_rate: as :func:`tokgeo.metrics.tsne` (defaults 30,
            750 = 250 exaggerated + 500, ``"auto"``).
        method: the t-SNE gradient (default ``"auto"``: ``"fft"`` from 8,000 tokens on).
        n_labels: how many tokens to label on the maps (at most; default 300).
        seed: the t-SNE seed.
        tsne: False skips the t-SNE map (the PCA map only).
    """

    default_model = "gpt2"

    def __init__(
        self,
        model: Any = None,
        *,
        n_tokens: int | None = None,
        pca_dims: int = 50,
        perplexity: float = 30.0,
        max_iter: int = 750,
        learning_rate: float | str = "auto",
        method: str = "auto",
        n_labels: int = 300,
        seed: int = 0,
        tsne: bool = True,
    ) -> None:
        super().__init__(model)
        for name, v, lo in (("pca_dims", pca_dims, 2), ("n_labels", n_labels, 0), ("max_iter", max_iter, 1)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise InvalidInputError(f"{name} must be an int >= {lo}, got {v!r}")
        if n_tokens is not None and (isinstance(n_tokens, bool) or not isinstance(n_tokens, (int, np.integer)) or n_tokens < 4):
            raise InvalidInputError(f"n_tokens must be an int >= 4 (or None for the whole vocabulary), got {n_tokens!r}")
        if method not in ("auto", "barnes_hut", "fft", "exact"):
            raise InvalidInputError(f"method must be 'auto', 'barnes_hut', 'fft' or 'exact', got {method!r}")
        self.n_tokens = None if n_tokens is None else int(n_tokens)
        self.pca_dims = int(pca_dims)
        self.perplexity = float(perplexity)
        self.max_iter = int(max_iter)
        self.learning_rate = learning_rate
        self.method = method
        self.n_labels = int(n_labels)
        self.seed = check_seed(seed)
        self.do_tsne = bool(tsne)

    def run(self) -> VocabularyMapResult:
        W = np.asarray(self.model.W_E)  # [V, C], a read-only view of the checkpoint
        V, C = W.shape
        n = V if self.n_tokens is None else self.n_tokens
        if n > V:
            raise InvalidInputError(f"n_tokens={n} is more than the {V} tokens of {self.label}")
        x = W[:n]
        ids, shared = distinct_rows(x)
        if ids.size < n:  # tokens that share a row (e.g. tokgeo-mini's rare tokens) are one point
            x = x[ids]
        if ids.size < 4:
            raise InvalidInputError(f"the first {n} tokens of {self.label} have only {ids.size} distinct embedding "
                                    "rows; a map needs at least 4")
        raw = self.model.tokenizer.token_bytes(ids)
        classes = np.array([token_class(b) for b in raw], dtype=np.int8)
        m = ids.size
        k = min(self.pca_dims, C, m)
        p = pca(x, k, method="exact", random_state=self.seed)
        proj = np.asarray(p.projection)  # [n, k]
        arrays: dict[str, np.ndarray] = {
            "token_ids": ids,
            "shared": shared,
            "classes": classes,
            "pca": proj[:, :2].copy(),
            "explained_variance_ratio": np.asarray(p.explained_variance_ratio),
        }
        method_used = None
        neighbors_used = None
        kl = None
        if self.do_tsne:
            res = tsne(proj, 2, perplexity=self.perplexity, method=self.method,  # type: ignore[arg-type]
                       learning_rate=self.learning_rate, max_iter=self.max_iter,  # type: ignore[arg-type]
                       random_state=self.seed)
            arrays["tsne"] = np.asarray(res.embedding)
            method_used, neighbors_used, kl = res.method, res.neighbors, res.kl_divergence
        texts = [b.decode("utf-8", errors="replace") for b in raw]
        desc = {
            "token_ids": f"[{m}] token id of each point (the lowest id of the tokens sharing its row)",
            "shared": f"[{m}] how many of the {n} tokens have this point's embedding row (1 for a row of its own)",
            "classes": f"[{m}] token class code, an index into TOKEN_CLASSES",
            "pca": f"[{m}, 2] the distinct embedding rows (minus their mean) on the top two principal axes",
            "explained_variance_ratio": f"[{k}] variance fraction of each of the top {k} components",
            "tsne": f"[{m}, 2] t-SNE map of the top-{k} PCA coordinates (arbitrary units)",
        }
        prov = self._provenance(
            "VocabularyMap", convention=None, dataset="vocabulary (W_E rows)", dataset_sha256="", n_sentences=0,
            target=None, seed=self.seed if self.do_tsne else None,
            parameters={"n_tokens": n, "n_points": m, "pca_dims": k, "perplexity": self.perplexity, "max_iter": self.max_iter,
                        "learning_rate": self.learning_rate, "method": method_used or self.method,
                        "neighbors": neighbors_used, "n_labels": self.n_labels, "kl_divergence": kl},
        )
        return VocabularyMapResult(prov, arrays, desc, texts, self.n_labels)


class VocabularyMapResult(StudyResult):
    """Vocabulary maps.  Figures: ``"tsne"`` (when computed), ``"pca"``, ``"classes"``."""

    def __init__(self, provenance: Provenance, arrays: dict[str, np.ndarray], descriptions: dict[str, str],
                 tokens: list[str], n_labels: int) -> None:
        super().__init__(provenance, arrays, descriptions)
        self.tokens = tokens
        self.n_labels = n_labels
        self.plot_kinds = ("tsne", "pca", "classes") if "tsne" in arrays else ("pca", "classes")

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        cls, pc = self["classes"], self["pca"]
        ts = self["tsne"] if "tsne" in self else None
        rows = []
        for i, t in enumerate(self.tokens):
            r: dict[str, Any] = {"token_id": int(self["token_ids"][i]), "token": t, "class": TOKEN_CLASSES[int(cls[i])],
                                 "shared_by": int(self["shared"][i]), "pc1": float(pc[i, 0]), "pc2": float(pc[i, 1])}
            if ts is not None:
                r["tsne1"], r["tsne2"] = float(ts[i, 0]), float(ts[i, 1])
            rows.append(r)
        counts = np.bincount(cls.astype(np.int64), minlength=len(TOKEN_CLASSES))
        return {"tokens": rows,
                "classes": [{"class": c, "tokens": int(k), "fraction": float(k) / len(cls)}
                            for c, k in zip(TOKEN_CLASSES, counts)]}

    def key_stats(self) -> list[tuple[str, str]]:
        p = self.provenance.parameters
        out = [("tokens", str(self.provenance.parameters.get("n_tokens"))), ("points (distinct rows)", str(len(self.tokens))),
               ("variance on 2 PCs", fmt(float(np.sum(self["explained_variance_ratio"][:2]))))]
        if "tsne" in self:
            nb = f" ({p['neighbors']} neighbours)" if p.get("neighbors") else ""
            out.append(("t-SNE", f"{p.get('method')}{nb}, KL {fmt(p.get('kl_divergence'))}"))
        return out

    def summary_lines(self) -> list[str]:
        p = self.provenance.parameters
        lines = [f"Vocabulary map of {short_model(self.provenance.model)}: {len(self.tokens)} distinct token embeddings"
                 f" of {p.get('n_tokens')} tokens"]
        for row in self.tables()["classes"]:
            lines.append(f"  {row['class']:<20s} {row['tokens']:>6d}  ({100 * row['fraction']:.1f}%)")
        lines += [f"{k}: {v}" for k, v in self.key_stats()[2:]]
        return lines

    def label_ids(self, coords: np.ndarray, n_labels: int | None = None) -> np.ndarray:
        """Which points to label: the lowest id of the word classes in each occupied cell of
        a square grid over ``coords`` [n, 2], up to ``n_labels`` of them, lowest ids first."""
        want = self.n_labels if n_labels is None else int(n_labels)
        cls = self["classes"]
        cand = np.flatnonzero((cls == 0) | (cls == 1) | (cls == 5))
        if want <= 0 or cand.size == 0:
            return np.zeros(0, dtype=np.int64)
        lo, hi = coords.min(axis=0), coords.max(axis=0)
        g = max(int(np.ceil(np.sqrt(2.0 * want))), 1)
        cell = np.floor((coords[cand] - lo) / np.maximum(hi - lo, 1e-12) * (g - 1e-9)).astype(np.int64)
        key = cell[:, 0] * g + cell[:, 1]
        # cand is ascending: np.unique's first index per cell is its lowest id
        _, first = np.unique(key, return_index=True)
        return np.sort(cand[first])[:want]

    def _map(self, coords: np.ndarray, what: str, xlabel: str, ylabel: str, ax: Axes | None,
             n_labels: int | None, point_size: float | None) -> Figure:
        a = plotting.new_axes(ax, figsize=(10.0, 8.0))
        cls = self["classes"]
        if point_size is None:  # points of 1.5 pt^2 for the 50,257 of GPT-2, larger for fewer
            point_size = float(np.clip(30_000.0 / max(len(cls), 1), 1.5, 12.0))
        for c, name in enumerate(TOKEN_CLASSES):
            m = cls == c
            if m.any():
                a.scatter(coords[m, 0], coords[m, 1], s=point_size, color=_COLOURS[c], alpha=0.6, linewidths=0,
                          rasterized=True, label=f"{name} ({int(m.sum())})")
        a.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, markerscale=6.0 / max(point_size, 0.1),
                 title="token class", frameon=False)
        a.set_xlabel(xlabel)
        a.set_ylabel(ylabel)
        sh = self["shared"]
        extra = "" if not (sh > 1).any() else (
            f"\n({int(sh[sh > 1].sum()):,} tokens share {int((sh > 1).sum())} "
            f"{'row' if (sh > 1).sum() == 1 else 'rows'}, drawn as one point each)")
        a.set_title(f"{short_model(self.provenance.model)}: {what} of {len(self.tokens):,} token embeddings (W_E){extra}")
        ids = self.label_ids(coords, n_labels)
        if ids.size:
            plotting.place_labels(a, coords[ids, 0], coords[ids, 1], [repr(self.tokens[i])[1:-1] for i in ids],
                                  fontsize=6.5, drop_overlapping=True)
        return a.figure  # type: ignore[return-value]

    def _plot_tsne(self, ax: Axes | None = None, n_labels: int | None = None, point_size: float | None = None) -> Figure:
        p = self.provenance.parameters
        return self._map(self["tsne"], f"t-SNE (perplexity {float(p.get('perplexity', 30.0)):g}, on {p.get('pca_dims')} PCs)",
                         "t-SNE 1 (arbitrary units)", "t-SNE 2 (arbitrary units)", ax, n_labels, point_size)

    def _plot_pca(self, ax: Axes | None = None, n_labels: int | None = None, point_size: float | None = None) -> Figure:
        r = self["explained_variance_ratio"]
        return self._map(self["pca"], "the top two principal components",
                         f"PC 1 ({100 * r[0]:.1f}% of the variance)", f"PC 2 ({100 * r[1]:.1f}% of the variance)",
                         ax, n_labels, point_size)

    def _plot_classes(self, ax: Axes | None = None) -> Figure:
        rows = self.tables()["classes"]
        return plotting.bars([r["class"] for r in rows], [r["tokens"] for r in rows], ax=ax, horizontal=True,
                             title=f"{short_model(self.provenance.model)}: distinct token embeddings per class",
                             xlabel="distinct embedding rows")
