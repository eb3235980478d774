"""Corpus-scale per-token runs: chunks equal one-by-one runs, the memory ceiling, files,
progress, bad input, and the same call on a real Dask LocalCluster (two worker processes
on 127.0.0.1) with a retried task."""

from __future__ import annotations

import os

import numpy as np
import pytest

import tokgeo
from tokgeo import errors
from tokgeo.studies import Laminar, Trajectories, measure_corpus, read_corpus
from tokgeo.studies._corpus import MEASURES

from _lesson_refs import states
from checkpoints import shared_tiny_gpt2

TEXTS = [
    "The old man walked slowly home.", "A red car.", "She gave her small book to the quiet girl yesterday evening.",
    "Rain fell.", "The children laughed at the clown in the busy market square.", "Her dog barked twice.",
    "Bright stars filled the cold night sky above the sleeping village.", "Go!",
    "He read her letter again and again.",
]
FLOAT = [m for m in MEASURES if m != "rank_next"]


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    return tokgeo.GPT2.from_pretrained(shared_tiny_gpt2())


def test_chunks_equal_one_by_one_and_reference(model) -> None:  # type: ignore[no-untyped-def]
    many = measure_corpus(model, TEXTS * 3, list(MEASURES), batch_size=4, progress=False)
    one = [measure_corpus(model, [t], list(MEASURES), batch_size=1, progress=False) for t in TEXTS * 3]
    for k in ("text_index", "position", "token_id", "start", "end"):
        assert many[k].dtype == np.int64
    np.testing.assert_array_equal(many["token_id"], np.concatenate([o["token_id"] for o in one]))
    np.testing.assert_array_equal(many["position"], np.concatenate([o["position"] for o in one]))
    for m in FLOAT:  # float32 forward passes: batch composition changes sums at ~1e-7
        np.testing.assert_allclose(many[m], np.concatenate([o[m] for o in one]), rtol=2e-5, atol=2e-5, err_msg=m)
    assert many.texts == TEXTS * 3
    # and the step lengths are transformers' (the tests' checkpoint with perturbed LayerNorms)
    for i in (2, 6):
        h, _, _ = states(shared_tiny_gpt2(), TEXTS[i])
        np.testing.assert_allclose(many["step_length"][many.rows(i)], np.linalg.norm(np.diff(h, axis=1), axis=-1), rtol=1e-5)


def test_memory_ceiling_halves_chunks(model) -> None:  # type: ignore[no-untyped-def]
    one_text = model._c.plan(1, 16, _want(model))
    free = measure_corpus(model, TEXTS, ["step_length", "entropy"], batch_size=8, progress=False)
    budget = int(one_text["arena_bytes"] + one_text["scratch_bytes"]) * 2
    tight = measure_corpus(model, TEXTS, ["step_length", "entropy"], batch_size=8, memory_budget=budget, progress=False)
    np.testing.assert_allclose(tight["step_length"], free["step_length"], rtol=2e-5)
    with pytest.raises(errors.MemoryBudgetError):
        measure_corpus(model, TEXTS, ["step_length", "entropy"], memory_budget=1000, progress=False)


def _want(model):  # type: ignore[no-untyped-def]
    from tokgeo.hooks import capture_flags

    return capture_flags(["hidden_states", "logits"], None, model.config.n_layer)


def test_corpus_files_progress_and_bad_input(model, tmp_path, capfd) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "corpus.txt"
    f.write_text("\ufeff# a comment\n" + "\n\n".join(TEXTS) + "\n", encoding="utf-8")
    assert list(read_corpus(f)) == TEXTS
    tab = measure_corpus(model, f, ["step_length"], batch_size=2, progress=True)
    assert tab.texts == TEXTS
    assert "chunk" in capfd.readouterr().err  # the progress bar (tqdm) on stderr
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine line\nanother\n\xff\xfe broken\n")
    with pytest.raises(errors.TextEncodingError, match=r"line 3 is not UTF-8"):
        measure_corpus(model, bad, ["step_length"], progress=False)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n# nothing\n", encoding="utf-8")
    with pytest.raises(errors.InvalidInputError, match="corpus is empty"):
        measure_corpus(model, empty, ["step_length"], progress=False)
    with pytest.raises(errors.InvalidInputError, match="corpus is empty"):
        measure_corpus(model, [], ["step_length"], progress=False)
    with pytest.raises(errors.TokgeoIOError, match="does not exist"):
        measure_corpus(model, tmp_path / "missing.txt", ["step_length"], progress=False)
    with pytest.raises(errors.InvalidInputError, match="unknown measure"):
        measure_corpus(model, TEXTS, ["speed"], progress=False)
    with pytest.raises(errors.InvalidTypeError, match=r"texts \[1\] is a int"):
        measure_corpus(model, ["ok", 3], ["step_length"], progress=False)
    with pytest.raises(errors.InvalidInputError, match="at most 64"):
        measure_corpus(model, [" ".join(["word"] * 80)], ["step_length"], progress=False)


