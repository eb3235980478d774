"""The ``tokgeo`` command line (also ``python -m tokgeo``).

::

    tokgeo tokenize "She gave her book away"
    tokgeo study rotation --model gpt2-xl --out results/rotation
    tokgeo study qkv --model /path/to/gpt2 --layer 6 --out results/qkv
    tokgeo study pathlength --model gpt2-large --out results/pathlength
    tokgeo study embedding --model gpt2 --out results/embedding
    tokgeo study rotation --sentences my_sentences.txt --target " him" --out results/him
    tokgeo tokens book --out results/book              # the tokenization lessons (no model)
    tokgeo tokens letters --words strawberry,raspberry --letter r --out results/letters

``study`` writes the figures (PNG, when matplotlib is installed), the numbers (CSV) and
``report.txt`` (the statistics and the provenance) into ``--out``.  Exit codes: 0 success,
1 an unexpected failure, 2 a problem with the arguments, the data or the model (the
message says what to change), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Sequence, TextIO

from ._util import atomic_write
from ._version import __version__

__all__ = ["main"]

STUDIES = ("rotation", "qkv", "pathlength", "embedding")
LESSON_MODELS = {"rotation": "gpt2-xl", "qkv": "gpt2", "pathlength": "gpt2-large", "embedding": "gpt2"}
# issue 11: the five further lessons
NEW_STUDIES = ("laminar", "prediction", "trajectories", "pos", "nouns-adjectives")
STUDIES = STUDIES + NEW_STUDIES  # type: ignore[assignment]
LESSON_MODELS.update({k: "gpt2" for k in NEW_STUDIES})
STUDIES = STUDIES + ("vocabulary",)  # type: ignore[assignment]
LESSON_MODELS["vocabulary"] = "gpt2"


class _UsageError(Exception):
    """A problem the user can fix; printed without a traceback, exit code 2."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tokgeo",
        description="The geometry of tokens inside GPT-2: tokenize text, run the course's lessons.",
    )
    p.add_argument("--version", action="version", version=f"tokgeo {__version__}")
    # --threads is accepted before or after the command (`tokgeo --threads 2 study ...` and
    # `tokgeo study ... --threads 2`); the subcommands' copy must not reset the global one.
    p.add_argument("--threads", type=_threads, default=None, help=_THREADS_HELP)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--threads", type=_threads, default=argparse.SUPPRESS, help=_THREADS_HELP)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("tokenize", parents=[common], help="show the GPT-2 tokens of a text with ids and character offsets")
    t.add_argument("text", help="the text (use quotes); '-' reads standard input")
    t.add_argument("--model", default=None, help="use this model's tokenizer (name or folder) instead of GPT-2's")
    t.add_argument("--json", action="store_true", help="print JSON instead of a table")
    t.add_argument("--special", choices=("error", "special", "text"), default="error",
                   help="special tokens such as <|endoftext|> in the text: an error (default), encoded as the "
                        "special token, or encoded as ordinary text")

    s = sub.add_parser(
        "study",
        parents=[common],
        help="run a lesson and write figures (PNG), numbers (CSV) and a report",
        description="Run one of the course's lessons. Default models are the lessons' own: "
        + ", ".join(f"{k}: {v}" for k, v in LESSON_MODELS.items()),
    )
    s.add_argument("name", choices=STUDIES, help="the lesson")
    s.add_argument("--model", default=None, help="model name (gpt2 ... gpt2-xl) or a local folder (default: the lesson's)")
    s.add_argument("--out", required=True, help="folder for the results (created if needed)")
    s.add_argument("--sentences", default=None,
                   help="a UTF-8 text file, one sentence per line (blank lines and lines starting with # are skipped); "
                        "default: the built-in 54 'her' sentences (pathlength: each line is one text; embedding: not used)")
    s.add_argument("--target", default=" her", help="target word or token id (rotation, qkv; default ' her')")
    s.add_argument("--lenient", action="store_true", help="drop sentences where the target is unusable instead of failing")
    s.add_argument("--ignore-case", action="store_true",
                   help="rotation, qkv, laminar: match the target word in any capitalisation (' her' and ' Her')")
    s.add_argument("--layer", type=int, default=None, help="block index (qkv: default 6; embedding: the attention map's block)")
    s.add_argument("--head", type=int, default=0, help="attention head for the embedding lesson's attention map")
    s.add_argument("--text", default=None, help="the text for pathlength or the sentence for embedding")
    s.add_argument("--convention", choices=("hidden_states", "resid"), default="hidden_states",
                   help="residual stream: Hugging Face hidden_states (default) or the raw residual stream")
    s.add_argument("--paired", action="store_true",
                   help="rotation: paired t-test of target vs previous word of the same sentence "
                        "(default: the course's independent two-sample t-test)")
    s.add_argument("--no-center", dest="center", action="store_false",
                   help="embedding: the lesson's uncentred Sigma = E^T E / N instead of the centred "
                        "sample covariance (mean removed, / (N-1); the default)")
    s.add_argument("--ddof", type=int, choices=(0, 1), default=None,
                   help="embedding: divide the covariance by N - ddof (default: 1 when centred, 0 with --no-center)")
    s.add_argument("--seed", type=int, default=0, help="random seed (rotation control, t-SNE)")
    s.add_argument("--batch-size", type=int, default=None, help="sentences per forward pass (default 16)")
    s.add_argument("--no-figures", action="store_true", help="write only the CSV files and the report")
    s.add_argument("--no-progress", action="store_true", help="do not show progress")
    s.add_argument("--dpi", type=int, default=120, help="resolution of the PNG figures")
    s.add_argument("--tags", default=None,
                   help="pos, nouns-adjectives: a UTF-8 file with one line of POS tags per sentence (one tag per word, "
                        "space separated) instead of spaCy")
    s.add_argument("--spacy-model", default="en_core_web_sm", help="pos, nouns-adjectives: the spaCy pipeline to load")
    s.add_argument("--memory-budget", type=int, default=None,
                   help="laminar, prediction, nouns-adjectives: bytes one forward pass may use (chunks are halved)")
    s.add_argument("--scheduler", default=None,
                   help="laminar, prediction, nouns-adjectives: a Dask scheduler address (tcp://host:8786) to run on")
    _tokens_parser(sub, common)
    return p


