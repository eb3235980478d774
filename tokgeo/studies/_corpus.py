"""Per-token measurements over a corpus, in chunks, on one machine or on a Dask cluster.

The lessons that measure something per token (path lengths, angles between updates,
next-token log-probabilities) run through :func:`measure_corpus`:

* the texts come from a list/iterable or a UTF-8 file (one text per line, blank lines and
  lines starting with ``#`` skipped; :func:`read_corpus`), read lazily;
* they are tokenized, taken in windows of ``64 * batch_size`` texts, sorted by length
  inside a window (little padding) and run ``batch_size`` at a time with
  :meth:`tokgeo.GPT2.run` (right padding: a padded row gets what the text gets alone); a
  chunk that the memory ceiling refuses (:class:`~tokgeo.errors.MemoryBudgetError`, raised
  before anything is allocated) is halved and run again, down to one text;
* of every chunk only the per-token measurements are kept (never the activations), so
  memory stays at one chunk's captures plus the per-token rows;
* results are in input order whatever the chunking.  Numbers equal those of the texts run
  one by one to float32 rounding (BLIS may sum a batch of several rows in another order
  than a single row: differences of ~1e-7 relative), and two runs with the same
  ``batch_size`` are bitwise identical, on one machine or on a cluster.

With ``client=`` (a :class:`dask.distributed.Client`) the same chunks become Dask tasks:
each worker process opens the model once (tokgeo maps the checkpoint read-only, so the
weights are shared through the page cache, not copied) and keeps it for later tasks; a
failed task is retried (``retries``); every chunk's rows are placed by chunk number, so a
retried or duplicated task can never add or drop a row.
"""

from __future__ import annotations

import importlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .. import metrics
from ..errors import InvalidInputError, InvalidTypeError, TextEncodingError, TokgeoIOError
from ..progress import track
from ._base import StudyResult
from ._common import default_batch_size, hidden, hidden_capture, run_chunks

__all__ = ["MEASURES", "TokenTable", "read_corpus", "measure_corpus", "load_model", "model_config"]

#: what :func:`measure_corpus` can keep per token (L = number of blocks, T = tokens)
MEASURES: dict[str, str] = {
    "step_length": "[tokens, L] ||h(l) - h(l-1)||, l = 1..L: the Euclidean length of each block's step",
    "state_angle": "[tokens, L] angle between h(l-1) and h(l) in degrees",
    "update_angle": "[tokens, L-1] angle between the updates D(l) = h(l) - h(l-1) and D(l+1), degrees",
    "update_norm": "[tokens, L] ||D(l)|| (same as step_length; kept for the angle lessons)",
    "endpoint_distance": "[tokens] ||h(L) - h(0)||: the straight-line distance from start to end",
    "last_step_resid": "[tokens] the last block's step in the raw residual stream, without the final "
                       "LayerNorm ln_f (under convention resid: step_length's last column)",
    "logprob_next": "[tokens] natural log-probability of the actual next token (NaN for a text's last token)",
    "rank_next": "[tokens] rank of the actual next token among the vocabulary, 1 = most likely (0 for the last token)",
    "entropy": "[tokens] entropy of the next-token distribution, nats",
}
_LOGIT_MEASURES = ("logprob_next", "rank_next", "entropy")

#: a lesson's own per-token measurement: called with one text's states ``[T, L+1, C]``
#: float32 (under the run's convention), returns arrays ``[T, ...]`` by name (kept as
#: columns of the :class:`TokenTable`).  Picklable for a Dask run (a module-level
#: function, class instance or :func:`functools.partial`).
PerText = Callable[[np.ndarray], Mapping[str, np.ndarray]]
_FLOAT_NAN_LAST = ("logprob_next",)


