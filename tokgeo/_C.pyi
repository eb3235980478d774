# Types of tokgeo._C, the C core's binding (csrc/python/*.c). Internal: the typed public API is
# in the Python modules that wrap it. Every name the module exports is declared here
# (tests/test_typing.py checks both directions, so a new binding must be typed when it is added).
# Arrays are read-only views into C memory where the docs say "view"; shapes are in the docs.
from typing import Any, Literal, TypedDict, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

_F32 = NDArray[np.float32]
_F64 = NDArray[np.float64]
_I64 = NDArray[np.int64]
_U8 = NDArray[np.uint8]
# GPT-2 config as the C side parses it: (n_layer, n_head, n_embd, n_ctx, n_vocab, n_inner,
# layer_norm_eps, activation code, scale_attn_weights, scale_attn_by_inverse_layer_idx)
_Config = tuple[int, int, int, int, int, int, float, int, bool, bool]

class _Plan(TypedDict):
    """One forward pass's capture plan (per hook kind and per (layer, kind) slot)."""

    offset: tuple[int, ...]  # [n_kinds] byte offset of each kind's block, -1 when not captured
    count: tuple[int, ...]  # [n_kinds] layers of each kind held
    layer_floats: tuple[int, ...]  # [n_kinds] float32 values per layer of each kind
    slot: tuple[int, ...]  # [n_kinds * n_layer] slot of (layer, kind), -1 when not captured
    views: tuple[tuple[tuple[int, ...], tuple[int, ...], int], ...]  # per capture row: shape, byte strides, offset in a slot
    n_layer: int
    arena_bytes: int
    scratch_bytes: int
    run_layers: int
    need_head: bool

# ---------------------------------------------------------------- module.c
def set_num_threads(n: int, /) -> None:
    """Threads for BLIS and tokgeo's loops (0: all cores); InvalidInputError outside [0, 4096]."""

def get_num_threads() -> int:
    """Threads BLIS and tokgeo's loops use now."""

def blis_info() -> dict[str, str | int]:
    """{"version": str, "arch": BLIS kernel set in use, "threads": int}."""

# ---------------------------------------------------------------- py_tokenizer.c
def _tok_load(vocab_path: str | bytes, merges_path: str | bytes, /) -> object:
    """Load encoder.json + vocab.bpe; returns an opaque tokenizer handle (a capsule)."""

def _tok_info(handle: object, /) -> tuple[int, int, list[tuple[bytes, int]]]:
    """(n_vocab, end-of-text id, [(special token bytes, id), ...])."""

def _tok_pre_tokenize(text: str, /) -> list[str]:
    """The GPT-2 pre-tokenizer's pieces of text, in order."""

@overload
def _tok_encode(handle: object, text: str, modes: bytes | None, offsets: Literal[False], /) -> list[int]: ...
@overload
def _tok_encode(handle: object, text: str, modes: bytes | None, offsets: Literal[True], /) -> tuple[_I64, _I64]: ...
@overload
def _tok_encode(handle: object, text: str, modes: bytes | None, offsets: bool, /) -> list[int] | tuple[_I64, _I64]:
    """Ids of text (modes: per-special allow bytes or None); with offsets: (ids [N], char offsets [N, 2])."""

def _tok_encode_batch(
    handle: object, texts: tuple[str, ...], modes: bytes | None, pad_id: int, pad_left: bool, offsets: bool, /
) -> tuple[_I64, NDArray[np.bool_], _I64, _I64 | None]:
    """(ids [B, T] padded with pad_id, mask [B, T], lengths [B], char offsets [B, T, 2] or None)."""

def _tok_decode_bytes(handle: object, ids: object, /) -> bytes:
    """Concatenated bytes of ids: a list of ints or a 1-D int64 array (else InvalidTypeError)."""

def _tok_token_bytes(handle: object, ids: object, /) -> list[bytes]:
    """The bytes of each id."""