# issue 12: the tokenization module's lessons (tokenizers only, no model)
TOKEN_LESSONS = ("book", "lengths", "bpe-growth", "letters", "mapping", "languages", "preparation")


def _tokens_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    k = sub.add_parser(
        "tokens", parents=[common],
        help="run a tokenization lesson (no model) and write figures (PNG), numbers (CSV) and a report",
        description="The tokenization module's lessons: book (a text by characters, words, GPT-2, cl100k and a "
                    "trained BPE, with Zipf fits), lengths (token count by subword length), bpe-growth, letters "
                    "(counting letters through tokens), mapping (translating between two tokenizers), languages "
                    "(compression per language on a parallel text), preparation (normalisation). Default text: "
                    "Carroll's Alice (shipped); languages: spaCy's example sentences in 12 languages (shipped).")
    k.add_argument("lesson", choices=TOKEN_LESSONS, help="the lesson")
    k.add_argument("--out", required=True, help="folder for the results (created if needed)")
    k.add_argument("--text", default=None, help="a UTF-8 text file instead of the shipped book (languages: a TSV "
                                               "file 'language<TAB>sentence' per line)")
    k.add_argument("--tokenizers", default=None,
                   help="comma-separated names from characters, words, gpt2, cl100k, bpe, bert-base-uncased, bert-base-cased (BERT: vocab.txt from the hub) (default: the lesson's)")
    k.add_argument("--vocab-size", type=int, default=None,
                   help="bpe-growth: the desired vocabulary (default 2000); book: the trained BPE's (default 1000)")
    k.add_argument("--words", default=None, help="letters: comma-separated words (default strawberry and friends)")
    k.add_argument("--letter", default="r", help="letters: the letter to count (default r)")
    k.add_argument("--no-figures", action="store_true", help="write only the CSV files and the report")
    k.add_argument("--dpi", type=int, default=120, help="resolution of the PNG figures")


