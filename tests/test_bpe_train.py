"""The BPE trainer (tokgeo.train_bpe) against Hugging Face tokenizers' BpeTrainer and the
slow Python twin (tests/bpe_train_reference.py).

The reference setting: ``BpeTrainer(vocab_size, min_frequency, special_tokens,
initial_alphabet=ByteLevel.alphabet())`` with ``ByteLevel(add_prefix_space=False)``.
Its tie-break (equal counts: the smaller (left id, right id) first) is the one tokgeo
documents, so the merges, and even the saved files, are equal byte for byte; there is no
known difference.  What would differ without ``initial_alphabet``: tokenizers would then
give ids only to the bytes seen in the corpus, so ids (and with them the tie-break order)
shift -- ``test_without_initial_alphabet_ids_differ`` shows it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokgeo
from tokgeo.errors import InvalidInputError, InvalidTypeError, TextEncodingError, TokgeoIOError

import bpe_train_reference as twin

ROOT = Path(__file__).resolve().parents[1]

MULTI = [
    "Tiếng Việt là ngôn ngữ chính thức của Việt Nam.",
    "中华人民共和国成立于1949年。我们的藏书有三千册，她把书给了他。",
    "Она отдала свою книгу брату. Ёлка, щи — 123 руб.",
    "😀 👍🏽 👨‍👩‍👧‍👦 🇫🇷🇯🇵 I'm sure you'll see we've, they're, she'd",
    "  \n\n\t x  y\r\n",
]


def corpus_lines() -> list[str]:
    """Real text: the repository's README and Python sources, line by line."""
    files = [ROOT / "README.md", *sorted((ROOT / "tokgeo").glob("*.py"))]
    lines: list[str] = []
    for p in files:
        lines.extend(p.read_text(encoding="utf-8").splitlines(keepends=True))
    return lines + MULTI * 5


def hf_train(texts, vocab_size, specials=(), min_frequency=2, alphabet=True, files=None):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    kw = {"initial_alphabet": pre_tokenizers.ByteLevel.alphabet()} if alphabet else {}
    tr = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=list(specials), show_progress=False, **kw
    )
    if files is not None:
        tk.train(files, tr)
    else:
        tk.train_from_iterator(texts, tr)
    return tk


def hf_files(tk, tmp: Path) -> tuple[bytes, bytes]:  # type: ignore[no-untyped-def]
    tmp.mkdir(parents=True, exist_ok=True)
    tk.model.save(str(tmp))
    return (tmp / "vocab.json").read_bytes(), (tmp / "merges.txt").read_bytes()


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return corpus_lines()


@pytest.mark.parametrize(
    "vocab_size,specials,min_frequency,threads",
    [(300, (), 2, 1), (1000, (), 2, 2), (2000, ("<|endoftext|>", "[PAD]"), 2, 2), (1500, (), 1, 1), (800, ("<s>",), 5, 2)],
)
def test_files_equal_hf(tmp_path: Path, lines: list[str], vocab_size: int, specials: tuple[str, ...],
                        min_frequency: int, threads: int) -> None:
    tok = tokgeo.train_bpe(lines, vocab_size, special_tokens=specials, min_frequency=min_frequency,
                           out_dir=tmp_path / "ours", threads=threads)
    hv, hm = hf_files(hf_train(lines, vocab_size, specials, min_frequency), tmp_path / "hf")
    assert tok.vocab_path is not None and tok.merges_path is not None
    assert tok.merges_path.read_bytes() == hm
    assert tok.vocab_path.read_bytes() == hv
    assert tok.n_vocab == len(json.loads(hv))