def _fail_each_chunk_once_plugin(folder: str):  # type: ignore[no-untyped-def]
    """A distributed WorkerPlugin that, in every worker process, wraps the corpus runner's
    task function so a chunk's first attempt (on whichever worker) raises: a marker file per
    chunk in ``folder``, created with O_EXCL, says the chunk has failed once."""
    from distributed import WorkerPlugin

    class FailEachChunkOnce(WorkerPlugin):
        name = "tokgeo-test-fail-each-chunk-once"

        def __init__(self, folder: str) -> None:
            self.folder = folder

        def setup(self, worker) -> None:  # type: ignore[no-untyped-def]
            from tokgeo.studies import _corpus

            task, folder = _corpus._dask_task, self.folder
            self.original = task

            def first_attempt_fails(index, *args):  # type: ignore[no-untyped-def]
                try:
                    fd = os.open(os.path.join(folder, f"chunk-{index}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    return task(index, *args)
                os.close(fd)
                raise OSError(f"injected fault: first attempt at chunk {index} on {worker.address}")

            # the client pickles _dask_task by reference (module + name): the worker's lookup finds this
            _corpus._dask_task = first_attempt_fails

        def teardown(self, worker) -> None:  # type: ignore[no-untyped-def]
            from tokgeo.studies import _corpus

            _corpus._dask_task = self.original

    return FailEachChunkOnce(folder)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):  # type: ignore[no-untyped-def]
    distributed = pytest.importorskip("dask.distributed")
    fault_dir = tmp_path_factory.mktemp("dask-faults")
    lc = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=50)
    client = distributed.Client(lc)
    client.register_plugin(_fail_each_chunk_once_plugin(str(fault_dir)))  # every task fails once
    yield client, fault_dir
    client.close()
    lc.close()


@pytest.mark.slow
def test_dask_cluster_equals_single_process(model, cluster) -> None:  # type: ignore[no-untyped-def]
    client, fault_dir = cluster
    texts = TEXTS * 4
    local = measure_corpus(model, texts, list(MEASURES), batch_size=3, progress=False)
    remote = measure_corpus(model, texts, list(MEASURES), batch_size=3, progress=False, client=client)
    n_chunks = -(-len(texts) // 3)
    # every chunk failed once (injected) and was retried: each is there exactly once
    assert len(os.listdir(fault_dir)) == n_chunks
    assert remote.texts == texts
    for k, v in local.arrays.items():  # same chunks: bitwise the same numbers, in input order
        np.testing.assert_array_equal(remote[k], v, err_msg=k)
    # each worker opened the model once and kept it (mapped from the same folder)
    from tokgeo.studies import _corpus

    opened = client.run(lambda: sorted(_corpus._WORKER_MODELS))
    assert len(opened) == 2 and all(v == [str(shared_tiny_gpt2())] for v in opened.values()), opened
    # a lesson takes the same client
    a = Laminar(model, texts, progress=False, batch_size=3).run()
    b = Laminar(model, texts, progress=False, batch_size=3, client=client).run()
    np.testing.assert_array_equal(a["update_angle"], b["update_angle"])
    np.testing.assert_array_equal(a["t_update"], b["t_update"])
    # and a lesson's own per-text measurement (Trajectories' per-text PCA) travels to the workers
    c = Trajectories(model, texts, progress=False, batch_size=3).run()
    d = Trajectories(model, texts, progress=False, batch_size=3, client=client).run()
    np.testing.assert_array_equal(c["projection"], d["projection"])
    np.testing.assert_array_equal(c["curvature"], d["curvature"])