def _tokens(args: argparse.Namespace, out: TextIO) -> int:
    from .studies import tokenization as T
    from .studies.tokenization.letters import DEFAULT_WORDS as DEFAULT_LETTER_WORDS

    folder = Path(args.out).expanduser()
    _check_writable(folder)
    if args.dpi < 1:
        raise _UsageError(f"--dpi must be a positive integer, got {args.dpi}")
    names = [n.strip() for n in args.tokenizers.split(",") if n.strip()] if args.tokenizers else None
    kw: dict[str, Any] = {} if names is None else {"tokenizers": names}
    text = T.read_text_file(args.text) if args.text else None
    dataset: dict[str, Any] = {"dataset_name": Path(args.text).name} if args.text else {}
    lesson = args.lesson
    study: Any
    if lesson in ("book", "lengths"):
        if args.vocab_size is not None:
            kw["bpe_vocab_size"] = args.vocab_size
        study = (T.BookTokenization if lesson == "book" else T.SubwordLengths)(text, **kw, **dataset)
    elif lesson == "bpe-growth":
        study = T.BPEGrowth(text, 2000 if args.vocab_size is None else args.vocab_size, **dataset)
    elif lesson == "letters":
        words = [w for w in args.words.split(",") if w] if args.words else list(DEFAULT_LETTER_WORDS)
        study = T.LettersInTokens(words, args.letter, **kw)
    elif lesson == "mapping":
        study = T.TokenMapping(text, **kw, **dataset)
    elif lesson == "languages":
        par: Any = None
        if text is not None:
            par = {}
            for i, line in enumerate(text.splitlines(), 1):
                if not line.strip() or line.startswith("#"):
                    continue
                if "\t" not in line:
                    raise _UsageError(f"{args.text} line {i}: expected 'language<TAB>sentence'")
                lang, sent = line.split("\t", 1)
                par.setdefault(lang.strip(), []).append(sent)
        study = T.LanguageCompression(par, **kw, **dataset, **({"reference": next(iter(par))} if par else {}))
    else:
        study = T.TextPreparation(text, **kw, **dataset)
    figures = not args.no_figures
    if figures:
        try:
            import matplotlib

            if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
                matplotlib.use("Agg")
        except ImportError:
            out.write("note: matplotlib is not installed, so no figures are drawn (pip install matplotlib)\n")
            figures = False
    result = study.run()
    try:
        out.write(result.summary() + "\n\n")
    except BrokenPipeError:  # the reader left (`| head`): the results are still written
        _save(result, folder, figures, args.dpi)
        raise
    written = _save(result, folder, figures, args.dpi)
    out.write(f"wrote {len(written)} files to {folder}:\n")
    for p in written:
        out.write(f"  {p.name}\n")
    return 0


_THREADS_HELP = "threads for BLIS and tokgeo's loops (0 or leaving it out: all cores)"