# ------------------------------------------------------------------------------ input
def read_corpus(source: Any, *, name: str = "texts") -> Iterator[str]:
    """The texts of a corpus, one at a time.

    ``source`` is a path (``str`` or ``os.PathLike``) of a UTF-8 text file with one text
    per line (blank lines and lines starting with ``#`` are skipped), or an iterable of
    strings (yielded as they are; each must be a non-empty ``str``).

    Raises (while iterating):
        TextEncodingError: a line of the file is not UTF-8 (the message names the line).
        TokgeoIOError: the file cannot be opened.
        InvalidTypeError / InvalidInputError: an item is not a string, or is blank.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(os.fspath(source))
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            raise TokgeoIOError(f"corpus file {path} does not exist") from None
        except OSError as e:
            raise TokgeoIOError(f"cannot open the corpus file {path}: {e.strerror}") from None
        with f:
            for lineno, raw in enumerate(f, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise TextEncodingError(
                        f"{path}: line {lineno} is not UTF-8 ({e.reason} at byte {e.start} of the line); "
                        "re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
                    ) from None
                text = line.strip().lstrip("\ufeff") if lineno == 1 else line.strip()
                if text and not text.startswith("#"):
                    yield text
        return
    if isinstance(source, bytes):
        raise InvalidTypeError("a corpus is a file path or an iterable of str, not bytes")
    try:
        it = iter(source)
    except TypeError:
        raise InvalidTypeError(
            f"a corpus is a file path or an iterable of str, got {type(source).__name__}"
        ) from None
    for i, t in enumerate(it):
        if not isinstance(t, str):
            raise InvalidTypeError(f"{name} [{i}] is a {type(t).__name__}, not a str")
        if not t.strip():
            raise InvalidInputError(f"{name} [{i}] is empty or blank")
        yield t


# ------------------------------------------------------------------------------ model
def load_model(model: Any) -> tuple[Any, str]:
    """A model name, a folder or a :class:`tokgeo.GPT2` -> (GPT2, label for provenance)."""
    from ..model import GPT2

    if isinstance(model, GPT2):
        return model, str(model.name_or_path or "GPT2")
    if isinstance(model, (str, os.PathLike)):
        return GPT2.from_pretrained(model), os.fspath(model)
    raise InvalidTypeError(
        f"model must be a model name ('gpt2', 'gpt2-xl'...), a folder, or a tokgeo.GPT2; got {type(model).__name__}"
    )


def model_config(model: Any) -> dict[str, int]:
    c = model.config
    return {
        "n_layer": int(c.n_layer),
        "n_head": int(c.n_head),
        "n_embd": int(c.n_embd),
        "n_ctx": int(c.n_ctx),
        "n_vocab": int(c.vocab_size),
    }


# ------------------------------------------------------------------------------ results
@dataclass
class TokenTable:
    """Per-token rows of a corpus run, in input order.

    ``arrays`` holds ``text_index`` [tokens], ``position`` [tokens] (inside its text),
    ``token_id`` [tokens], ``start``/``end`` [tokens] (character span in its text) and one
    entry per requested measure (see :data:`MEASURES` for shapes and units).
    ``texts`` are the texts (in order) and ``n_layer`` the model's blocks.
    """

    arrays: dict[str, np.ndarray]
    texts: list[str]
    n_layer: int

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    @property
    def n_tokens(self) -> int:
        return int(self.arrays["text_index"].shape[0])

    def rows(self, text: int) -> np.ndarray:
        """Row indices of one text's tokens."""
        return np.flatnonzero(self.arrays["text_index"] == text)


def _check_measures(measures: Sequence[str]) -> tuple[str, ...]:
    ms = tuple(measures)
    if not ms:
        raise InvalidInputError("give at least one measure: " + ", ".join(MEASURES))
    for m in ms:
        if m not in MEASURES:
            raise InvalidInputError(f"unknown measure {m!r}; choose from: {', '.join(MEASURES)}")
    return ms


def _capture(convention: str, n_layer: int, measures: Sequence[str], per_text: PerText | None = None) -> list[str]:
    names: list[str] = []
    if per_text is not None or any(m not in _LOGIT_MEASURES for m in measures):
        names += hidden_capture(convention, n_layer)
    if "last_step_resid" in measures and convention == "hidden_states":
        names.append(f"blocks.{n_layer - 1}.hook_resid_post")  # the last state before ln_f
    if any(m in _LOGIT_MEASURES for m in measures):
        names.append("logits")
    return names


