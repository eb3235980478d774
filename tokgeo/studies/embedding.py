"""Lesson 1: the geometry of the embedding space and a first look inside the model.

* cosine similarities between chosen tokens' embeddings;
* the eigenstructure of the embedding covariance (eigenvalue spectrum, explained
  variance, the chosen tokens projected on the top components);
* a t-SNE map of the chosen tokens, with labels;
* representation drift ``||Z(l) - Z(l-1)||`` across layers for one sentence (Z(l) the
  sentence's [T, C] matrix at state l; per token and as a Frobenius norm);
* the attention map of one layer and head (rows: queries, columns: keys; rows sum to 1);
* the next-token distribution after the sentence (top-k with probabilities, entropy).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .. import metrics, plotting
from .._reduce import pca, tsne
from ..datasets import sentences_digest
from ..errors import InvalidInputError, InvalidTypeError
from ._base import Provenance, StudyResult, check_convention, fmt, short_model
from ._common import Study, check_seed, hidden, hidden_capture, run_chunks

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["EmbeddingGeometry", "EmbeddingResult", "DEFAULT_WORDS", "DEFAULT_SENTENCE", "covariance_spectrum"]

#: the lesson's default token set: each is a single GPT-2 token with its leading space
DEFAULT_WORDS: tuple[str, ...] = tuple(
    " " + w
    for w in (
        "he she him her his hers man woman boy girl king queen mother father brother sister "
        "son daughter cat dog horse cow lion tiger mouse bird red green blue yellow black "
        "white one two three four five six seven eight nine ten Paris London Berlin Rome "
        "Tokyo apple bread cheese milk water"
    ).split()
)
#: the lesson's default sentence for drift, attention and the next token
DEFAULT_SENTENCE = "The nurse checked her pulse and then she smiled at the"


def _uncentred(x: np.ndarray, block: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending) and eigenvectors (rows) of the lesson's uncentred second
    moment Sigma = X^T X / n, accumulated in float64 over row blocks."""
    a = np.asarray(x)
    n, c = a.shape
    g = np.zeros((c, c))
    for i in range(0, n, block):
        b = np.asarray(a[i : i + block], dtype=np.float64)
        g += b.T @ b
    w, v = np.linalg.eigh(g / n)
    order = np.argsort(-w, kind="stable")
    return np.maximum(w[order], 0.0), v[:, order].T


def covariance_spectrum(x: np.ndarray, center: bool = True) -> np.ndarray:
    """Eigenvalues (descending, >= 0) of the sample covariance (ddof 1) of the rows of x [n, C],
    or, with ``center=False``, of the lesson's uncentred Sigma = X^T X / n (no mean removed,
    divided by n).

    tokgeo's exact C PCA with every component and no projection: the C x C covariance is
    accumulated in float64 over bounded row blocks, so a float32 embedding matrix
    (50257 x 1600 for gpt2-xl) is never copied whole.  When n < C the covariance has rank
    < n and the PCA gives n eigenvalues; the remaining C - n are returned as 0.
    """
    a = np.asarray(x)
    n, c = a.shape
    if n < 2:
        raise InvalidInputError("the covariance needs at least 2 rows")
    if not center:
        return _uncentred(a)[0]
    ev = np.asarray(pca(a, method="exact", projection=False).eigenvalues)
    w = np.zeros(c)
    w[: ev.shape[0]] = np.maximum(ev, 0.0)
    return w