def _threads(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number (0 = all cores), got {value!r}") from None
    if n < 0 or n > 4096:
        raise argparse.ArgumentTypeError(f"must be between 0 (all cores) and 4096, got {n}")
    return n


def _read_sentences(path: str) -> tuple[list[str], list[int]]:
    """The sentences of a file and the 1-based line number each came from.

    The file is UTF-8 (a byte-order mark at its start is dropped, as editors on Windows
    write one); blank lines and lines starting with ``#`` are skipped.
    """
    try:
        with open(path, encoding="utf-8-sig") as f:
            lines = [line.rstrip("\r\n") for line in f]
    except FileNotFoundError:
        raise _UsageError(f"--sentences: no such file: {path}") from None
    except UnicodeDecodeError as e:
        raise _UsageError(f"--sentences: {path} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise _UsageError(f"--sentences: cannot read {path}: {e.strerror}") from None
    kept = [(s.strip(), i + 1) for i, s in enumerate(lines) if s.strip() and not s.lstrip().startswith("#")]
    if not kept:
        raise _UsageError(f"--sentences: {path} holds no sentence (one per line)")
    return [s for s, _ in kept], [n for _, n in kept]


def _check_writable(folder: Path) -> None:
    """Refuse --out before any work is done when the folder cannot be written."""
    if folder.exists() and not folder.is_dir():
        raise _UsageError(f"--out {folder} exists and is not a folder; pass a folder path")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".tokgeo-write-check-"):
            pass
    except OSError as e:
        raise _UsageError(
            f"--out: cannot write into {folder} ({e.strerror or e}); nothing was run. "
            "Pass a folder you can write to, e.g. --out ~/tokgeo-results"
        ) from None


def _unusable_lines(e: Any, args: argparse.Namespace, line_numbers: list[int] | None) -> str:
    """The command line's version of a TargetNotFoundError: the file's line numbers and
    the flags that help, instead of list indices and keyword arguments."""
    if not e.problems or line_numbers is None and args.sentences:
        return str(e)
    where = f"of {args.sentences}" if args.sentences else "of the built-in sentences"
    lines = []
    for p in e.problems[:20]:
        at = f"line {line_numbers[p.index]}" if line_numbers is not None else f"sentence {p.index + 1}"
        lines.append(f"  {at}: {p.text!r}: {p.reason} ({p.detail})")
    if len(e.problems) > 20:
        lines.append(f"  ... and {len(e.problems) - 20} more")
    usable = e.n_sentences - len(e.problems)
    msg = (f"the target {args.target!r} is not usable in {len(e.problems)} of {e.n_sentences} sentences {where}:\n"
           + "\n".join(lines))
    if usable > 0 and not args.lenient:
        msg += "\nFix or remove these lines, or add --lenient to drop them (the run then lists their line numbers)."
    elif usable == 0:
        msg += "\nNo sentence is usable: check the target's spelling and case."
    if e.case_variants and not args.ignore_case:
        msg += (f"\nThe target occurs as {', '.join(map(repr, e.case_variants))}: add --ignore-case to match "
                "every capitalisation.")
    return msg


def _target(value: str) -> str | int:
    v = value.strip()
    if v.isdigit():
        return int(v)
    return value


def _load_model(name: str) -> Any:
    from .errors import HubError, TokgeoIOError
    from .model import GPT2

    try:
        return GPT2.from_pretrained(name)
    except (HubError, TokgeoIOError) as e:
        looks_local = os.sep in name or name.startswith(".") or os.path.exists(name)
        if looks_local:
            raise _UsageError(
                f"cannot load the model at {name!r}: {e}\n"
                "--model PATH must be a folder holding config.json and model.safetensors (or its shards); "
                "its vocab.json and merges.txt are used when present, GPT-2's tokenizer otherwise."
            ) from None
        raise _UsageError(
            f"cannot load the model {name!r}: it is not in the local cache and could not be downloaded.\n"
            f"  detail: {e}\n"
            "Pass --model PATH (a folder with config.json and model.safetensors); "
            "the message above says how to get one without network; offline, --model tokgeo-mini "
            "(a small trained GPT-2 shipped inside tokgeo) runs every lesson."
        ) from None


def _tokenize(args: argparse.Namespace, out: TextIO) -> int:
    from .tokenizer import Tokenizer

    text = sys.stdin.read() if args.text == "-" else args.text
    if args.model:
        try:
            tok = Tokenizer.from_pretrained(args.model)
        except OSError as e:
            raise _UsageError(f"cannot load the tokenizer of {args.model!r}: {e}\nPass --model PATH (a folder with vocab.json and merges.txt) or leave --model out for GPT-2's.") from None
    else:
        tok = Tokenizer.gpt2()
    if args.special == "special":
        ids, offsets = tok.encode_with_offsets(text, allowed_special="all")
    elif args.special == "text":
        ids, offsets = tok.encode_with_offsets(text, disallowed_special=())
    else:
        from .errors import SpecialTokenError

        try:
            ids, offsets = tok.encode_with_offsets(text)
        except SpecialTokenError as e:
            raise _UsageError(
                f"{e}\nOn the command line: --special special (encode it as the special token) or "
                "--special text (as ordinary text)."
            ) from None
    rows = [
        {"index": i, "id": int(t), "token": text[int(a):int(b)], "start": int(a), "end": int(b)}
        for i, (t, (a, b)) in enumerate(zip(ids, offsets))
    ]
    if args.json:
        json.dump(rows, out, ensure_ascii=False, indent=1)
        out.write("\n")
        return 0
    out.write(f"{len(rows)} tokens\n")
    out.write(f"{'index':>5}  {'id':>6}  {'start':>5}  {'end':>5}  token\n")
    for r in rows:
        out.write(f"{r['index']:>5}  {r['id']:>6}  {r['start']:>5}  {r['end']:>5}  {r['token']!r}\n")
    return 0


def _study(args: argparse.Namespace, out: TextIO) -> int:
    from . import studies
    from .errors import TargetNotFoundError

    name = args.name
    model_name = args.model or LESSON_MODELS[name]
    sentences, line_numbers = _read_sentences(args.sentences) if args.sentences else (None, None)
    dataset_name = Path(args.sentences).name if args.sentences else None
    for flag, v in (("--batch-size", args.batch_size), ("--dpi", args.dpi)):
        if v is not None and v < 1:
            raise _UsageError(f"{flag} must be a positive integer, got {v}")
    for flag, given, lesson in (("--paired", args.paired, "rotation"), ("--no-center", not args.center, "embedding"),
                                ("--ddof", args.ddof is not None, "embedding")):
        if given and name != lesson:
            raise _UsageError(f"{flag} belongs to the {lesson} lesson; `tokgeo study {name}` has no such option")
    folder = Path(args.out).expanduser()
    _check_writable(folder)  # before minutes of work, not after
    if sentences is not None and len(sentences) < 2 and name in ("rotation", "qkv"):
        out.write(f"warning: {args.sentences} holds one sentence: the per-layer t-tests need at least two "
                  "sentences per group, so t, p and d will be NaN\n")
    progress = False if args.no_progress else None
    figures = not args.no_figures
    if figures:
        try:
            import matplotlib

            if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
                matplotlib.use("Agg")  # the command line only writes files
        except ImportError:
            out.write("note: matplotlib is not installed, so no figures are drawn (pip install matplotlib)\n")
            figures = False
    model = _load_model(model_name)
    study: Any
    if name == "rotation":
        study = studies.Rotation(model, sentences, _target(args.target), convention=args.convention, seed=args.seed,
                                 batch_size=args.batch_size, strict=not args.lenient,
                                 case_sensitive=not args.ignore_case, progress=progress,
                                 dataset_name=dataset_name, paired=args.paired)
    elif name == "qkv":
        study = studies.QKVSimilarity(model, sentences, _target(args.target), layer=6 if args.layer is None else args.layer,
                                      batch_size=args.batch_size, strict=not args.lenient,
                                      case_sensitive=not args.ignore_case, progress=progress,
                                      dataset_name=dataset_name)
    elif name == "pathlength":
        text: Any = args.text if args.text is not None else sentences
        study = studies.PathLength(model, text, convention=args.convention, batch_size=args.batch_size,
                                   progress=progress, dataset_name=dataset_name)
    elif name in NEW_STUDIES:
        study = _new_study(studies, name, model, args, sentences, dataset_name, progress)
    elif name == "vocabulary":
        if args.sentences or args.text is not None:
            raise _UsageError("`tokgeo study vocabulary` maps the model's whole embedding matrix; it takes no "
                              "--sentences or --text")
        study = studies.VocabularyMap(model, seed=args.seed)
    else:
        kw: dict[str, Any] = {}
        if args.text is not None:
            kw["sentence"] = args.text
        study = studies.EmbeddingGeometry(model, layer=args.layer, head=args.head, convention=args.convention,
                                          seed=args.seed, progress=progress, center=args.center, ddof=args.ddof, **kw)
    try:
        result = study.run()
    except TargetNotFoundError as e:
        raise _UsageError(_unusable_lines(e, args, line_numbers)) from None
    dropped = result.provenance.parameters.get("dropped") if hasattr(result.provenance, "parameters") else None
    if dropped and line_numbers is not None:
        lines = ", ".join(str(line_numbers[i]) for i in dropped if 0 <= i < len(line_numbers))
        out.write(f"note: --lenient dropped {len(dropped)} sentence(s) of {args.sentences}, at line(s) {lines}\n")
    # The result is computed: print it before anything can fail, then write the files.
    try:
        out.write(result.summary() + "\n\n")
    except BrokenPipeError:  # the reader left (`| head`): the results are still written
        _save(result, folder, figures, args.dpi)
        raise
    try:
        written = _save(result, folder, figures, args.dpi)
    except OSError as e:
        fallback = Path(tempfile.mkdtemp(prefix="tokgeo-results-"))
        written = _save(result, fallback, figures, args.dpi)
        sys.stderr.write(
            f"tokgeo: error: could not write into {folder} ({e.strerror or e}); the results were written to "
            f"{fallback} instead\n"
        )
        folder = fallback
        status = 2
    else:
        status = 0
    out.write(f"wrote {len(written)} files to {folder}:\n")
    for p in written:
        out.write(f"  {p.name}\n")
    return status


def _save(result: Any, folder: Path, figures: bool, dpi: int) -> list[Path]:
    written: list[Path] = result.save(folder, figures=figures, dpi=dpi)
    prov = folder / "provenance.json"
    with atomic_write(prov) as f:
        f.write(json.dumps(result.provenance.as_dict(), indent=1, default=str) + "\n")
    written.append(prov)
    return written


def _new_study(studies: Any, name: str, model: Any, args: argparse.Namespace, sentences: list[str] | None,
               dataset_name: str | None, progress: bool | None) -> Any:
    """The issue-11 lessons: laminar, prediction, trajectories, pos, nouns-adjectives."""
    texts: Any = [args.text] if args.text is not None else sentences
    tags = None
    if args.tags:
        tags = [line.split() for line in _read_sentences(args.tags)[0]]
    client = None
    if args.scheduler:
        try:
            from dask.distributed import Client
        except ImportError:
            raise _UsageError("--scheduler needs Dask: pip install 'dask[distributed]' (or 'tokgeo[dask]')") from None
        client = Client(args.scheduler)  # type: ignore[no-untyped-call]
    run = dict(batch_size=args.batch_size, progress=progress, dataset_name=dataset_name)
    if name == "laminar":
        return studies.Laminar(model, texts, target=args.target.strip() or "her", case_sensitive=not args.ignore_case,
                               convention=args.convention,
                               memory_budget=args.memory_budget, client=client, **run)
    if name == "prediction":
        return studies.PathPrediction(model, texts, convention=args.convention, memory_budget=args.memory_budget,
                                      client=client, **run)
    if name == "trajectories":
        return studies.Trajectories(model, texts, convention=args.convention, progress=progress,
                                    dataset_name=dataset_name)
    if name == "pos":
        return studies.PartsOfSpeech(model, texts, tags=tags, spacy_model=args.spacy_model, dataset_name=dataset_name)
    return studies.NounsAdjectives(model, texts, tags=tags, spacy_model=args.spacy_model, convention=args.convention,
                                   memory_budget=args.memory_budget, client=client, strict=not args.lenient, **run)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    with warnings.catch_warnings():  # restores the caller's warning display (tests call main())
        warnings.showwarning = _show_warning
        return _main(args)


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    """Warnings on the command line: one line, no source code quoted."""
    (file or sys.stderr).write(f"tokgeo: warning: {message}\n")


def _main(args: argparse.Namespace) -> int:
    from .errors import TokgeoError

    try:
        if args.threads is not None:
            from . import set_num_threads

            set_num_threads(args.threads)
        if args.command == "tokenize":
            return _tokenize(args, sys.stdout)
        if args.command == "tokens":
            return _tokens(args, sys.stdout)
        return _study(args, sys.stdout)
    except _UsageError as e:
        sys.stderr.write(f"tokgeo: error: {e}\n")
        return 2
    except TokgeoError as e:
        # bad data, a model that does not fit in memory, a malformed file...
        sys.stderr.write(f"tokgeo: error: {e}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("tokgeo: interrupted\n")
        return 130
    except BrokenPipeError:
        # the output's reader has gone (`tokgeo ... | head`): stop quietly, as other Unix tools do
        # (stdout goes to /dev/null so that the interpreter's final flush cannot fail again)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