def _measure_cache(cache: Any, rows: Sequence[np.ndarray], measures: Sequence[str], convention: str,
                   n_layer: int, per_text: PerText | None = None) -> list[dict[str, np.ndarray]]:
    """The per-token measurements of one run, per text (the text's T rows each)."""
    out: list[dict[str, np.ndarray]] = [{} for _ in rows]
    if per_text is not None or any(m not in _LOGIT_MEASURES for m in measures):
        h = hidden(cache, convention)  # [L+1, B, T, C]
        per: dict[str, np.ndarray] = {}
        if "step_length" in measures or "update_norm" in measures:
            s = metrics.path_length(h, axis=0)  # [L, B, T]
            per["step_length"] = s
            per["update_norm"] = s
        if "state_angle" in measures:
            per["state_angle"] = metrics.consecutive_angles(h, axis=0)
        if "update_angle" in measures:
            d = np.diff(h, axis=0)  # [L, B, T, C] float32
            per["update_angle"] = metrics.consecutive_angles(d, axis=0)  # [L-1, B, T]
            del d
        if "endpoint_distance" in measures:
            per["endpoint_distance"] = np.asarray(metrics.euclidean(h[-1], h[0]))[None]  # [1, B, T]
        if "last_step_resid" in measures:
            raw_last = cache["resid_post", -1] if convention == "hidden_states" else h[-1]
            per["last_step_resid"] = np.asarray(metrics.euclidean(raw_last, h[-2]))[None]  # [1, B, T]
        for j, r in enumerate(rows):
            T = len(r)
            for m in measures:
                if m in per:
                    v = per[m][:, j, :T].T  # [T, k]
                    out[j][m] = np.ascontiguousarray(v[:, 0] if m in ("endpoint_distance", "last_step_resid") else v)
            if per_text is not None:
                for k, v in per_text(np.ascontiguousarray(np.swapaxes(h[:, j, :T], 0, 1))).items():
                    out[j][k] = np.asarray(v)
    if any(m in _LOGIT_MEASURES for m in measures):
        logits = cache["logits"]  # [B, T, V]
        for j, r in enumerate(rows):
            T = len(r)
            z = logits[j, :T]
            nxt = np.asarray(r[1:], dtype=np.int64)
            if "logprob_next" in measures:
                lp = np.full(T, np.nan)
                if T > 1:
                    ls = metrics.log_softmax(z[:-1])  # [T-1, V] float64
                    lp[:-1] = ls[np.arange(T - 1), nxt]
                out[j]["logprob_next"] = lp
            if "rank_next" in measures:
                rk = np.zeros(T, dtype=np.int64)
                if T > 1:
                    actual = z[np.arange(T - 1), nxt]
                    rk[:-1] = (z[:-1] > actual[:, None]).sum(axis=1) + 1
                out[j]["rank_next"] = rk
            if "entropy" in measures:
                out[j]["entropy"] = np.asarray(metrics.entropy(z), dtype=np.float64).reshape(T)
    return out


def measure_chunk(model: Any, rows: Sequence[np.ndarray], measures: Sequence[str], convention: str,
                  memory_budget: int | None, per_text: PerText | None = None) -> list[dict[str, np.ndarray]]:
    """Run some tokenized texts as one chunk (:func:`~tokgeo.studies._common.run_chunks`,
    which halves it when the budget refuses it) and measure: one dict per text, in order."""
    L = int(model.config.n_layer)
    out: list[dict[str, np.ndarray]] = [{} for _ in rows]
    for idx, cache in run_chunks(model, rows, _capture(convention, L, measures, per_text),
                                 batch_size=max(len(rows), 1), progress=False, memory_budget=memory_budget):
        for i, d in zip(idx, _measure_cache(cache, [rows[int(i)] for i in idx], measures, convention, L, per_text)):
            out[int(i)] = d
        del cache
    return out


# ------------------------------------------------------------------------------ chunking
@dataclass
class _Chunk:
    index: int
    text_ids: list[int]  # positions of the texts in the corpus
    rows: list[np.ndarray]  # their token ids