def _tok_byte_level(handle: object, ids: object, /) -> list[str]:
    """Each id's token in GPT-2's byte-level alphabet (as in encoder.json)."""

def _tok_batch_offsets(handle: object, ids: _I64, lengths: _I64, pad_left: bool, /) -> _I64:
    """Char offsets [B, T, 2] of C-contiguous int64 ids [B, T] with lengths [B]; -1 on padding."""

# ---------------------------------------------------------------- py_model.c
class Arena:
    """The one buffer a forward pass wrote its captures into."""

    @property
    def nbytes(self) -> int:
        """Bytes owned by the arena."""
    def view(self, offset: int, shape: tuple[int, ...], strides: tuple[int, ...], /) -> _F32:
        """Read-only float32 view at byte offset with byte strides (bounds-checked)."""

class Model:
    """GPT-2 weights mapped from safetensors files."""

    def __new__(cls, config: _Config, paths: list[str], /) -> Model: ...
    @property
    def owned_bytes(self) -> int:
        """Bytes of weights converted or copied (not mapped)."""
    @property
    def lm_head_tied(self) -> bool:
        """True when the logits use wte."""
    def tensors(self) -> list[tuple[str, _F32, bool]]:
        """[(name, read-only float32 view, copied), ...] of every weight."""
    def plan(self, B: int, T: int, want: bytes, /) -> _Plan:
        """The capture plan for a [B, T] batch (want: one byte per capture row)."""
    def forward(
        self, ids: ArrayLike, start: ArrayLike, length: ArrayLike, want: bytes, budget: int = ..., /
    ) -> tuple[Arena | None, _Plan]:
        """Run ids [B, T] (rows start/length [B]); (None, plan) when over the byte budget."""

def release_cached_memory() -> int:
    """Free the pooled arena; returns its size in bytes."""

def pooled_bytes() -> int:
    """Bytes of the pooled arena (0 if none)."""

def time_products(config: _Config, B: int, T: int, with_logits: bool, /) -> float:
    """Seconds of the forward pass's matrix products alone (benchmark floor)."""

def softmax_rows(x: ArrayLike, /) -> _F32:
    """Stable softmax of each row of float32 x [R, V] -> [R, V]."""

def capture_table() -> tuple[tuple[str, int, bool, bool, tuple[str, ...], int, int, str], ...]:
    """The C capture table: (name, kind, per_block, transformer_lens, dim symbols, select axis, select index, what)."""

# ---------------------------------------------------------------- py_metrics.c
def _rowwise(op: int, a: ArrayLike, b: ArrayLike | None, /) -> tuple[_F64, int]:
    """Row metric op of a and b (None: a) over the last axis: (float64 [outer], rows of zero norm)."""

def _softmax(kind: int, x: ArrayLike, float32_out: bool, log_base: float, /) -> NDArray[Any]:
    """Softmax / log-softmax / entropy of kind over the last axis (float32 or float64)."""

def _cosine_matrix(a: ArrayLike, b: ArrayLike | None, float32_out: bool, /) -> tuple[NDArray[Any], int]:
    """(cosine matrix [Na, Nb] (b None: a with itself), rows of zero norm)."""

def _top_k(a: ArrayLike, b: ArrayLike | None, k: int, exclude_self: bool, /) -> tuple[_I64, _F64, int]:
    """(indices [Na, k], cosines [Na, k], rows of zero norm) of each row's k nearest by cosine."""

def _histogram(
    a: ArrayLike, b: ArrayLike | None, edges: ArrayLike, uniform: bool, exclude_diag: bool, /
) -> tuple[_I64, int]:
    """(counts [len(edges) - 1] of pairwise cosines, rows of zero norm)."""

def _ttest_ind(a: ArrayLike, b: ArrayLike, equal_var: bool, alt: int, omit: bool, /) -> tuple[_F64, _F64, _F64, _F64, _U8]:
    """Independent two-sample t-test over axis 0: (t, p, df, Cohen's d, flags), each [outer]."""