def test_file_input_equals_hf_train_from_files(tmp_path: Path, lines: list[str]) -> None:
    f = tmp_path / "corpus.txt"
    f.write_text("".join(lines), encoding="utf-8")
    tok = tokgeo.train_bpe(f, 1200, out_dir=tmp_path / "ours")
    hv, hm = hf_files(hf_train(None, 1200, files=[str(f)]), tmp_path / "hf")
    assert tok.merges_path is not None and tok.merges_path.read_bytes() == hm
    assert tok.vocab_path is not None and tok.vocab_path.read_bytes() == hv
    # a file is its lines: the same as the list of lines, and as an iterator of them
    a = tokgeo.train_bpe(iter(lines), 1200, record_merges=True)
    b = tokgeo.train_bpe(f, 1200, record_merges=True)
    assert a.merge_log is not None and b.merge_log is not None
    assert np.array_equal(a.merge_log.new_id, b.merge_log.new_id)
    assert a.merge_log.tokens == b.merge_log.tokens


def test_tokenizers_load_and_encode_alike(tmp_path: Path, lines: list[str]) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    tok = tokgeo.train_bpe(lines, 1500, out_dir=tmp_path)
    again = tokgeo.Tokenizer.from_files(tmp_path / "vocab.json", tmp_path / "merges.txt")
    hf = Tokenizer(models.BPE.from_file(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt")))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    texts = MULTI + lines[:200] + ["".join(lines[200:400])]
    for text in texts:
        ids = tok.encode_ordinary(text)
        assert ids == again.encode_ordinary(text) == hf.encode(text).ids, text
        assert tok.decode(ids) == text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.text(alphabet="ab c\n'éd!1", min_size=0, max_size=30), min_size=1, max_size=25),
    st.integers(min_value=256, max_value=330),
    st.integers(min_value=0, max_value=3),
)
def test_generated_corpora_equal_hf_and_twin(texts: list[str], vocab_size: int, min_frequency: int) -> None:
    """Small alphabets make many ties: the tie-break decides most merges here."""
    if not any(texts):
        return
    tok = tokgeo.train_bpe(texts, vocab_size, min_frequency=min_frequency, record_merges=True, threads=2)
    log = tok.merge_log
    assert log is not None
    vocab, merges = twin.train(texts, vocab_size, min_frequency=min_frequency)
    assert [(int(a), int(b), int(m), int(c)) for a, b, m, c in
            zip(log.left, log.right, log.new_id, log.count)] == merges
    hf = hf_train(texts, vocab_size, min_frequency=min_frequency)
    hf_vocab = hf.get_vocab()
    assert tok.n_vocab == len(hf_vocab) == len(vocab)


def test_twin_agrees_on_real_text(lines: list[str]) -> None:
    small = lines[:300]
    tok = tokgeo.train_bpe(small, 700, special_tokens=["<|endoftext|>"], record_merges=True)
    _, merges = twin.train(small, 700, special_tokens=["<|endoftext|>"])
    log = tok.merge_log
    assert log is not None
    assert list(zip(log.left.tolist(), log.right.tolist(), log.new_id.tolist(), log.count.tolist())) == merges


def test_merge_log(lines: list[str]) -> None:
    tok = tokgeo.train_bpe(lines, 900, special_tokens=["<|endoftext|>"], record_merges=True)
    log = tok.merge_log
    assert log is not None and len(log) > 0
    assert np.all(np.diff(log.count) <= 0)  # the best count never grows
    assert log.vocab_size[-1] == tok.n_vocab == 900
    assert np.all(np.diff(log.vocab_size) >= 0) and log.vocab_size[0] == 258
    for i in range(len(log)):
        assert tok.token_bytes([int(log.new_id[i])])[0] == b"".join(
            tok.token_bytes([int(log.left[i]), int(log.right[i])]))
    assert tok.special_tokens == {"<|endoftext|>": 0}
    assert tokgeo.train_bpe(lines[:50], 300).merge_log is None


def test_threads_do_not_change_the_result(lines: list[str]) -> None:
    a = tokgeo.train_bpe(lines, 1500, threads=1, record_merges=True)
    b = tokgeo.train_bpe(lines, 1500, threads=2, record_merges=True)
    assert a.merge_log is not None and b.merge_log is not None
    assert a.merge_log.tokens == b.merge_log.tokens
    assert np.array_equal(a.merge_log.count, b.merge_log.count)


CHUNK = 64 << 10  # FILE_CHUNK_MIN in bpe_train.c: a file of a few MB is read in chunks of this size


