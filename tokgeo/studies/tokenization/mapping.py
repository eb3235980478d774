"""Lesson "translating between tokenizers": map the tokens of tokenizer A onto those of B
through the text (character offsets), and count what does not translate one to one.

Two tokens are linked when their character spans overlap.  The links cut the text into
*groups* (connected sets of A and B tokens); a group is

* ``one-to-one``  1 A token, 1 B token: the same span -- the only case where an id of A
  stands for exactly one id of B;
* ``one-to-many`` 1 A token, several B tokens (B splits it);
* ``many-to-one`` several A tokens, 1 B token (B merges them);
* ``many-to-many`` several of each: the boundaries cross (e.g. ``" don't"`` as
  ``" don" "'t"`` against ``" do" "n't"``).

Everything but one-to-one loses something: a per-token translation table (an embedding of A
looked up for B's ids) does not exist there.  Tokens with an empty span (special tokens such
as BERT's ``[CLS]``) have no text and are counted as ``unaligned``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from ... import plotting
from ...errors import InvalidInputError
from .._base import StudyResult
from ._shared import BOOK_NAME, Tokens, book_text, check_text, grouped_bars, provenance, resolve_tokenizers, tokenize

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["TokenMapping", "TokenMappingResult", "align", "KINDS"]

KINDS = ("one-to-one", "one-to-many", "many-to-one", "many-to-many")


def align(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Groups of overlapping spans.

    Args:
        a, b: int64 ``[n, 2]`` and ``[m, 2]`` character spans, each sorted by start (what a
            tokenizer gives).

    Returns:
        ``(group_a [n], group_b [m], n_a [G], n_b [G])``: the group of each token (-1 for an
        empty span), and how many A and B tokens each group holds.  Groups are numbered in
        text order.
    """
    a = np.asarray(a, dtype=np.int64).reshape(-1, 2)
    b = np.asarray(b, dtype=np.int64).reshape(-1, 2)
    n, m = len(a), len(b)
    parent = list(range(n + m))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    b_real = np.flatnonzero(b[:, 1] > b[:, 0])
    bs, be = b[b_real, 0], np.maximum.accumulate(b[b_real, 1]) if len(b_real) else b[b_real, 1]
    for i in range(n):
        a0, a1 = int(a[i, 0]), int(a[i, 1])
        if a1 <= a0:
            continue
        lo = int(np.searchsorted(be, a0, side="right"))
        hi = int(np.searchsorted(bs, a1, side="left"))
        for jj in range(lo, hi):
            j = int(b_real[jj])
            if b[j, 0] < a1 and a0 < b[j, 1]:
                ra, rb = find(i), find(n + j)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
    roots = np.asarray([find(x) for x in range(n + m)], dtype=np.int64)
    empty = np.concatenate([a[:, 1] <= a[:, 0], b[:, 1] <= b[:, 0]])
    # number the groups in text order: by the first A (else B) token of each root
    ids = np.full(n + m, -1, dtype=np.int64)
    key: dict[int, int] = {}
    order = sorted(range(n + m), key=lambda x: (int(a[x, 0]) if x < n else int(b[x - n, 0]), x >= n))
    for x in order:
        if empty[x]:
            continue
        r = int(roots[x])
        if r not in key:
            key[r] = len(key)
        ids[x] = key[r]
    G = len(key)
    ga, gb = ids[:n], ids[n:]
    n_a = np.bincount(ga[ga >= 0], minlength=G).astype(np.int64)
    n_b = np.bincount(gb[gb >= 0], minlength=G).astype(np.int64)
    return ga, gb, n_a, n_b


def kinds_of(n_a: np.ndarray, n_b: np.ndarray) -> np.ndarray:
    """int64 [G]: 0 one-to-one, 1 one-to-many, 2 many-to-one, 3 many-to-many (4: a group
    with tokens on one side only, which overlapping spans cannot make)."""
    k = np.full(len(n_a), 4, dtype=np.int64)
    k[(n_a == 1) & (n_b == 1)] = 0
    k[(n_a == 1) & (n_b > 1)] = 1
    k[(n_a > 1) & (n_b == 1)] = 2
    k[(n_a > 1) & (n_b > 1)] = 3
    return k


