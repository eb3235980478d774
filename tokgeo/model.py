"""GPT-2 in fp32 with every internal activation available as a NumPy array.

The forward pass runs in C (BLIS for the matrix products, OpenMP for the rest) with the
GIL released, and equals Hugging Face ``transformers``' ``GPT2LMHeadModel`` (eager
attention, fp32): no LayerNorm folding, no weight centring, no BOS token added.

Quick start::

    import tokgeo
    model = tokgeo.GPT2.from_pretrained("gpt2")
    cache = model.run(["She gave her book away", "He kept it"], capture=["resid_post", "pattern", "logits"])
    cache["blocks.5.hook_resid_post"]        # [B, T, 768] float32, read-only
    cache.stack("resid_post")                # [12, B, T, 768], a view (no copy)
    cache.hidden_states                      # Hugging Face convention, see ActivationCache
    model.top_k("The capital of France is", k=5)

Weights
-------
The safetensors files are mapped read-only; ``model.W_E``, ``model.W_pos``,
``model.weights[...]`` and ``model.blocks[l].W_Q`` etc. are read-only views into the mapping
(they keep it alive after the model object is gone).  Copies are made only when they must
be: F16 / BF16 / F64 checkpoints are converted once to float32, and F32 tensors whose bytes
are not 4-byte aligned in the file are copied (``model.copied_bytes`` says how much).

``lm_head.weight``: GPT-2 ties the output matrix to ``wte``.  When a checkpoint stores
``lm_head.weight`` with the same values as ``wte`` it is treated as tied (``W_U`` is a view of
``wte``); when the values differ the model is untied and the logits use ``lm_head.weight``
(``model.lm_head_tied`` is then False).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, NamedTuple, Sequence, Union

import numpy as np

from . import _C
from ._util import format_bytes
from .errors import FormatError, InvalidInputError, InvalidTypeError, MemoryBudgetError, TokenIdError
from .hooks import CAPTURES, capture_flags

if TYPE_CHECKING:  # pragma: no cover
    from .cache import ActivationCache
    from . import hub

__all__ = ["GPT2", "GPT2Config", "TokenProb", "memory_budget_bytes", "release_cached_memory"]

_ACTIVATIONS = {"gelu_new": 0, "gelu_pytorch_tanh": 0, "gelu": 1, "relu": 2}


@dataclass(frozen=True)
class GPT2Config:
    """Shape and options of a GPT-2 model (the fields of Hugging Face's ``GPT2Config``).

    ``n_inner=None`` means ``4 * n_embd``.  ``n_ctx`` is the number of learned positions
    (``n_positions`` in Hugging Face).  Only the tanh GELU (``"gelu_new"``, GPT-2's own),
    exact ``"gelu"`` and ``"relu"`` activations are supported.
    """

    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    n_ctx: int = 1024
    vocab_size: int = 50257
    n_inner: int | None = None
    layer_norm_epsilon: float = 1e-5
    activation_function: str = "gelu_new"
    scale_attn_weights: bool = True
    scale_attn_by_inverse_layer_idx: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        limits = {"n_layer": 4096, "n_head": 65536, "n_embd": 1 << 24, "n_ctx": 1 << 24, "vocab_size": 1 << 31}
        for name, hi in limits.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 1 <= v <= hi:
                raise FormatError(f"GPT-2 config: {name} must be an integer in [1, {hi}], got {v!r}")
        if self.n_inner is not None and (
            isinstance(self.n_inner, bool)
            or not isinstance(self.n_inner, (int, np.integer))
            or not 1 <= self.n_inner <= (1 << 28)
        ):
            raise FormatError(f"GPT-2 config: n_inner must be a positive integer or null, got {self.n_inner!r}")
        if self.n_embd % self.n_head:
            raise FormatError(
                f"GPT-2 config: n_embd = {self.n_embd} is not divisible by n_head = {self.n_head} "
                "(each head gets n_embd / n_head dimensions)"
            )
        eps = self.layer_norm_epsilon
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (0 < float(eps) <= 1):
            raise FormatError(f"GPT-2 config: layer_norm_epsilon must be a number in (0, 1], got {eps!r}")
        if self.activation_function not in _ACTIVATIONS:
            raise FormatError(
                f"GPT-2 config: activation_function {self.activation_function!r} is not supported; "
                f"tokgeo runs {sorted(_ACTIVATIONS)}"
            )
        for name in ("scale_attn_weights", "scale_attn_by_inverse_layer_idx"):
            if not isinstance(getattr(self, name), bool):
                raise FormatError(f"GPT-2 config: {name} must be true or false, got {getattr(self, name)!r}")

    @property
    def d_head(self) -> int:
        """Dimensions per attention head (``n_embd // n_head``)."""
        return self.n_embd // self.n_head

    @property
    def d_mlp(self) -> int:
        """Width of the MLP hidden layer (``n_inner`` or ``4 * n_embd``)."""
        return self.n_inner if self.n_inner is not None else 4 * self.n_embd

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "GPT2Config":
        """Reads a Hugging Face ``config.json`` mapping.

        Required keys: ``n_layer``, ``n_head``, ``n_embd``, ``vocab_size`` and
        ``n_positions`` (or the older ``n_ctx``); the others take Hugging Face's defaults.
        Raises FormatError naming a missing or nonsensical key.
        """
        if not isinstance(d, Mapping):
            raise FormatError(f"GPT-2 config must be a JSON object, got {type(d).__name__}")
        mt = d.get("model_type", "gpt2")
        if mt != "gpt2":
            raise FormatError(f"config.json describes model_type {mt!r}; tokgeo.GPT2 reads GPT-2 checkpoints only")
        missing = [k for k in ("n_layer", "n_head", "n_embd", "vocab_size") if k not in d]
        if "n_positions" not in d and "n_ctx" not in d:
            missing.append("n_positions")
        if missing:
            raise FormatError(f"GPT-2 config is missing {', '.join(repr(k) for k in missing)}")
        known = {f.name for f in fields(cls)} | {"n_positions"}
        return cls(
            n_layer=d["n_layer"],
            n_head=d["n_head"],
            n_embd=d["n_embd"],
            n_ctx=d.get("n_positions", d.get("n_ctx")),
            vocab_size=d["vocab_size"],
            n_inner=d.get("n_inner"),
            layer_norm_epsilon=d.get("layer_norm_epsilon", 1e-5),
            activation_function=d.get("activation_function", "gelu_new"),
            scale_attn_weights=d.get("scale_attn_weights", True),
            scale_attn_by_inverse_layer_idx=d.get("scale_attn_by_inverse_layer_idx", False),
            extra={k: v for k, v in d.items() if k not in known},
        )

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> "GPT2Config":
        """Reads a ``config.json`` file (FormatError if it is not valid JSON)."""
        p = Path(path)
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise FormatError(f"{p}: not valid JSON ({e})") from None
        except UnicodeDecodeError as e:
            raise FormatError(f"{p}: not UTF-8 text ({e})") from None
        return cls.from_dict(d)

    def _c_tuple(self) -> tuple[Any, ...]:
        return (
            int(self.n_layer), int(self.n_head), int(self.n_embd), int(self.n_ctx), int(self.vocab_size),
            int(self.d_mlp), float(self.layer_norm_epsilon), _ACTIVATIONS[self.activation_function],
            bool(self.scale_attn_weights), bool(self.scale_attn_by_inverse_layer_idx),
        )


ConfigLike = Union[GPT2Config, Mapping[str, Any], str, "os.PathLike[str]"]


def _as_config(config: ConfigLike) -> GPT2Config:
    if isinstance(config, GPT2Config):
        return config
    if isinstance(config, Mapping):
        return GPT2Config.from_dict(config)
    if isinstance(config, (str, os.PathLike)):
        return GPT2Config.from_file(config)
    raise InvalidTypeError(f"config must be a GPT2Config, a dict or a path to config.json, got {type(config).__name__}")


def memory_budget_bytes() -> int:
    """The memory budget rule (the one place it is written): a run may use what the machine
    can hold now, ``MemAvailable`` from /proc/meminfo, else the free physical pages reported
    by ``sysconf``, else 4 GiB.  :meth:`GPT2.run` uses it (plus the pooled arena, which is
    reusable) unless given ``memory_budget``; the studies' chunks pass theirs through."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def release_cached_memory() -> int:
    """Returns to the OS the activation arena tokgeo keeps for reuse, and its size in bytes.

    When an :class:`ActivationCache` is freed, its arena (if at least 1 MiB and at most a
    quarter of the machine's memory) is kept for the next :meth:`GPT2.run` that fits in it,
    so a loop over batches does not pay the kernel's page zeroing on every run.  At most one
    arena is kept."""
    return int(_C.release_cached_memory())


class TokenProb(NamedTuple):
    """One candidate next token."""

    token: str
    id: int
    prob: float


class _Block:
    """Read-only weight views of one transformer block (no copies).

    TransformerLens-style names: ``W_Q``, ``W_K``, ``W_V`` ``[n_head, n_embd, d_head]``,
    ``b_Q`` ... ``[n_head, d_head]``, ``W_O`` ``[n_head, d_head, n_embd]``, ``b_O`` ``[n_embd]``,
    ``W_in`` ``[n_embd, d_mlp]``, ``b_in``, ``W_out`` ``[d_mlp, n_embd]``, ``b_out``,
    ``ln1_w``, ``ln1_b``, ``ln2_w``, ``ln2_b``; plus Hugging Face's fused ``W_qkv``
    ``[n_embd, 3 n_embd]`` and ``b_qkv`` (the Conv1D layout, y = x @ W + b).
    """

    def __init__(self, w: Mapping[str, np.ndarray], layer: int, cfg: GPT2Config) -> None:
        p = f"h.{layer}."
        C, H, D = cfg.n_embd, cfg.n_head, cfg.d_head
        self.W_qkv = w[p + "attn.c_attn.weight"]
        self.b_qkv = w[p + "attn.c_attn.bias"]
        self.W_Q, self.W_K, self.W_V = (
            self.W_qkv[:, i * C : (i + 1) * C].reshape(C, H, D).transpose(1, 0, 2) for i in range(3)
        )
        self.b_Q, self.b_K, self.b_V = (self.b_qkv[i * C : (i + 1) * C].reshape(H, D) for i in range(3))
        self.W_O = w[p + "attn.c_proj.weight"].reshape(H, D, C)
        self.b_O = w[p + "attn.c_proj.bias"]
        self.W_in = w[p + "mlp.c_fc.weight"]
        self.b_in = w[p + "mlp.c_fc.bias"]
        self.W_out = w[p + "mlp.c_proj.weight"]
        self.b_out = w[p + "mlp.c_proj.bias"]
        self.ln1_w, self.ln1_b = w[p + "ln_1.weight"], w[p + "ln_1.bias"]
        self.ln2_w, self.ln2_b = w[p + "ln_2.weight"], w[p + "ln_2.bias"]

    def __repr__(self) -> str:
        return f"<GPT-2 block weights W_Q {self.W_Q.shape}, W_in {self.W_in.shape}>"


class _Weights(Mapping[str, np.ndarray]):
    """Hugging Face tensor names (without ``transformer.``) -> read-only float32 views."""

    def __init__(self, items: dict[str, np.ndarray]) -> None:
        self._d = items

    def __getitem__(self, name: str) -> np.ndarray:
        key = name[len("transformer.") :] if name.startswith("transformer.") else name
        try:
            return self._d[key]
        except KeyError:
            raise KeyError(f"no weight named {name!r}; names look like 'h.0.attn.c_attn.weight'") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __repr__(self) -> str:
        return f"<GPT-2 weights: {len(self._d)} tensors>"


def _checkpoint_files(folder: Path) -> list[Path]:
    single = folder / "model.safetensors"
    index = folder / "model.safetensors.index.json"
    if single.is_file():
        return [single]
    if index.is_file():
        try:
            data = json.loads(index.read_text(encoding="utf-8"))
            wm = data["weight_map"]
            if not isinstance(wm, dict) or not all(isinstance(v, str) for v in wm.values()):
                raise TypeError("weight_map is not an object of file names")
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
            raise FormatError(f"{index}: not a valid safetensors index ({e})") from None
        names = sorted(set(wm.values()))
        files = []
        for n in names:
            p = (folder / n).resolve()
            if folder.resolve() not in p.parents:
                raise FormatError(f"{index}: shard {n!r} points outside the model folder")
            if not p.is_file():
                raise FormatError(f"{index}: shard {n!r} is missing from {folder}")
            files.append(p)
        if not files:
            raise FormatError(f"{index}: weight_map is empty")
        return files
    shards = sorted(folder.glob("model-*-of-*.safetensors"))
    if shards:
        return shards
    others = [p.name for p in folder.glob("*.bin")] + [p.name for p in folder.glob("*.h5")]
    hint = (
        f" (found {', '.join(others)}: tokgeo reads safetensors only; convert with "
        "`GPT2LMHeadModel.from_pretrained(folder).save_pretrained(folder)` in transformers)"
        if others
        else ""
    )
    raise FormatError(f"{folder}: no model.safetensors or model.safetensors.index.json{hint}")


class GPT2:
    """A GPT-2 model whose forward pass hands back every activation.

    Build it with :meth:`from_pretrained`.  Attributes:

    * ``config``: :class:`GPT2Config`
    * ``W_E`` ``[vocab, n_embd]`` token embedding, ``W_pos`` ``[n_ctx, n_embd]`` positions,
      ``W_U`` ``[n_embd, vocab]`` unembedding (a transposed view of ``wte`` when tied),
      ``ln_final_w``, ``ln_final_b`` ``[n_embd]``
    * ``blocks[l]``: per-block weight views (``W_Q``, ``W_K``, ``W_V``, ``W_O``, ``W_in``,
      ``W_out``, biases, LayerNorm parameters, and the fused ``W_qkv``)
    * ``weights``: mapping of Hugging Face names (``"h.0.attn.c_attn.weight"``) to views
    * ``tokenizer``: the model folder's tokenizer (loaded on first use)
    * ``name_or_path``: what the model was loaded from (read-only ``str``): the
      ``name_or_path`` given to :meth:`from_pretrained` (a hub name stays the name, e.g.
      ``"gpt2-xl"``), else the model folder; ``None`` if neither is known

    All weight arrays are read-only views into the mapped file.  If another process truncates
    the checkpoint while the model is open, :meth:`run` raises :class:`tokgeo.TokgeoIOError`
    naming the file (before or during the forward pass, never a crash); reading the weight
    arrays yourself after that crashes the process with SIGBUS, as NumPy reads them, not
    tokgeo (see :mod:`tokgeo.safetensors`).
    """

    def __init__(
        self,
        config: GPT2Config,
        files: Sequence[str | os.PathLike[str]],
        folder: Path | None = None,
        name_or_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.config = config
        self._folder = folder
        self._name_or_path: str | None = (
            os.fspath(name_or_path) if name_or_path is not None else (os.fspath(folder) if folder is not None else None)
        )
        self._tokenizer: Any = None
        self._resolved: Any = None  # hub.Resolved, set by from_pretrained
        paths = [os.fspath(f) for f in files]
        self._files = [Path(p) for p in paths]
        self._c = _C.Model(config._c_tuple(), paths)
        items = {name: arr for name, arr, _copied in self._c.tensors()}
        self.weights: Mapping[str, np.ndarray] = _Weights(items)
        self.W_E: np.ndarray = items["wte.weight"]
        self.W_pos: np.ndarray = items["wpe.weight"]
        self.W_U: np.ndarray = (items["wte.weight"] if self._c.lm_head_tied else items["lm_head.weight"]).T
        self.ln_final_w: np.ndarray = items["ln_f.weight"]
        self.ln_final_b: np.ndarray = items["ln_f.bias"]
        self.blocks: list[_Block] = [_Block(self.weights, l, config) for l in range(config.n_layer)]

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike[str],
        config: ConfigLike | None = None,
        **hub_kwargs: Any,
    ) -> "GPT2":
        """Loads a GPT-2 checkpoint.

        Args:
            name_or_path: a local Hugging Face model folder (``config.json`` plus
                ``model.safetensors``, or ``model.safetensors.index.json`` and its shards;
                ``vocab.json`` / ``merges.txt`` for the tokenizer), a single ``.safetensors``
                file (then give ``config``, or keep a ``config.json`` beside it), or a hub
                name (``"gpt2"``, ``"gpt2-xl"``, ``"openai-community/gpt2-medium"``) fetched
                through :func:`tokgeo.hub.resolve_model` (``hub_kwargs`` go there).
            config: overrides the folder's ``config.json``: a :class:`GPT2Config`, a dict
                in Hugging Face's format, or a path to a ``config.json``.

        Raises:
            FormatError: malformed config or checkpoint (the message names the tensor and
                the expected and actual shapes, or the bad config key).
            TokgeoIOError / HubError: the files cannot be read or fetched.
        """
        from . import hub  # packaged/local/hub naming rule; huggingface_hub is imported only for the hub

        resolved = hub.resolve(name_or_path, **hub_kwargs)
        p = resolved.path
        if p.is_dir():
            folder = p
            files = _checkpoint_files(p)
        elif p.is_file():
            folder = p.parent
            files = [p]
        else:
            raise FormatError(f"{p} is neither a model folder nor a .safetensors file")
        if config is None:
            cfg_path = folder / "config.json"
            if not cfg_path.is_file():
                raise FormatError(
                    f"no config.json in {folder}; pass config=GPT2Config(...), a dict or the path of a config.json"
                )
            cfg = GPT2Config.from_file(cfg_path)
        else:
            cfg = _as_config(config)
        model = cls(cfg, files, folder, name_or_path)
        model._resolved = resolved
        return model

    # ------------------------------------------------------------------ properties
    @property
    def name_or_path(self) -> str | None:
        """What the model was loaded from: the ``name_or_path`` string given to
        :meth:`from_pretrained` (hub name or local path, as given), else the model folder;
        ``None`` when built directly without a folder.  For provenance in saved results."""
        return self._name_or_path

    @property
    def resolved(self) -> "hub.Resolved":
        """Where the weights came from (:class:`tokgeo.hub.Resolved`): ``path`` (the folder
        or file read), ``source`` (``"hub"``, ``"packaged"`` or ``"local"``), ``commit`` (hub
        snapshots) and ``digest()`` (SHA-256 of the checkpoint, computed once: a few seconds
        per GB for a local folder, free for a hub snapshot).  For a model built directly
        from files, a ``"local"`` record of those files."""
        from . import hub

        if self._resolved is None:
            one = self._files[0] if len(self._files) == 1 else None
            if self._folder is not None and (one is None or one.name == hub.WEIGHTS and one.parent == self._folder):
                path = self._folder
            elif one is not None:
                path = one
            else:  # shards outside a folder with their index: no single path names them
                path = self._files[0].parent
            self._resolved = hub.Resolved(self._name_or_path or os.fspath(path), Path(path), "local")
        return self._resolved  # type: ignore[no-any-return]

    @property
    def lm_head_tied(self) -> bool:
        """True when the logits use ``wte`` (GPT-2's tied embedding)."""
        return bool(self._c.lm_head_tied)

    @property
    def copied_bytes(self) -> int:
        """Bytes of weights tokgeo had to convert or copy (0 for aligned F32 files)."""
        return int(self._c.owned_bytes)

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer: the folder's ``vocab.json`` + ``merges.txt`` when present,
        else GPT-2's own (bundled) tokenizer."""
        if self._tokenizer is None:
            from .tokenizer import Tokenizer  # lazy: the tokenizer part

            f = self._folder
            if f is not None and (f / "vocab.json").is_file() and (f / "merges.txt").is_file():
                self._tokenizer = Tokenizer.from_files(f / "vocab.json", f / "merges.txt")
            else:
                self._tokenizer = Tokenizer.gpt2()
        return self._tokenizer

    @tokenizer.setter
    def tokenizer(self, tok: Any) -> None:
        self._tokenizer = tok

    def __repr__(self) -> str:
        c = self.config
        return f"<tokgeo.GPT2 n_layer={c.n_layer} n_head={c.n_head} n_embd={c.n_embd} n_ctx={c.n_ctx} vocab={c.vocab_size}>"

    # ------------------------------------------------------------------ running
    def run(
        self,
        inputs: Any,
        capture: str | Iterable[str] = "all",
        layers: int | Iterable[int] | None = None,
        *,
        padding_side: str = "right",
        memory_budget: int | None = None,
    ) -> "ActivationCache":
        """Runs the model and returns the captured activations.

        Args:
            inputs: a string, a list of strings (tokenized with ``self.tokenizer`` and
                padded on ``padding_side``), a list of ints (one sequence), a list of
                token-id lists (padded on ``padding_side``), an integer array or tensor
                ``[T]`` / ``[B, T]`` (NumPy, torch, anything with ``__array__``; no padding),
                a dict with ``input_ids`` and optionally ``attention_mask`` (Hugging Face's
                ``BatchEncoding``), or an ``encode_batch`` result (a ``Batch`` with
                ``.ids [B, T]`` and ``.mask [B, T]``).  Ids must be integers (floats are
                refused, never truncated); ``bytes`` are refused (decode them first).
                No BOS token is added.
            capture: what to keep: TransformerLens hook names (``"blocks.3.attn.hook_q"``,
                ``"ln_final.hook_normalized"``, ``"logits"``), layer-less names
                (``"resid_post"``, ``"attn.hook_q"``, ``"hook_normalized"``, ``"pattern"``,
                ``"qkv"``), families (``"resid"``, ``"attn"``, ``"mlp"``, ``"ln1"``...),
                ``"hidden_states"`` (Hugging Face's, see :class:`ActivationCache`), ``"all"``,
                or a list of these (every spelling: :mod:`tokgeo.hooks`).  Nothing else is
                stored.
            layers: restricts layer-less patterns to these blocks (negative counts from the
                end).  Names with an explicit ``blocks.N.`` are kept as given.
            padding_side: for string inputs.
            memory_budget: bytes the run may use for captures plus working memory (default:
                what the machine has available, see :func:`memory_budget_bytes`).

        Padding never changes a real token's activations: a padded batch gives each
        sentence exactly what it gets alone.  With right padding the causal mask suffices;
        with left padding the pads are masked out of attention and real tokens' position
        ids start at 0.  Pads are not computed (padding costs no time): every capture holds
        0 at padded positions (for ``attn_scores`` / ``pattern``, the whole query row of a
        pad; a real token's masked keys stay ``-inf`` / 0).  Use ``cache.mask`` to select
        real tokens.

        Memory: the captures live in one arena of ``cache.nbytes`` bytes; the working
        memory that is not captured is a small scratch reused across blocks.  After the
        cache is freed, tokgeo keeps its arena for the next run (see
        :func:`release_cached_memory`).

        Raises:
            MemoryBudgetError: the captures would exceed the budget (the message lists
                the biggest ones and their sizes).
            TokenIdError: an id is outside the vocabulary (the message names it).
            InvalidTypeError: inputs of another type (the message names the bad element).
            InvalidInputError: longer than ``n_ctx``, empty, or a bad capture name.
            KeyboardInterrupt: Ctrl-C (checked between layers and inside attention).
            TokgeoIOError: the checkpoint file was truncated or rewritten in place by
                another process since it was loaded (the message names it; load it again).
        """
        from .cache import ActivationCache

        ids, start, length, mask, side, batch = self._prepare(inputs, padding_side)
        B, T = ids.shape
        if T > self.config.n_ctx:
            raise InvalidInputError(
                f"the input has {T} tokens but the model's context holds n_ctx = {self.config.n_ctx}; "
                "shorten or split the text"
            )
        want = capture_flags(capture, layers, self.config.n_layer)
        # the pooled arena (see release_cached_memory) is reusable, so it counts as available
        budget = memory_budget_bytes() + int(_C.pooled_bytes()) if memory_budget is None else int(memory_budget)
        # one plan: the C side makes it, checks it against the budget, then runs (or not)
        arena, plan = self._c.forward(ids, start, length, want, max(budget, 0))
        if arena is None:
            raise MemoryBudgetError(_budget_message(plan, B, T, budget, memory_budget is None))
        return ActivationCache(arena, plan, ids, mask, length, start, side, batch)

    def _prepare(self, inputs: Any, padding_side: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str, Any]:
        if padding_side not in ("right", "left"):
            raise InvalidInputError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
        if isinstance(inputs, str):
            inputs = [inputs]
        if isinstance(inputs, (bytes, bytearray, memoryview)):
            raise InvalidTypeError(
                f"inputs is {type(inputs).__name__}, not text: decode it first (data.decode('utf-8')); "
                "token ids go in a list of ints"
            )
        if isinstance(inputs, Mapping):  # a BatchEncoding-like dict
            if "input_ids" not in inputs:
                raise InvalidTypeError(f"a dict input needs 'input_ids' (and optionally 'attention_mask'), got keys {list(inputs)}")
            if inputs.get("attention_mask") is None:
                return self._prepare(_plain_ids(inputs["input_ids"]), padding_side)
            ids = _id_array(_plain_ids(inputs["input_ids"]), "input_ids")
            return _from_mask(ids, np.asarray(_plain_ids(inputs["attention_mask"])), None, None, "attention_mask")
        if hasattr(inputs, "ids") and hasattr(inputs, "mask"):  # a tokgeo Batch
            ids = _id_array(inputs.ids, "Batch.ids")
            return _from_mask(ids, np.asarray(inputs.mask), getattr(inputs, "padding_side", None), inputs, "Batch.mask")
        inputs = _plain_ids(inputs)
        if isinstance(inputs, np.ndarray):
            ids = _id_array(inputs[None, :] if inputs.ndim == 1 else inputs, "an id array")
            B, T = ids.shape
            return ids, np.zeros(B, np.int64), np.full(B, T, np.int64), np.ones((B, T), bool), "right", None
        if isinstance(inputs, Sequence) and len(inputs) > 0 and all(isinstance(t, str) for t in inputs):
            batch = self.tokenizer.encode_batch(list(inputs), padding_side=padding_side)
            return _from_mask(_id_array(batch.ids, "Batch.ids"), np.asarray(batch.mask), batch.padding_side, batch, "Batch.mask")
        if isinstance(inputs, Sequence) and len(inputs) > 0:
            # one sequence unless some element is itself a sequence (then a batch of them), so that
            # [1, 2.5] names inputs[1], the float, rather than calling the 1 a stray scalar
            flat = not any(isinstance(t, (Sequence, np.ndarray)) and not isinstance(t, (str, bytes)) for t in inputs)
            rows = [_id_row(inputs, "inputs")] if flat else [_id_row(r, f"inputs[{b}]") for b, r in enumerate(inputs)]
            B, T = len(rows), max(len(r) for r in rows)
            if T == 0:
                raise InvalidInputError("every sequence is empty; give at least one token")
            pad = 50256 if self.config.vocab_size > 50256 else 0
            ids = np.full((B, T), pad, np.int64)
            mask = np.zeros((B, T), bool)
            length = np.array([len(r) for r in rows], np.int64)
            start = np.zeros(B, np.int64) if padding_side == "right" else T - length
            for b, r in enumerate(rows):
                s = int(start[b])
                ids[b, s : s + len(r)] = r
                mask[b, s : s + len(r)] = True
            return ids, start, length, mask, padding_side, None
        raise InvalidTypeError(
            "inputs must be a string, a list of strings, token ids (a list of ints, a list of lists of ints, "
            "an integer array or tensor [B, T]), a dict with 'input_ids' (and 'attention_mask') or a "
            f"tokgeo Batch; got {type(inputs).__name__}" + (" (empty)" if hasattr(inputs, "__len__") and not len(inputs) else "")
        )

    def top_k(self, inputs: Any, k: int = 10, position: int = -1) -> list[TokenProb] | list[list[TokenProb]]:
        """The k most likely next tokens after ``position`` (default: the last real token).

        Returns a list of :class:`TokenProb` (token string from ``self.tokenizer``, id,
        probability) for one
        string or id list, a list of such lists for a batch.  Runs with only the logits
        captured.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InvalidInputError(f"k must be a positive integer, got {k!r}")
        single = isinstance(inputs, str) or (
            isinstance(inputs, Sequence) and len(inputs) > 0 and all(isinstance(t, (int, np.integer)) for t in inputs)
        )
        cache = self.run(inputs, capture="logits")
        ids, probs = cache.top_k(int(k), position)
        try:
            tok = self.tokenizer
        except ImportError:  # tokenizer part not installed: ids only
            tok = None
        out = []
        for b in range(ids.shape[0]):
            strs = tok.token_strings([int(i) for i in ids[b]]) if tok is not None else [f"<{int(i)}>" for i in ids[b]]
            out.append([TokenProb(s, int(i), float(p)) for s, i, p in zip(strs, ids[b], probs[b])])
        return out[0] if single else out


_INT64 = (-(1 << 63), (1 << 63) - 1)


def _is_int(t: Any) -> bool:
    return isinstance(t, (int, np.integer)) and not isinstance(t, (bool, np.bool_))


def _plain_ids(x: Any) -> Any:
    """Array-likes that are not lists (torch tensors, jax/cupy arrays...) -> ndarray, through
    ``.numpy()`` or ``__array__`` (no framework is imported)."""
    if isinstance(x, (np.ndarray, list, tuple, str, bytes)):
        return x
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # torch.Tensor (maybe on a GPU)
        return x.detach().cpu().numpy()
    if hasattr(x, "__array__"):
        return np.asarray(x)
    return x


def _id_array(x: Any, what: str) -> np.ndarray:
    """A [B, T] int64 array of ids from an integer array-like (never from floats)."""
    try:
        a = np.asarray(_plain_ids(x))
    except ValueError:  # ragged lists
        raise InvalidTypeError(f"{what} must be a rectangular [B, T] array of ids (rows of one length)") from None
    if a.dtype == object or not np.issubdtype(a.dtype, np.integer) or a.ndim != 2:
        raise InvalidTypeError(f"{what} must be integer token ids of shape [B, T], got {a.dtype} of shape {a.shape}")
    if a.size == 0:
        raise InvalidInputError(f"empty input of shape {a.shape}")
    if a.dtype == np.uint64 and int(a.max()) > _INT64[1]:
        b, t = np.unravel_index(int(a.argmax()), a.shape)
        raise TokenIdError(f"{what}[{b}, {t}] = {int(a[b, t])} is outside the vocabulary")
    return np.ascontiguousarray(a, dtype=np.int64)


def _id_row(r: Any, where: str) -> list[int]:
    """One sequence of ids -> list of ints; the error names the bad element."""
    r = _plain_ids(r)
    if isinstance(r, (str, bytes)) or not isinstance(r, (Sequence, np.ndarray)):
        raise InvalidTypeError(
            f"{where} is {type(r).__name__}: inputs must be strings, or token ids as lists of ints, not a mixture"
        )
    if isinstance(r, np.ndarray) and r.ndim != 1:
        raise InvalidTypeError(f"{where} is an array of shape {r.shape}: each sequence must be 1-D token ids")
    out = []
    for j, t in enumerate(r.tolist() if isinstance(r, np.ndarray) else r):
        if not _is_int(t):
            raise InvalidTypeError(
                f"{where}[{j}] is {type(t).__name__} {t!r}: token ids must be ints "
                "(a list of ints, or a list of lists of ints for a batch)"
            )
        if not _INT64[0] <= t <= _INT64[1]:
            raise TokenIdError(f"{where}[{j}] = {t} is outside the vocabulary")
        out.append(int(t))
    return out


def _from_mask(
    ids: np.ndarray, mask: np.ndarray, side: str | None, batch: Any, what: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str, Any]:
    """ids [B, T] + a mask of real tokens (one contiguous run per row) -> the run's layout."""
    if mask.shape != ids.shape:
        raise InvalidInputError(f"the ids {ids.shape} and {what} {mask.shape} must both be [B, T]")
    if mask.dtype != bool:
        if not np.isin(mask, (0, 1)).all():
            raise InvalidInputError(f"{what} must hold 0/1 (or booleans)")
        mask = mask.astype(bool)
    B, T = ids.shape
    length = mask.sum(axis=1).astype(np.int64)
    first = np.where(length > 0, mask.argmax(axis=1), 0).astype(np.int64)
    for b in range(B):
        if not mask[b, first[b] : first[b] + length[b]].all():
            raise InvalidInputError(f"{what} row {b} is not one contiguous run of real tokens")
    if side is None:
        side = "left" if np.any(first > 0) else "right"
    start = np.zeros(B, np.int64)
    if side == "right" and np.any(first > 0):
        raise InvalidInputError(f"{what} says padding_side='right' but a row starts with padding")
    if side == "left":
        start = T - length
        if np.any(first[length > 0] != start[length > 0]):
            raise InvalidInputError(f"{what} says padding_side='left' but a row ends with padding")
    return ids, start.astype(np.int64), length, mask, side, batch


def _budget_message(plan: Mapping[str, Any], B: int, T: int, budget: int, default: bool) -> str:
    need = plan["arena_bytes"] + plan["scratch_bytes"]
    sizes = []
    for k, cnt in enumerate(plan["count"]):
        if cnt:
            row = next(c for c in CAPTURES if c.kind == k and c.select_axis < 0)
            sizes.append((cnt * plan["layer_floats"][k] * 4, row.full_name(), cnt))
    sizes.sort(reverse=True)
    top = "; ".join(f"{n} ({c} layer{'s' if c > 1 else ''}): {format_bytes(s)}" for s, n, c in sizes[:4])
    where = "the memory available now (MemAvailable)" if default else "memory_budget"
    return (
        f"this run of a {B} x {T} batch needs {format_bytes(need)} ({format_bytes(plan['arena_bytes'])} of captures + "
        f"{format_bytes(plan['scratch_bytes'])} working memory) but {where} is {format_bytes(budget)}. "
        f"Biggest captures: {top}. Drop some (capture=[...]), keep fewer blocks (layers=[...]), "
        "or run a smaller batch / shorter texts."
    )

from ._dir import public_dir as _public_dir  # noqa: E402  (dir() shows __all__ only)

__dir__ = _public_dir(__name__)