def _chunks(texts: Iterable[str], tokenizer: Any, n_ctx: int, batch_size: int, keep: list[str],
            offsets: list[np.ndarray], ids_out: list[np.ndarray]) -> Iterator[_Chunk]:
    """Tokenize lazily; windows of 64 * batch_size texts, sorted by length, cut into chunks."""
    window = 64 * batch_size
    buf: list[int] = []
    k = 0

    def flush() -> Iterator[_Chunk]:
        nonlocal k
        order = sorted(buf, key=lambda i: len(ids_out[i]))
        for s in range(0, len(order), batch_size):
            part = order[s : s + batch_size]
            yield _Chunk(k, part, [ids_out[i] for i in part])
            k += 1
        buf.clear()

    for t in texts:
        i = len(keep)
        ids, offs = tokenizer.encode_with_offsets(t)
        if len(ids) == 0:
            raise InvalidInputError(f"text [{i}] has no tokens")
        if len(ids) > n_ctx:
            raise InvalidInputError(
                f"text [{i}] has {len(ids)} tokens; the model reads at most {n_ctx}: shorten or split it"
            )
        keep.append(t)
        ids_out.append(np.asarray(ids, dtype=np.int64))
        offsets.append(np.asarray(offs, dtype=np.int64).reshape(-1, 2))
        buf.append(i)
        if len(buf) >= window:
            yield from flush()
    if buf:
        yield from flush()