def chunk_edge_corpus(rng: np.random.Generator) -> bytes:
    """About 750 KB of lines placed around the chunk boundaries the 2- and 3-thread reads use: a
    line starting exactly at one, a newline just past one, a line longer than two chunks, a
    two-byte character across one, CRLF and empty lines, and a last line without a newline."""
    words = ["the", " quick", " brown", " fox", " é", " Việt", " 中文", " книга", " 😀", " 123", "\t", "  "]
    out = bytearray()

    def fill_to(end: int) -> None:  # short lines, then one line whose "\n" is the byte at end - 1
        while len(out) < end - 80:
            out.extend(("".join(rng.choice(words, rng.integers(1, 12))) + rng.choice(["\n", "\r\n", "\n\n"])).encode())
        out.extend(b"x" * (end - 1 - len(out)) + b"\n")

    fill_to(CHUNK)                      # a line starts exactly at chunk 1
    fill_to(2 * CHUNK + 1)              # the "\n" is the first byte of chunk 2
    out.extend((" spans" * (CHUNK * 5 // 12)).encode() + b"\n")  # over chunks 3 and 4 (no line starts there)
    fill_to(5 * CHUNK)
    out[-1:] = "é".encode()             # 2 bytes across the start of chunk 5
    out.extend(b" tail\n")
    fill_to(11 * CHUNK + 1234)
    out.extend(" last line, no newline".encode())
    assert out[CHUNK - 1] == out[2 * CHUNK] == ord("\n") and out[2 * CHUNK - 1] != ord("\n")
    assert b"\n" not in out[3 * CHUNK - 1 : 4 * CHUNK + 1] and out[5 * CHUNK - 1 : 5 * CHUNK + 1] == "é".encode()
    return bytes(out)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_file_chunks_count_every_line_once(tmp_path: Path, threads: int) -> None:
    """A regular file is read in chunks by several threads; each line belongs to the chunk it
    starts in.  Training on the file must equal training on its lines as texts."""
    data = chunk_edge_corpus(np.random.default_rng(7))
    f = tmp_path / "edges.txt"
    f.write_bytes(data)
    texts = data.decode("utf-8").splitlines(keepends=True)
    ref = tokgeo.train_bpe(texts, 900, threads=1, record_merges=True)
    got = tokgeo.train_bpe(f, 900, threads=threads, record_merges=True)
    assert (got.n_words, got.n_pretokens) == (ref.n_words, ref.n_pretokens)
    assert got.merge_log is not None and ref.merge_log is not None
    assert got.merge_log.tokens == ref.merge_log.tokens
    assert np.array_equal(got.merge_log.count, ref.merge_log.count)


def test_pipe_is_read_like_a_file(tmp_path: Path) -> None:
    """A FIFO (not a regular file) goes through the block-by-block reader: same result, and a
    bad byte is still named by line and offset."""
    import threading

    data = chunk_edge_corpus(np.random.default_rng(8))
    f = tmp_path / "edges.txt"
    f.write_bytes(data)
    ref = tokgeo.train_bpe(f, 700, threads=2, record_merges=True)

    def through_fifo(payload: bytes, **kw):  # type: ignore[no-untyped-def]
        fifo = tmp_path / "corpus.fifo"
        if fifo.exists():
            fifo.unlink()
        os.mkfifo(fifo)
        writer = threading.Thread(target=fifo.write_bytes, args=(payload,))
        writer.start()
        try:
            return tokgeo.train_bpe(fifo, 700, record_merges=True, **kw)
        finally:
            writer.join(timeout=60)

    got = through_fifo(data, threads=2)
    assert got.merge_log is not None and ref.merge_log is not None
    assert (got.n_words, got.n_pretokens) == (ref.n_words, ref.n_pretokens)
    assert got.merge_log.tokens == ref.merge_log.tokens
    bad = data[: 9 * CHUNK] + b"\xff" + data[9 * CHUNK :]
    line = bad[: 9 * CHUNK].count(b"\n") + 1
    with pytest.raises(TextEncodingError, match=f"line {line}, byte offset {9 * CHUNK}"):
        through_fifo(bad, threads=2)


@pytest.mark.parametrize("where", [CHUNK, 3 * CHUNK + 77, 5 * CHUNK])
def test_bad_byte_near_a_chunk_boundary_is_named(tmp_path: Path, where: int) -> None:
    """The first bad byte is reported by its line and offset wherever the chunks fall: at a
    chunk's first byte, inside the line that spans chunks 3 and 4, inside the character that
    straddles chunk 5; a second bad byte later in the file does not win."""
    data = bytearray(chunk_edge_corpus(np.random.default_rng(7)))
    data[where] = 0xFF
    data[10 * CHUNK] = 0xFE
    f = tmp_path / "bad.txt"
    f.write_bytes(bytes(data))
    with pytest.raises(UnicodeDecodeError) as python_says:
        bytes(data).decode("utf-8")
    first = python_says.value.start  # where (5 * CHUNK: the lead byte before it)
    assert first == (where - 1 if where == 5 * CHUNK else where)
    line = data[:first].count(b"\n") + 1
    for threads in (1, 2, 3):
        with pytest.raises(TextEncodingError, match=f"bad.txt is not valid UTF-8: line {line}, byte offset {first};"):
            tokgeo.train_bpe(f, 300, threads=threads)


def test_without_initial_alphabet_ids_differ(lines: list[str]) -> None:
    """tokenizers without initial_alphabet numbers only the bytes it saw: other ids, so
    (through the tie-break) possibly other merges.  tokgeo always has all 256 bytes, as
    GPT-2 has (and its loader needs)."""
    hf = hf_train(lines[:100], 400, alphabet=False)
    assert len([t for t in hf.get_vocab() if len(t) == 1]) < 256
    tok = tokgeo.train_bpe(lines[:100], 400)
    assert all(tok.token_bytes([i])[0] == bytes([b]) for i, b in [(0, 0x21)])


def test_cl100k_pattern_training(lines: list[str]) -> None:
    """Training with GPT-4's split: the twin with tiktoken's cl100k pattern agrees."""
    from tiktoken_cl100k import CL100K_PATTERN

    small = lines[:200]
    tok = tokgeo.train_bpe(small, 600, pattern="cl100k", record_merges=True)
    _, merges = twin.train(small, 600, pattern=CL100K_PATTERN)
    log = tok.merge_log
    assert log is not None
    assert list(zip(log.left.tolist(), log.right.tolist(), log.new_id.tolist(), log.count.tolist())) == merges


# ---------------------------------------------------------------- bad input

def test_empty_corpus(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for corpus in ([], [""], iter([])):
        with pytest.raises(InvalidInputError, match="corpus is empty"):
            tokgeo.train_bpe(corpus, 300, out_dir=out)
    f = tmp_path / "empty.txt"
    f.write_bytes(b"")
    with pytest.raises(InvalidInputError, match="corpus is empty"):
        tokgeo.train_bpe(f, 300, out_dir=out)
    assert not out.exists() or list(out.iterdir()) == []


def test_vocab_size_too_small() -> None:
    with pytest.raises(InvalidInputError, match="256 bytes"):
        tokgeo.train_bpe(["abc"], 255)
    with pytest.raises(InvalidInputError, match="2 special tokens"):
        tokgeo.train_bpe(["abc"], 257, special_tokens=["<a>", "<b>"])
    tok = tokgeo.train_bpe(["abc abc"], 258, special_tokens=["<a>", "<b>"])
    assert tok.n_vocab == 258


def test_not_utf8_file(tmp_path: Path) -> None:
    f = tmp_path / "latin1.txt"
    f.write_bytes(b"hello world\nsecond line\ncaf\xe9 au lait\n")
    out = tmp_path / "out"
    with pytest.raises(TextEncodingError, match=r"latin1.txt is not valid UTF-8: line 3, byte offset 27"):
        tokgeo.train_bpe(f, 300, out_dir=out)
    assert not out.exists() or list(out.iterdir()) == []
    # deep inside a large file, past the first block and split between threads
    big = tmp_path / "big.txt"
    good = "the quick brown fox jumps over the lazy dog\n" * 400_000
    big.write_bytes(good.encode() + b"\xff\xfe\n")
    with pytest.raises(TextEncodingError, match=f"line {400_001}, byte offset {len(good)}"):
        tokgeo.train_bpe(big, 300, threads=2)


def test_bad_texts_and_arguments(tmp_path: Path) -> None:
    with pytest.raises(TextEncodingError, match=r"texts\[1\] has the code point U\+D800 at index 2"):
        tokgeo.train_bpe(["fine", "ab\ud800"], 300)
    with pytest.raises(InvalidTypeError, match="must be str"):
        tokgeo.train_bpe(["a", 3], 300)  # type: ignore[list-item]
    with pytest.raises(InvalidTypeError, match="special_tokens"):
        tokgeo.train_bpe(["a"], 300, special_tokens="<s>")
    with pytest.raises(InvalidInputError, match="byte-level alphabet"):
        tokgeo.train_bpe(["a"], 300, special_tokens=["<my token>"])
    with pytest.raises(InvalidInputError, match="given twice"):
        tokgeo.train_bpe(["a"], 300, special_tokens=["<s>", "<s>"])
    with pytest.raises(TokgeoIOError, match="cannot open"):
        tokgeo.train_bpe(tmp_path / "missing.txt", 300)
    with pytest.raises(InvalidInputError, match="pattern"):
        tokgeo.train_bpe(["a"], 300, pattern="gpt5")


def test_existing_files_survive_a_failed_training(tmp_path: Path) -> None:
    tokgeo.train_bpe(["hello hello world"], 270, out_dir=tmp_path)
    before = (tmp_path / "vocab.json").read_bytes(), (tmp_path / "merges.txt").read_bytes()
    with pytest.raises(InvalidInputError):
        tokgeo.train_bpe([""], 270, out_dir=tmp_path)
    assert ((tmp_path / "vocab.json").read_bytes(), (tmp_path / "merges.txt").read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merges.txt", "vocab.json"]


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_saved_files_get_the_mode_open_gives(tmp_path: Path, umask: int) -> None:
    """vocab.json and merges.txt are readable as files written by open() are (0o666 less the
    umask), not 0o600 as a temporary file is made."""
    old = os.umask(umask)
    try:
        tokgeo.train_bpe(["hello hello world"], 270, out_dir=tmp_path)
    finally:
        os.umask(old)
    for name in ("vocab.json", "merges.txt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask


def test_save_into_unwritable_place_leaves_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises((TokgeoIOError, OSError)):
        tokgeo.train_bpe(["hello world"], 270, out_dir=blocker)
    # the save fails while the tokenizer is being built beside it (2 threads: both at once;
    # 1 thread: one after the other): its error reaches the caller, no temporary is left
    taken = tmp_path / "taken"
    (taken / "vocab.json").mkdir(parents=True)
    for threads in (1, 2):
        with pytest.raises(TokgeoIOError, match="vocab.json"):
            tokgeo.train_bpe(["hello world"], 270, out_dir=taken, threads=threads)
        assert sorted(p.name for p in taken.iterdir()) == ["vocab.json"]
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            with pytest.raises(TokgeoIOError, match="cannot create"):
                tokgeo.train_bpe(["hello world"], 270, out_dir=ro)
            assert list(ro.iterdir()) == []
        finally:
            ro.chmod(0o700)


def test_lowest_failing_text_is_reported_at_any_timing() -> None:
    """Texts go to the counting threads in chunks of 16: one thread has the long text 0 and
    then bad text 1, the other fails on text 20 at once.  The error names texts[1], as with
    one thread (a failure must not make the other thread skip the texts before it)."""
    texts = ["plain words and more words " * 40_000, "ab\ud800"] + ["fine"] * 18 + ["x\udc80"] + ["fine"] * 20
    for threads in (1, 2):
        for _ in range(3):
            with pytest.raises(TextEncodingError, match=r"texts\[1\] has the code point U\+D800"):
                tokgeo.train_bpe(texts, 300, threads=threads)