def _ttest_rel(a: ArrayLike, b: ArrayLike, alt: int, omit: bool, /) -> tuple[_F64, _F64, _F64, _F64, _U8]:
    """Paired t-test over axis 0: (t, p, df, Cohen's d, flags), each [outer]."""

def _ttest_1samp(a: ArrayLike, popmean: ArrayLike, alt: int, omit: bool, /) -> tuple[_F64, _F64, _F64, _F64, _U8]:
    """One-sample t-test over axis 0: (t, p, df, Cohen's d, flags), each [outer]."""

def _corr(method: int, x: ArrayLike, y: ArrayLike, alt: int, omit: bool, /) -> tuple[_F64, _F64, _U8]:
    """Pearson / Spearman correlation over axis 0: (r, p, flags), each [outer]."""

def _special(kind: int, a: ArrayLike, b: ArrayLike, x: ArrayLike, /) -> _F64:
    """Special function kind (t / beta distributions) elementwise over broadcast a, b, x."""

def _bench_sgemm(m: int, n: int, k: int, reps: int, /) -> float:
    """Seconds of reps float32 [m, k] @ [k, n] products (benchmark floor)."""

# ---------------------------------------------------------------- py_reduce.c
def _eigh(a: ArrayLike, /) -> tuple[_F64, _F64]:
    """Symmetric eigendecomposition: (eigenvalues ascending [n], eigenvectors as rows [n, n])."""

def _pca(
    x: ArrayLike, k: int, method: int, center: bool, seed: int, n_oversamples: int, n_iter: int, /
) -> tuple[_F64, _F64, _F64, float]:
    """(explained variance [k], components [k, D], mean [D], total variance) of x [N, D]."""

def _pca_transform(x: ArrayLike, mean: ArrayLike | None, components: ArrayLike, /) -> _F64:
    """(x [N, D] - mean [D]) @ components [k, D].T -> [N, k] (mean None: no centring)."""

def _tsne(
    x: ArrayLike,
    y0: ArrayLike,
    method: int,
    metric: int,
    perplexity: float,
    early_exaggeration: float,
    exaggeration_iter: int,
    learning_rate: float,
    max_iter: int,
    n_iter_without_progress: int,
    min_grad_norm: float,
    angle: float,
    approximate: int = 0,
    seed: int = 0,
    /,
) -> tuple[_F64, float, int]:
    """t-SNE of x [N, D] from y0 [N, dim] (method 0 exact, 1 Barnes-Hut, 2 FFT; metric 0
    Euclidean, 1 cosine; approximate 1: the approximate neighbour search seeded by seed):
    (embedding [N, dim], final KL divergence, last iteration index)."""

def _tsne_affinities(
    x: ArrayLike, method: int, metric: int, perplexity: float, approximate: int = 0, seed: int = 0, /
) -> tuple[_I64, _I64, _F64]:
    """Symmetric t-SNE affinities of x [N, D] as CSR: (indptr [N + 1], indices, values);
    approximate 1: neighbours from the approximate search seeded by seed."""

def _trustworthiness(x: ArrayLike, embedding: ArrayLike, k: int, /) -> float:
    """Trustworthiness in [0, 1] of embedding [N, d] of x [N, D] with k neighbours."""

# ---------------------------------------------------------------- py_safetensors.c
class SafetensorsHandle:
    """An open, fully validated safetensors file or buffer."""

    @property
    def path(self) -> str | None:
        """Path given to st_open, or None for a buffer."""
    @property
    def file_size(self) -> int:
        """Size of the file or buffer in bytes."""
    @property
    def count(self) -> int:
        """Number of tensors."""
    def tensors(self) -> list[tuple[str, str, tuple[int, ...], int, int]]:
        """[(name, dtype, shape, byte offset in the file, nbytes), ...] in file order."""
    def metadata(self) -> dict[str, str]:
        """The header's __metadata__ (empty if none)."""
    def view(self, name: str, /) -> NDArray[Any]:
        """Read-only ndarray over tensor name (no copy)."""