class TokenMapping:
    """Translate the tokens of ``a`` into those of ``b`` on a text.

    Args:
        text: the text (default: the first 20,000 characters of the shipped book).
        tokenizers: exactly two, names or ``{name: tokenizer}``; the first is A.  Default
            GPT-2 and cl100k_base.  A WordPiece tokenizer (lower-casing) works: its offsets
            point into the original text.
    """

    def __init__(self, text: str | None = None, tokenizers: Mapping[str, Any] | Sequence[str] | None = ("gpt2", "cl100k"),
                 *, dataset_name: str | None = None) -> None:
        self.text = check_text(book_text()[:20000] if text is None else text)
        self.toks, self.notes = resolve_tokenizers(tokenizers, self.text, default=("gpt2", "cl100k"))
        if len(self.toks) != 2:
            raise InvalidInputError(f"TokenMapping compares exactly two tokenizers, got {len(self.toks)}: {list(self.toks)}")
        self.dataset = dataset_name or (BOOK_NAME + ", first 20000 characters" if text is None else "user text")

    def run(self) -> TokenMappingResult:
        (na, ta), (nb, tb) = [(k, tokenize(v, self.text)) for k, v in self.toks.items()]
        ga, gb, n_a, n_b = align(ta.offsets, tb.offsets)
        kinds = kinds_of(n_a, n_b)
        a_kind = np.where(ga >= 0, kinds[np.maximum(ga, 0)], -1)
        arrays = {"a_ids": ta.ids, "b_ids": tb.ids, "a_offsets": ta.offsets, "b_offsets": tb.offsets,
                  "group_a": ga, "group_b": gb, "group_n_a": n_a, "group_n_b": n_b, "group_kind": kinds,
                  "a_kind": a_kind,
                  "groups_by_kind": np.bincount(kinds, minlength=5)[:4].astype(np.int64),
                  "a_tokens_by_kind": np.asarray([int(n_a[kinds == k].sum()) for k in range(4)], dtype=np.int64),
                  "b_tokens_by_kind": np.asarray([int(n_b[kinds == k].sum()) for k in range(4)], dtype=np.int64),
                  "unaligned": np.asarray([int((ga < 0).sum()), int((gb < 0).sum())], dtype=np.int64)}
        desc = {"a_ids": f"[n] ids of {na}", "b_ids": f"[m] ids of {nb}",
                "a_offsets": f"[n, 2] character spans of {na}'s tokens", "b_offsets": f"[m, 2] spans of {nb}'s tokens",
                "group_a": "[n] group of each A token (-1: empty span)", "group_b": "[m] group of each B token",
                "group_n_a": "[G] A tokens per group", "group_n_b": "[G] B tokens per group",
                "group_kind": "[G] 0 one-to-one, 1 one-to-many, 2 many-to-one, 3 many-to-many",
                "a_kind": "[n] kind of each A token's group (-1: unaligned)",
                "groups_by_kind": "[4] groups of each kind", "a_tokens_by_kind": "[4] A tokens in groups of each kind",
                "b_tokens_by_kind": "[4] B tokens in groups of each kind",
                "unaligned": "[2] A and B tokens with an empty span"}
        prov = provenance("TokenMapping", self.toks, self.dataset, [self.text], {"a": na, "b": nb, "n_chars": len(self.text)})
        return TokenMappingResult(prov, arrays, desc, names=(na, nb), text=self.text, tokens=(ta, tb), notes=self.notes)