class EmbeddingGeometry(Study):
    """Embedding space geometry (lesson 1; default model ``"gpt2"``).

    Args:
        model: a model name, a folder or a :class:`tokgeo.GPT2`.
        words: the tokens to compare (each must be a single token; write the leading
            space, ``" king"``, for the word inside a sentence).  Default
            :data:`DEFAULT_WORDS` (52 tokens).
        sentence: the text for drift, attention map and next token.
        layer, head: the attention map to show (default: the middle block, head 0).
        n_components: how many top principal components the words are projected on.
        top_k: how many next tokens to list.
        convention: residual-stream convention for the drift (see :class:`Rotation`).
        perplexity: t-SNE perplexity (default min(30, (n - 1) / 3)).
        seed: t-SNE seed.
        tsne: False skips the t-SNE map.
        center: True (default): the centred sample covariance of all token embeddings
            (mean removed, divided by N - 1; what PCA and sklearn use).  False: the
            lesson's formula Sigma = E^T E / N (uncentred; its top axis then largely points
            at the mean embedding).  The summary and the figures say which is used.
        ddof: the eigenvalues are of the scatter matrix divided by ``N - ddof``; ``None``
            (default) is 1 when centred (the sample covariance, as ``np.cov``) and 0 when
            not (the lesson's ``/ N``).  Only the eigenvalues' scale changes, not the axes
            or the explained-variance fractions.
    """

    default_model = "gpt2"

    def __init__(
        self,
        model: Any = None,
        words: Sequence[str] | None = None,
        sentence: str = DEFAULT_SENTENCE,
        *,
        layer: int | None = None,
        head: int = 0,
        n_components: int = 2,
        top_k: int = 10,
        convention: str = "hidden_states",
        perplexity: float | None = None,
        seed: int = 0,
        tsne: bool = True,
        center: bool = True,
        ddof: int | None = None,
        progress: bool | None = None,
    ) -> None:
        super().__init__(model)
        if isinstance(words, str):
            raise InvalidTypeError("words must be a list of strings, not one string: [' cat', ' dog']")
        self.words = list(DEFAULT_WORDS if words is None else words)
        if len(self.words) < 2:
            raise InvalidInputError("give at least 2 words to compare")
        if not isinstance(sentence, str) or not sentence.strip():
            raise InvalidInputError("sentence must be a non-empty string")
        self.sentence = sentence
        self.layer = layer
        self.head = head
        if int(n_components) < 1:
            raise InvalidInputError(f"n_components must be >= 1, got {n_components}")
        self.n_components = int(n_components)
        if int(top_k) < 1:
            raise InvalidInputError(f"top_k must be >= 1, got {top_k}")
        self.top_k = int(top_k)
        self.convention = check_convention(convention)
        self.perplexity = perplexity
        self.seed = check_seed(seed)
        self.do_tsne = bool(tsne)
        self.center = bool(center)
        if ddof is not None and (isinstance(ddof, bool) or not isinstance(ddof, (int, np.integer)) or not 0 <= int(ddof) <= 1):
            raise InvalidInputError(f"ddof must be 0 (divide by N), 1 (by N - 1) or None (1 if centred, else 0), got {ddof!r}")
        self.ddof = (1 if self.center else 0) if ddof is None else int(ddof)
        self.progress = progress

    def _word_ids(self) -> np.ndarray:
        tok = self.model.tokenizer
        ids, bad = [], []
        for i, w in enumerate(self.words):
            if not isinstance(w, str) or not w:
                raise InvalidTypeError(f"word [{i}] must be a non-empty string, got {w!r}")
            e = list(tok.encode(w))
            if len(e) != 1:
                bad.append(f"[{i}] {w!r} -> {len(e)} tokens")
            else:
                ids.append(e[0])
        if bad:
            raise InvalidInputError(
                "each word must be a single token; these are not: " + "; ".join(bad)
                + ". Drop them, or try the form with a leading space (' word')."
            )
        return np.asarray(ids, dtype=np.int64)

    def run(self) -> EmbeddingResult:
        cfg = self.model.config
        L, C = cfg.n_layer, cfg.n_embd
        layer = self.check_layer(L // 2 if self.layer is None else self.layer)
        if isinstance(self.head, bool) or not isinstance(self.head, (int, np.integer)) or not 0 <= int(self.head) < cfg.n_head:
            raise InvalidInputError(f"head {self.head!r} is out of range: {self.label} has heads 0..{cfg.n_head - 1}")
        head = int(self.head)
        k_comp = min(self.n_components, C)
        ids = self._word_ids()
        n = len(ids)
        W = np.asarray(self.model.W_E)  # [V, C], read-only view of the checkpoint
        emb = np.asarray(W[ids], dtype=np.float64)  # [n, C]
        arrays: dict[str, np.ndarray] = {"word_ids": ids, "embeddings": emb}
        arrays["cosine"] = np.asarray(metrics.cosine_similarity_matrix(emb, None, dtype=np.float64))
        evals = covariance_spectrum(W, center=self.center)  # / (N - 1) centred, / N uncentred
        default_ddof = 1 if self.center else 0
        if self.ddof != default_ddof:
            N = W.shape[0]
            evals = evals * ((N - default_ddof) / (N - self.ddof))
        if self.center:
            p = pca(W, k_comp, random_state=self.seed)
            comps, mean = np.asarray(p.components), np.asarray(p.mean)
        else:
            comps, mean = _uncentred(W)[1][:k_comp], np.zeros(C)
        arrays["eigenvalues"] = evals
        arrays["explained_variance"] = evals / evals.sum()
        arrays["cumulative_explained_variance"] = np.cumsum(arrays["explained_variance"])
        arrays["components"] = comps
        arrays["projection"] = (emb - mean) @ comps.T
        perplexity = None
        if self.do_tsne:
            if n < 4:
                raise InvalidInputError("t-SNE needs at least 4 words (or pass tsne=False)")
            perplexity = float(self.perplexity) if self.perplexity is not None else min(30.0, (n - 1) / 3.0)
            arrays["tsne"] = np.asarray(tsne(emb, 2, perplexity=perplexity, random_state=self.seed).embedding)
        # one forward pass over the sentence
        tok = self.model.tokenizer
        sent_ids = np.asarray(tok.encode(self.sentence), dtype=np.int64)
        T = len(sent_ids)
        capture = [*hidden_capture(self.convention, L), f"blocks.{layer}.attn.hook_pattern", "logits"]
        last = f"blocks.{L - 1}.hook_resid_post"
        if last not in capture:
            capture.append(last)  # the raw last step, shown beside the one through ln_f
        _, cache = next(run_chunks(self.model, [sent_ids], capture, batch_size=1, progress=False))
        h = hidden(cache, self.convention)[:, 0, :T]
        steps = metrics.path_length(h, axis=0, vector_axis=-1)  # [L, T]
        arrays["drift_tokens"] = steps.T  # [T, L]: ||Z(l)[t] - Z(l-1)[t]||
        arrays["drift"] = np.sqrt(np.sum(steps * steps, axis=1))  # [L], Frobenius over tokens
        raw = np.array(steps, dtype=np.float64)
        raw[-1] = np.linalg.norm(np.asarray(cache[last][0, :T], dtype=np.float64) - np.asarray(h[L - 1], dtype=np.float64), axis=-1)
        arrays["drift_resid"] = np.sqrt(np.sum(raw * raw, axis=1))
        arrays["attention"] = np.asarray(cache[f"blocks.{layer}.attn.hook_pattern"][0, head, :T, :T], dtype=np.float64)
        logits = np.asarray(cache["logits"][0, T - 1], dtype=np.float64)
        probs = np.asarray(metrics.softmax(logits))
        top = np.argsort(-probs, kind="stable")[: self.top_k]
        arrays["sentence_ids"] = sent_ids
        arrays["next_token_ids"] = top
        arrays["next_token_probs"] = probs[top]
        arrays["next_token_logits"] = logits[top]
        arrays["entropy"] = np.asarray(metrics.entropy(logits))
        next_tokens = [tok.decode([int(t)]) for t in top]
        sent_tokens = [tok.decode([int(t)]) for t in sent_ids]
        desc = {
            "word_ids": "[n] token id of each word",
            "embeddings": f"[n, {C}] the words' rows of W_E",
            "cosine": "[n, n] cosine similarity of the words' embeddings",
            "eigenvalues": f"[{C}] eigenvalues of the "
            + (f"centred sample covariance (ddof {self.ddof})" if self.center
               else "uncentred Sigma = E^T E / " + ("N" if self.ddof == 0 else "(N - 1)"))
            + " of all token embeddings, descending",
            "explained_variance": f"[{C}] eigenvalue / sum of eigenvalues",
            "cumulative_explained_variance": f"[{C}] running sum of explained_variance",
            "components": f"[{k_comp}, {C}] top principal axes (unit rows)",
            "projection": f"[n, {k_comp}] the words' embeddings "
            + ("(minus the mean embedding) " if self.center else "") + "on the top axes",
            "tsne": "[n, 2] t-SNE map of the words' embeddings",
            "drift_tokens": "[T, L] ||Z(l) - Z(l-1)|| per token of the sentence",
            "drift": "[L] Frobenius norm of Z(l) - Z(l-1) over the sentence"
            + (" (the last step ends after the final LayerNorm ln_f)" if self.convention == "hidden_states" else ""),
            "drift_resid": "[L] the same in the raw residual stream (the last step without ln_f)",
            "attention": f"[T, T] attention pattern of block {layer}, head {head} (rows: queries, sum 1)",
            "sentence_ids": "[T] the sentence's token ids",
            "next_token_ids": f"[{self.top_k}] most likely next tokens",
            "next_token_probs": f"[{self.top_k}] their probabilities",
            "next_token_logits": f"[{self.top_k}] their logits",
            "entropy": "[] entropy of the next-token distribution in nats",
        }
        prov = self._provenance(
            "EmbeddingGeometry",
            convention=self.convention,
            dataset="words + sentence",
            dataset_sha256=sentences_digest([*self.words, self.sentence]),
            n_sentences=1,
            target=None,
            seed=self.seed if self.do_tsne else None,
            parameters={"layer": layer, "head": head, "n_components": k_comp, "top_k": self.top_k,
                        "perplexity": perplexity, "sentence": self.sentence, "center": self.center,
                        "ddof": self.ddof},
        )
        return EmbeddingResult(prov, arrays, desc, list(self.words), sent_tokens, next_tokens, layer, head)


class EmbeddingResult(StudyResult):
    """Embedding geometry numbers.  Figures: ``"cosine"``, ``"spectrum"``,
    ``"projection"``, ``"tsne"`` (when computed), ``"drift"``, ``"attention"``,
    ``"next_token"``."""

    def __init__(self, provenance: Provenance, arrays: dict[str, np.ndarray], descriptions: dict[str, str],
                 words: list[str], sentence_tokens: list[str], next_tokens: list[str], layer: int, head: int) -> None:
        super().__init__(provenance, arrays, descriptions)
        self.words = words
        self.sentence_tokens = sentence_tokens
        self.next_tokens = next_tokens
        self.layer = layer
        self.head = head
        kinds = ["cosine", "spectrum", "projection", "tsne", "drift", "attention", "next_token"]
        if "tsne" not in arrays:
            kinds.remove("tsne")
        self.plot_kinds = tuple(kinds)

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        n = len(self.words)
        cos = [{"word_a": self.words[i], "word_b": self.words[j], "cosine": float(self["cosine"][i, j])}
               for i in range(n) for j in range(i + 1, n)]
        spec = [{"component": i + 1, "eigenvalue": float(v), "explained_variance": float(r),
                 "cumulative": float(c)} for i, (v, r, c) in enumerate(zip(
                     self["eigenvalues"], self["explained_variance"], self["cumulative_explained_variance"]))]
        words = []
        for i, w in enumerate(self.words):
            row: dict[str, Any] = {"word": w, "token_id": int(self["word_ids"][i])}
            for k in range(self["projection"].shape[1]):
                row[f"pc{k + 1}"] = float(self["projection"][i, k])
            if "tsne" in self:
                row["tsne_x"], row["tsne_y"] = float(self["tsne"][i, 0]), float(self["tsne"][i, 1])
            words.append(row)
        drift = [{"token": self.sentence_tokens[t], "position": t, "layer": l + 1,
                  "drift": float(self["drift_tokens"][t, l])}
                 for t in range(len(self.sentence_tokens)) for l in range(self["drift"].size)]
        nxt = [{"rank": i + 1, "token": s, "token_id": int(t), "probability": float(p)}
               for i, (s, t, p) in enumerate(zip(self.next_tokens, self["next_token_ids"], self["next_token_probs"]))]
        return {"cosine": cos, "spectrum": spec, "words": words, "drift": drift, "next_token": nxt}

    @property
    def covariance_name(self) -> str:
        """Which covariance the spectrum and projection use."""
        params = self.provenance.parameters
        centred = params.get("center", True)
        ddof = params.get("ddof", 1 if centred else 0)
        by = "N" if ddof == 0 else "(N-1)"
        if centred:
            return f"centred sample covariance (mean removed, / {by})"
        return f"uncentred Sigma = E^T E / {by}" + (" (the lesson's formula)" if ddof == 0 else "")

    def key_stats(self) -> list[tuple[str, str]]:
        return [("words", str(len(self.words))), ("covariance", self.covariance_name),
                ("top component explains", fmt(self["explained_variance"][0])),
                ("next-token entropy (nats)", fmt(float(self["entropy"])))]

    def summary_lines(self) -> list[str]:
        cos = self["cosine"]
        n = len(self.words)
        iu = np.triu_indices(n, 1)
        order = np.argsort(-cos[iu])
        best = [f"{self.words[iu[0][k]]!r}~{self.words[iu[1][k]]!r} {cos[iu][k]:.3f}" for k in order[:5]]
        cum = self["cumulative_explained_variance"]
        n90 = int(np.searchsorted(cum, 0.9) + 1)
        ent = float(self["entropy"])
        out = [
            f"{n} words; mean pairwise cosine {fmt(cos[iu].mean())}; most similar: " + ", ".join(best),
            f"embedding covariance ({self.covariance_name}): top component explains "
            f"{fmt(self['explained_variance'][0])}; {n90} of {cum.size} components explain 90%",
            f"drift per layer (Frobenius): " + ", ".join(f"{v:.3g}" for v in self["drift"]),
        ]
        if self.provenance.convention == "hidden_states":
            out += [
                "  NOTE: hidden_states convention: the last step ends after the final LayerNorm ln_f (a rescaling);",
                "  without it (raw residual stream, resid): " + ", ".join(f"{v:.3g}" for v in self["drift_resid"]),
            ]
        out += [
            f"next token after {self.provenance.parameters['sentence']!r}: "
            + ", ".join(f"{t!r} {p:.3g}" for t, p in zip(self.next_tokens, self["next_token_probs"])),
            f"entropy {fmt(ent)} nats ({fmt(ent / math.log(2))} bits)",
        ]
        return out

    def _plot_cosine(self, ax: Axes | None = None) -> Figure:
        n = len(self.words)
        a = plotting.new_axes(ax, figsize=(min(10.0, 2.5 + 0.15 * n), min(8.0, 2.0 + 0.12 * n)))
        fs = 8 if n <= 30 else max(4.5, 8 - (n - 30) * 0.12)
        fig = plotting.heatmap(self["cosine"], ax=a, xlabels=self.words, ylabels=self.words, vmin=-1, vmax=1,
                               cmap="RdBu_r", title=f"Cosine similarity of token embeddings ({short_model(self.provenance.model)})",
                               colorbar_label="cosine")
        a.tick_params(labelsize=fs)
        return fig

    def _plot_spectrum(self, ax: Axes | None = None) -> Figure:
        a = plotting.new_axes(ax)
        ev = self["eigenvalues"]
        x = np.arange(1, ev.size + 1)
        a.plot(x, ev, color="C0", label="eigenvalue")
        a.set_yscale("log")
        a.set_xlabel("component")
        a.set_ylabel("eigenvalue (log scale)", color="C0")
        b = a.twinx()
        b.plot(x, self["cumulative_explained_variance"], color="C1", label="cumulative explained variance")
        b.set_ylabel("cumulative explained variance", color="C1")
        b.set_ylim(0, 1.02)
        cov = "centred covariance" if self.provenance.parameters.get("center", True) else "uncentred Σ = EᵀE/N"
        a.set_title(f"Eigenvalue spectrum, {cov} ({short_model(self.provenance.model)})", fontsize=10)
        return a.figure  # type: ignore[return-value]

    def _plot_projection(self, ax: Axes | None = None) -> Figure:
        p = self["projection"]
        y = p[:, 1] if p.shape[1] > 1 else np.zeros(p.shape[0])
        ev = self["explained_variance"]
        cov = "centred covariance" if self.provenance.parameters.get("center", True) else "uncentred Σ = EᵀE/N"
        return plotting.scatter(p[:, 0], y, ax=ax, labels=self.words, xlabel=f"PC 1 ({100 * ev[0]:.1f}% of the variance)",
                                ylabel=f"PC 2 ({100 * ev[1]:.1f}% of the variance)" if p.shape[1] > 1 else "",
                                title=f"Words on the top principal components of the {cov} ({short_model(self.provenance.model)})")

    def _plot_tsne(self, ax: Axes | None = None) -> Figure:
        t = self["tsne"]
        return plotting.scatter(t[:, 0], t[:, 1], ax=ax, labels=self.words, xlabel="t-SNE 1", ylabel="t-SNE 2",
                                title=f"t-SNE map of the word embeddings ({short_model(self.provenance.model)})")

    def _plot_drift(self, ax: Axes | None = None) -> Figure:
        L = self["drift"].size
        x = np.arange(1, L + 1)
        if self.provenance.convention != "hidden_states":
            return plotting.lines(x, {"sentence (Frobenius)": self["drift"]}, ax=ax, xlabel="layer",
                                  ylabel="||Z(l) - Z(l-1)|| (Frobenius)",
                                  title=f"Representation drift across layers ({short_model(self.provenance.model)})")
        # the last step goes through ln_f: drawn apart, the axis scaled without it
        fig = plotting.lines(x, {"raw residual stream (resid)": self["drift_resid"]}, ax=ax, xlabel="layer",
                             ylabel="||Z(l) - Z(l-1)|| (Frobenius)",
                             title=f"Representation drift across layers ({short_model(self.provenance.model)})")
        a = fig.axes[0] if ax is None else ax
        last = float(self["drift"][-1])
        top = float(np.nanmax(self["drift_resid"]))
        a.scatter([L], [min(last, 1.1 * top)], marker="^" if last > 1.1 * top else "o", color="C3", zorder=3,
                  label=f"last step through ln_f (hidden_states): {last:.3g}" + (" (off scale)" if last > 1.1 * top else ""))
        a.set_ylim(0, 1.15 * max(top, min(last, 1.1 * top)))
        a.legend(fontsize=8)
        return fig

    def _plot_attention(self, ax: Axes | None = None) -> Figure:
        return plotting.heatmap(self["attention"], ax=ax, xlabels=self.sentence_tokens, ylabels=self.sentence_tokens,
                                vmin=0, vmax=1, xlabel="key", ylabel="query", colorbar_label="attention",
                                title=f"Attention, block {self.layer}, head {self.head} ({short_model(self.provenance.model)})")

    def _plot_next_token(self, ax: Axes | None = None) -> Figure:
        import textwrap

        prompt = str(self.provenance.parameters.get("sentence", ""))
        shown = prompt if len(prompt) <= 120 else "..." + prompt[-117:]
        fig = plotting.bars([repr(t) for t in self.next_tokens], self["next_token_probs"], ax=ax, horizontal=True,
                            xlabel="probability")
        a = fig.axes[0] if ax is None else ax
        a.set_title("\n".join(textwrap.wrap(f"Next token after {shown!r}", 60))
                    + f"\n({short_model(self.provenance.model)}; entropy {float(self['entropy']):.2f} nats)", fontsize=9)
        return fig