def _check_positive(name: str, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise InvalidInputError(f"{name} must be a positive integer, got {v!r}")


# ------------------------------------------------------------------------------ Dask
_WORKER_MODELS: dict[str, Any] = {}
_WORKER_LOCK = threading.Lock()


def _worker_model(path: str) -> Any:
    """The model of this worker process, opened (mapped) on first use and kept."""
    with _WORKER_LOCK:
        m = _WORKER_MODELS.get(path)
        if m is None:
            from ..model import GPT2

            m = GPT2.from_pretrained(path)
            _WORKER_MODELS[path] = m
        return m


def _dask_task(index: int, model_path: str, rows: list[np.ndarray], measures: tuple[str, ...], convention: str,
               memory_budget: int | None, per_text: PerText | None) -> tuple[int, list[dict[str, np.ndarray]]]:
    return index, measure_chunk(_worker_model(model_path), rows, measures, convention, memory_budget, per_text)


def _model_path(model: Any, label: str) -> str:
    """What a Dask worker opens: the folder the model was loaded from (or its hub name)."""
    folder = getattr(model, "_folder", None)
    if folder is not None:
        return str(os.fspath(folder))
    if label:
        return label
    raise InvalidInputError("a Dask run needs a model loaded from a folder or a name, so each worker can open it")


# ------------------------------------------------------------------------------ the run
def measure_corpus(
    model: Any,
    texts: Any,
    measures: Sequence[str],
    *,
    convention: str = "hidden_states",
    batch_size: int | None = None,
    memory_budget: int | None = None,
    progress: bool | None = None,
    client: Any = None,
    retries: int = 2,
    desc: str = "",
    label: str = "",
    per_text: PerText | None = None,
) -> TokenTable:
    """Measure every token of a corpus; see the module documentation.

    Args:
        model: a :class:`tokgeo.GPT2` (on a cluster each worker opens the same folder).
        texts: an iterable of texts or the path of a UTF-8 file (:func:`read_corpus`).
        measures: names from :data:`MEASURES`.
        convention: ``"hidden_states"`` (Hugging Face, last state after ln_f) or ``"resid"``.
        batch_size: texts per forward pass (default 16 or ``TOKGEO_BATCH_SIZE``).
        memory_budget: the ceiling in bytes for one forward pass (captures + working
            memory); default: the memory available.  A chunk over it is halved.
        progress: show a progress bar (tqdm when installed).
        client: a ``dask.distributed.Client``: run the chunks as tasks on its cluster.
        retries: how often Dask retries a failed task.
        per_text: a lesson's own per-token measurement on each text's states (see
            :data:`PerText`); its arrays join the table under their names.

    Raises:
        InvalidInputError: an empty corpus, an empty or too long text, a bad argument.
        TextEncodingError: a corpus file line that is not UTF-8 (line number named).
        MemoryBudgetError: a single text does not fit under ``memory_budget``.
    """
    from ._base import check_convention

    ms = _check_measures(measures)
    check_convention(convention)
    bs = default_batch_size() if batch_size is None else batch_size
    _check_positive("batch_size", bs)
    if memory_budget is not None:
        _check_positive("memory_budget", memory_budget)
    _check_positive("retries", retries + 1)
    L = int(model.config.n_layer)
    if "update_angle" in ms and L < 2:
        raise InvalidInputError("update_angle needs a model with at least 2 blocks")
    keep: list[str] = []
    offsets: list[np.ndarray] = []
    ids: list[np.ndarray] = []
    results: dict[int, dict[str, np.ndarray]] = {}
    chunks = _chunks(read_corpus(texts), model.tokenizer, int(model.config.n_ctx), int(bs), keep, offsets, ids)
    label_desc = desc or "tokens"
    if client is None:
        for ch in track(chunks, desc=label_desc, unit="chunk", enabled=progress):
            for i, d in zip(ch.text_ids, measure_chunk(model, ch.rows, ms, convention, memory_budget, per_text)):
                results[i] = d
    else:
        _run_dask(client, model, label, chunks, (ms, convention, memory_budget, per_text), retries, results,
                  progress, label_desc)
    if not keep:
        raise InvalidInputError("the corpus is empty: it holds no text (blank lines and # comments are skipped)")
    if sorted(results) != list(range(len(keep))):  # pragma: no cover - guarded by chunk bookkeeping
        raise RuntimeError("internal error: a text's rows are missing or duplicated")
    arrays: dict[str, np.ndarray] = {
        "text_index": np.concatenate([np.full(len(r), i, dtype=np.int64) for i, r in enumerate(ids)]),
        "position": np.concatenate([np.arange(len(r), dtype=np.int64) for r in ids]),
        "token_id": np.concatenate(ids),
        "start": np.concatenate([o[:, 0] for o in offsets]),
        "end": np.concatenate([o[:, 1] for o in offsets]),
    }
    for m in results[0]:  # the measures, then the lesson's own (per_text)
        arrays[m] = np.concatenate([results[i][m] for i in range(len(keep))], axis=0)
    return TokenTable(arrays, keep, L)


def _run_dask(client: Any, model: Any, label: str, chunks: Iterator[_Chunk], how: tuple[Any, ...], retries: int,
              results: dict[int, dict[str, np.ndarray]], progress: bool | None, desc: str) -> None:
    """Chunks as Dask tasks; ``how`` = (measures, convention, memory_budget, per_text) of
    :func:`measure_chunk`; each chunk's rows land in ``results`` by text index."""
    try:  # Any: dask is optional and its as_completed is not annotated
        as_completed = importlib.import_module("dask.distributed").as_completed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("client= needs Dask: pip install 'dask[distributed]' (or 'tokgeo[dask]')") from exc
    import uuid

    path = _model_path(model, label)
    run_id = uuid.uuid4().hex[:12]
    futures = []
    members: dict[int, list[int]] = {}
    for ch in chunks:
        members[ch.index] = ch.text_ids
        futures.append(client.submit(_dask_task, ch.index, path, ch.rows, *how,
                                     key=f"tokgeo-chunk-{run_id}-{ch.index}", retries=retries, pure=False))
    seen: set[int] = set()
    try:
        for fut in track(as_completed(futures), total=len(futures), desc=desc, unit="chunk", enabled=progress):
            index, rows = fut.result()
            if index in seen:  # pragma: no cover - Dask gives each key once
                continue
            seen.add(index)
            for i, d in zip(members[index], rows):
                results[i] = d
    finally:
        for f in futures:
            f.release()
    if seen != set(members):  # pragma: no cover
        raise RuntimeError(f"internal error: chunks {sorted(set(members) - seen)} returned no rows")


# ------------------------------------------------------------------------------ study base
def model_title(label: str) -> str:
    """A short model name for figure titles (a folder's last part)."""
    return Path(label).name or label


def title_prefix(provenance: Any) -> str:
    """``"gpt2-xl (48 blocks)"``: the model and its depth, for figure titles."""
    return f"{model_title(provenance.model)} ({provenance.model_config.get('n_layer', '?')} blocks)"


class TokenResult(StudyResult):
    """Result of a per-token lesson: the arrays by name (``text_index`` and ``position``
    [tokens] among them), ``tokens`` (each token's text, in row order) and ``texts``."""

    def __init__(self, provenance: Any, arrays: dict[str, np.ndarray], descriptions: dict[str, str],
                 tokens: Sequence[str], texts: Sequence[str]) -> None:
        super().__init__(provenance, arrays, descriptions)
        self.tokens = list(tokens)
        self.texts = list(texts)

    def token_rows(self, **columns: str) -> list[dict[str, Any]]:
        """The tidy per-token table: text, position, token, then ``column=array name`` as
        Python scalars (float, int or bool, as the array's dtype)."""
        return [{"text": int(self["text_index"][i]), "position": int(self["position"][i]), "token": self.tokens[i],
                 **{c: self[k][i].item() for c, k in columns.items()}} for i in range(len(self.tokens))]


class TokenStudy:
    """Base of the per-token lessons: the model (loaded on first use), the texts or a
    corpus, and the run options (chunking, memory ceiling, progress, Dask client)."""

    default_model = "gpt2"
    default_text: str = ""

    def __init__(
        self,
        model: Any = None,
        text: str | Sequence[str] | None = None,
        *,
        corpus: Any = None,
        convention: str = "hidden_states",
        batch_size: int | None = None,
        memory_budget: int | None = None,
        progress: bool | None = None,
        client: Any = None,
        dataset_name: str | None = None,
    ) -> None:
        from ._base import check_convention

        self._model_arg = model if model is not None else self.default_model
        self._model: Any = None
        self._label = ""
        if text is not None and corpus is not None:
            raise InvalidInputError("give either text= or corpus=, not both")
        if corpus is not None:
            self._source: Any = corpus
            self._source_name = dataset_name or (
                Path(os.fspath(corpus)).name if isinstance(corpus, (str, os.PathLike)) else "user corpus")
        else:
            if text is None:
                texts = [self.default_text]
                default_name = f"{type(self).__module__}.DEFAULT_TEXT"
            elif isinstance(text, str):
                texts = [text]
                default_name = "user text"
            else:
                texts = list(text)
                default_name = "user texts"
            list(read_corpus(texts, name="text"))  # check now: a clear error at construction
            if not texts:
                raise InvalidInputError("text is empty: give a text (or a list of texts)")
            self._source = texts
            self._source_name = dataset_name or default_name
        self.convention = check_convention(convention)
        self.batch_size = batch_size
        self.memory_budget = memory_budget
        self.progress = progress
        self.client = client

    @property
    def model(self) -> Any:
        """The loaded :class:`tokgeo.GPT2` (loaded on first use)."""
        if self._model is None:
            self._model, self._label = load_model(self._model_arg)
        return self._model

    @property
    def label(self) -> str:
        self.model
        return self._label

    def _measure(self, measures: Sequence[str], desc: str, convention: str | None = None,
                 per_text: PerText | None = None) -> TokenTable:
        return measure_corpus(
            self.model, self._source, measures, convention=convention or self.convention,
            batch_size=self.batch_size, memory_budget=self.memory_budget, progress=self.progress,
            client=self.client, desc=f"{model_title(self.label)}: {desc}", label=self.label, per_text=per_text,
        )

    def _provenance(self, study: str, table: TokenTable, *, target: Any = None, seed: Any = None,
                    parameters: Mapping[str, Any] | None = None, convention: str | None = "") -> Any:
        from ..datasets import sentences_digest
        from ._base import Provenance, model_origin

        return Provenance(
            study=study, model=self.label, model_config=model_config(self.model), **model_origin(self.model),
            convention=self.convention if convention == "" else convention,
            dataset=self._source_name, dataset_sha256=sentences_digest(table.texts),
            n_sentences=len(table.texts), target=target, seed=seed,
            parameters=dict(parameters or {}),
        )

    def _token_labels(self, table: TokenTable) -> list[str]:
        tok = self.model.tokenizer
        return [table.texts[int(i)][int(a):int(b)] for i, a, b in
                zip(table["text_index"], table["start"], table["end"])] if tok else []