class TokenMappingResult(StudyResult):
    """Result of :class:`TokenMapping`; :meth:`b_tokens_of` gives the B tokens an A token maps to."""

    plot_kinds = ("kinds", "alignment")

    def __init__(self, provenance: Any, arrays: Mapping[str, np.ndarray], descriptions: Mapping[str, str], *,
                 names: tuple[str, str], text: str, tokens: tuple[Tokens, Tokens], notes: list[str]) -> None:
        super().__init__(provenance, arrays, descriptions)
        self.names, self.text, self.tokens, self.notes = names, text, tokens, notes

    def b_tokens_of(self, i: int) -> np.ndarray:
        """Indices of the B tokens in A token i's group (int64; empty for an unaligned token)."""
        g = int(self["group_a"][i])
        return np.flatnonzero(self["group_b"] == g) if g >= 0 else np.zeros(0, dtype=np.int64)

    def examples(self, kind: int, n: int = 5) -> list[tuple[list[str], list[str]]]:
        """Up to n groups of one kind as (A pieces, B pieces)."""
        out = []
        for g in np.flatnonzero(self["group_kind"] == kind)[:n].tolist():
            ia, ib = np.flatnonzero(self["group_a"] == g), np.flatnonzero(self["group_b"] == g)
            out.append(([self.tokens[0].pieces[i] for i in ia], [self.tokens[1].pieces[j] for j in ib]))
        return out

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        kinds = [{"kind": KINDS[k], "groups": int(self["groups_by_kind"][k]), f"{self.names[0]}_tokens": int(self["a_tokens_by_kind"][k]),
                  f"{self.names[1]}_tokens": int(self["b_tokens_by_kind"][k])} for k in range(4)]
        ta, tb = self.tokens
        groups = [{"group": g, "kind": KINDS[int(self["group_kind"][g])],
                   "a_tokens": " | ".join(ta.pieces[i] for i in np.flatnonzero(self["group_a"] == g)),
                   "b_tokens": " | ".join(tb.pieces[j] for j in np.flatnonzero(self["group_b"] == g))}
                  for g in np.flatnonzero(self["group_kind"] != 0)[:2000].tolist()]
        return {"kinds": kinds, "groups": groups}

    def key_stats(self) -> list[tuple[str, str]]:
        n = max(1, int(self["a_tokens_by_kind"].sum()))
        return [("one-to-one", f"{self['a_tokens_by_kind'][0] / n:.1%} of {self.names[0]}'s tokens")]

    def summary_lines(self) -> list[str]:
        A, B = self.names
        na, nb = len(self["a_ids"]), len(self["b_ids"])
        out = [f"Mapping {A} ({na} tokens) onto {B} ({nb} tokens) through character offsets, "
               f"{self.provenance.parameters['n_chars']} characters.", "",
               f"{'kind':<14}{'groups':>8}{A + ' tok':>16}{B + ' tok':>16}"]
        for k in range(4):
            out.append(f"{KINDS[k]:<14}{int(self['groups_by_kind'][k]):>8}{int(self['a_tokens_by_kind'][k]):>16}"
                       f"{int(self['b_tokens_by_kind'][k]):>16}")
        lost = 1 - self["a_tokens_by_kind"][0] / max(1, na)
        out += [f"unaligned (empty spans): {A} {int(self['unaligned'][0])}, {B} {int(self['unaligned'][1])}",
                f"{lost:.1%} of {A}'s tokens have no one-to-one counterpart in {B}.", ""]
        for k in (1, 2, 3):
            ex = self.examples(k, 3)
            if ex:
                out.append(f"{KINDS[k]}: " + "; ".join(f"{'|'.join(map(repr, x))} -> {'|'.join(map(repr, y))}" for x, y in ex))
        out += [f"note: {s}" for s in self.notes]
        return out

    def _plot_kinds(self, ax: Axes | None = None) -> Figure:
        A, B = self.names
        na, nb = max(1, len(self["a_ids"])), max(1, len(self["b_ids"]))
        return grouped_bars(ax, list(KINDS), {f"{A} tokens": self["a_tokens_by_kind"] / na,
                                              f"{B} tokens": self["b_tokens_by_kind"] / nb},
                            title=f"Translating {A} tokens into {B} tokens", xlabel="kind of group (A : B tokens)",
                            ylabel="fraction of each tokenizer's tokens")

    def _plot_alignment(self, ax: Axes | None = None, start: int = 0, n_chars: int = 90) -> Figure:
        from matplotlib.patches import Patch, Rectangle

        a = plotting.new_axes(ax, figsize=(11.0, 2.6))
        end = start + n_chars
        colors = {0: "#cfe8cf", 1: "#ffd9b3", 2: "#c9dcf2", 3: "#f2c9c9", -1: "#eeeeee"}
        for row, (tk, gkey) in enumerate(((self.tokens[0], "group_a"), (self.tokens[1], "group_b"))):
            g = self[gkey]
            for i, (s, e) in enumerate(tk.offsets.tolist()):
                if e <= start or s >= end or e <= s:
                    continue
                kind = int(self["group_kind"][g[i]]) if g[i] >= 0 else -1
                s2, e2 = max(s, start), min(e, end)
                a.add_patch(Rectangle(
                    (s2, -row - 0.4), e2 - s2, 0.8, facecolor=colors[kind], edgecolor="0.3", linewidth=0.6))
                a.text((s2 + e2) / 2, -row, self.text[s2:e2].replace("\n", "\u21b5").replace(" ", "\u2423"),
                       ha="center", va="center", fontsize=7, family="monospace", clip_on=True)
        a.set_xlim(start, end)
        a.set_ylim(-1.6, 0.6)
        a.set_yticks([0, -1], labels=list(self.names))
        a.set_xlabel("character offset in the text")
        a.set_ylabel("tokenizer")
        handles = [Patch(facecolor=colors[k], edgecolor="0.3", label=KINDS[k])
                   for k in range(4)]
        a.legend(handles=handles, fontsize=7, ncol=4, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
        a.set_title(f"Token spans of {self.names[0]} and {self.names[1]}, characters {start}-{end}", pad=24)
        return a.figure  # type: ignore[return-value]