def st_open(path: str | bytes, /) -> SafetensorsHandle:
    """Map a safetensors file, validating the whole header."""

def st_open_buffer(buffer: bytes | bytearray | memoryview, /) -> SafetensorsHandle:
    """Open safetensors bytes held in memory, validating the whole header."""

# ---- the BPE trainer and tiktoken rank files (py_train.c) ----
def _bpe_new(vocab_size: int, min_frequency: int, specials: tuple[str, ...], threads: int, pattern: int, /) -> object:
    """A trainer handle (pattern 0: GPT-2's split, 1: cl100k's)."""
def _bpe_feed(handle: object, texts: list[str] | tuple[str, ...], /) -> None:
    """Count the pre-tokens of more texts (the GIL is released while counting)."""
def _bpe_feed_file(handle: object, path: str, /) -> None:
    """Count the pre-tokens of a UTF-8 file, one text per line, streamed."""
def _bpe_train(handle: object, /) -> None:
    """Run the merges up to the vocabulary size."""
def _bpe_result(handle: object, /) -> tuple[_I64, int, int]:
    """(merges [M, 5] int64 (left, right, new id, vocabulary size, count), distinct
    pre-tokens, all pre-tokens)."""
def _bpe_save(handle: object, dir: str, /) -> None:
    """Write vocab.json and merges.txt into dir atomically."""
def _bpe_tokenizer(handle: object, /) -> object:
    """A tokenizer handle (as _tok_load's) over the trained vocabulary."""
def _tok_load_tiktoken(path: str, specials: tuple[tuple[str, int], ...], pattern: int, /) -> object:
    """A tokenizer handle from a .tiktoken rank file (pattern 0: GPT-2's split, 1: cl100k's)."""
def _tok_pattern(handle: object, /) -> int:
    """The handle's split pattern (0: GPT-2, 1: cl100k)."""
def _pre_tokenize_pattern(text: str, pattern: int, /) -> list[str]:
    """The pre-tokens of text under a split pattern."""
def _tok_load_buffers(
    vocab: bytes, merges: bytes, pattern: int, rank_by_id: bool, vocab_name: str | None = None, merges_name: str | None = None, /
) -> object:
    """A tokenizer handle from vocab.json and merges.txt contents held in memory (names for messages)."""

# ---------------------------------------------------------------- py_wordpiece.c
def _wp_flags() -> tuple[int, int, int, int]:
    """Flag values for _wp_encode: (offsets, specials in text, add [CLS]/[SEP], words only)."""

def _wp_load(
    path: str | bytes, lowercase: bool, strip_accents: int, clean_text: bool, chinese_chars: bool, max_chars: int,
    unk: str, /,
) -> object:
    """WordPiece handle for a vocab.txt; strip_accents -1 (as lowercase) / 0 / 1; FormatError names the line."""

def _wp_info(handle: object, /) -> tuple[int, tuple[int, int, int, int, int]]:
    """(vocab_size, (unk, cls, sep, pad, mask) ids, -1 when absent)."""

def _wp_encode(handle: object, text: str, flags: int, /) -> tuple[_I64, _I64 | None]:
    """(ids [n], offsets [n, 2] in code points, or None without the offsets flag); with the words flag ids are -1 and offsets index _wp_normalize's text."""

def _wp_encode_batch(handle: object, texts: tuple[str, ...], flags: int, /) -> list[tuple[_I64, _I64 | None]]:
    """_wp_encode of each text (in parallel, GIL released)."""

def _wp_tokens(handle: object, ids: object, /) -> list[str]:
    """Token strings of ids (list of ints or 1-D int64 array); TokenIdError for an unknown id."""

def _wp_token_id(handle: object, token: str, /) -> int:
    """Id of token, -1 when it is not in the vocabulary."""

def _wp_normalize(handle: object, text: str, /) -> tuple[str, _I64]:
    """(BERT-normalised text, origins [len] int64: index in text of the character each came from)."""
