"""Paired geometry (cosine, angle, distances, trajectories) and softmax: C core vs NumPy
twins across dtypes, shapes, strides and memory orders; parity with scipy / sklearn."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokgeo.reference import metrics as ref
from tokgeo import metrics as M
from tokgeo.errors import InvalidInputError, InvalidTypeError


def layouts(x: np.ndarray):
    """The same values as differently laid out arrays (all read in place by the core)."""
    yield "C", np.ascontiguousarray(x)
    yield "F", np.asfortranarray(x)
    big = np.zeros(tuple(2 * s for s in x.shape), dtype=x.dtype)
    sl = tuple(slice(None, None, 2) for _ in x.shape)
    big[sl] = x
    yield "strided", big[sl]
    rev = np.ascontiguousarray(x[(slice(None, None, -1),) * x.ndim])
    yield "negative", rev[(slice(None, None, -1),) * x.ndim]
    yield "transposed", np.ascontiguousarray(x.T).T


def close(got, want, rtol=1e-12, atol=1e-13):
    np.testing.assert_allclose(np.asarray(got, float), np.asarray(want, float), rtol=rtol, atol=atol, equal_nan=True)


shapes = st.lists(st.integers(1, 5), min_size=2, max_size=4)


@settings(max_examples=60, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**31 - 1), f32=st.booleans(), axis_pick=st.integers(0, 3))
def test_paired_ops_match_twins_in_every_layout(shape, seed, f32, axis_pick) -> None:
    rng = np.random.default_rng(seed)
    dt = np.float32 if f32 else np.float64
    a0 = rng.normal(size=shape).astype(dt)
    b0 = rng.normal(size=shape).astype(dt)
    axis = axis_pick % len(shape) - len(shape) * (axis_pick % 2)  # positive and negative axes
    want = {
        "cos": ref.cosine_similarity(a0, b0, axis),
        "euc": ref.euclidean(a0, b0, axis),
        "norm": ref.norm(a0, axis),
        "ang": ref.angle(a0, b0, axis),
    }
    for (_, a), (_, b) in zip(layouts(a0), layouts(b0)):
        close(M.cosine_similarity(a, b, axis=axis), want["cos"])
        close(M.euclidean(a, b, axis=axis), want["euc"])
        close(M.norm(a, axis=axis), want["norm"])
        close(M.angle(a, b, axis=axis), want["ang"], rtol=1e-9, atol=1e-5)  # acos is ill-conditioned near 0


@settings(max_examples=40, deadline=None)
@given(L=st.integers(1, 6), rest=st.lists(st.integers(1, 4), min_size=0, max_size=2),
       d=st.integers(1, 6), seed=st.integers(0, 2**31 - 1), f32=st.booleans(),
       order=st.sampled_from(["C", "F", "negative", "strided"]))
def test_trajectories_match_twins(L, rest, d, seed, f32, order) -> None:
    rng = np.random.default_rng(seed)
    x0 = rng.normal(size=(L, *rest, d)).astype(np.float32 if f32 else np.float64)
    x = dict(layouts(x0))[order]
    for axis, vaxis in ((0, -1), (0, x.ndim - 1)) + (((-1, 0),) if x.ndim > 2 else ()):
        xx = np.moveaxis(x, (0, -1), (axis, vaxis)) if axis != 0 else x
        close(M.path_length(xx, axis, vaxis), ref.path_length(xx, axis, vaxis))
        close(M.cumulative_path_length(xx, axis, vaxis), ref.cumulative_path_length(xx, axis, vaxis))
        close(M.drift(xx, axis, vaxis), ref.drift(xx, axis, vaxis))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", M.ZeroVectorWarning)
            close(M.consecutive_angles(xx, axis, vaxis), ref.consecutive_angles(xx, axis, vaxis), rtol=1e-9, atol=1e-5)


def test_trajectory_shapes_and_definitions() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(13, 2, 5, 8))  # [layers, batch, tokens, d]
    steps = M.path_length(x)
    assert steps.shape == (12, 2, 5)
    cum = M.cumulative_path_length(x)
    assert cum.shape == (13, 2, 5) and np.all(cum[0] == 0)
    close(cum[-1], steps.sum(axis=0))
    dr = M.drift(x)
    assert dr.shape == (13, 2, 5) and np.all(dr[0] == 0)
    assert np.all(dr <= cum + 1e-12)  # straight line <= path
    close(dr[4], np.linalg.norm(x[4] - x[0], axis=-1))
    ang = M.consecutive_angles(x, degrees=False)
    close(np.cos(ang[2]), ref.cosine_similarity(x[3], x[2]), rtol=1e-10)
    # vector axis before the step axis: [d, layers] -> result [layers - 1]
    close(M.path_length(x[:, 0, 0, :].T, axis=1, vector_axis=0), steps[:, 0, 0])
    assert M.path_length(np.zeros((0, 4))).shape == (0,)
    assert M.cumulative_path_length(np.zeros((0, 4))).shape == (0,)
    assert M.drift(np.zeros((0, 4))).shape == (0,)
    with pytest.raises(InvalidInputError, match="differ"):
        M.path_length(x, axis=1, vector_axis=1)
    with pytest.raises(InvalidInputError, match="2 dimensions"):
        M.path_length(np.ones(5))


def test_against_scipy_and_sklearn() -> None:
    distance = pytest.importorskip("scipy.spatial.distance")
    pairwise = pytest.importorskip("sklearn.metrics.pairwise")
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(20, 33)), rng.normal(size=(20, 33))
    cos = M.cosine_similarity(a, b)
    close(cos, np.diag(pairwise.cosine_similarity(a, b)), rtol=1e-13)
    close(cos, [1 - distance.cosine(u, v) for u, v in zip(a, b)], rtol=1e-13)
    close(M.euclidean(a, b), [distance.euclidean(u, v) for u, v in zip(a, b)], rtol=1e-13)
    close(M.norm(a), np.linalg.norm(a, axis=-1), rtol=1e-13)
    # one vector against many (broadcasting)
    close(M.cosine_similarity(a, b[0]), pairwise.cosine_similarity(a, b[:1])[:, 0], rtol=1e-13)
    assert isinstance(M.cosine_similarity(a[0], b[0]), np.floating)


def test_angle_clamps_and_zero_vectors() -> None:
    v = np.array([0.1, 0.2, 0.3], dtype=np.float32)
    assert M.angle(v, v) == 0.0 or M.angle(v, v) < 1e-5  # never NaN from rounding
    assert M.angle(v, -v) == pytest.approx(180.0)
    assert M.angle([1.0, 0], [0.0, 2], degrees=False) == pytest.approx(np.pi / 2, rel=1e-15)
    with pytest.warns(M.ZeroVectorWarning, match="zero vector"):
        out = M.cosine_similarity(np.array([[0.0, 0.0], [1.0, 1.0]]), [1.0, 2.0])
    assert np.isnan(out[0]) and not np.isnan(out[1])
    with pytest.warns(M.ZeroVectorWarning):
        assert np.isnan(M.angle([0.0, 0.0], [1.0, 2.0]))
    assert issubclass(M.ZeroVectorWarning, RuntimeWarning)


def test_dtype_conversion_rule() -> None:
    ints = np.arange(12).reshape(3, 4)
    close(M.norm(ints), np.linalg.norm(ints, axis=-1))
    close(M.norm(ints.astype(np.float16)), np.linalg.norm(ints, axis=-1))
    close(M.norm([[True, False], [True, True]]), [1.0, np.sqrt(2)])
    swapped = np.arange(6.0).reshape(2, 3).astype(">f8")
    close(M.norm(swapped), np.linalg.norm(np.arange(6.0).reshape(2, 3), axis=-1))
    raw = np.zeros(8 * 6 + 1, dtype=np.uint8)
    unaligned = np.frombuffer(raw.data, dtype=np.float64, count=6, offset=1).reshape(2, 3)
    assert not unaligned.flags.aligned
    close(M.norm(unaligned), [0.0, 0.0])
    with pytest.raises(InvalidTypeError, match="complex"):
        M.norm(np.ones(3, dtype=complex))
    with pytest.raises(InvalidTypeError, match="object"):
        M.cosine_similarity(np.array([1, "a"], dtype=object), [1.0, 2.0])
    with pytest.raises(InvalidTypeError, match="string"):
        M.norm(np.array(["ab", "cd"]))


def test_mixed_dtypes_and_results_are_float64() -> None:
    a = np.ones((2, 3), dtype=np.float32)
    b = np.ones((2, 3), dtype=np.float64)
    assert M.cosine_similarity(a, b).dtype == np.float64
    assert M.norm(a).dtype == np.float64


def test_empty_and_degenerate_shapes() -> None:
    assert M.cosine_similarity(np.ones((0, 4)), np.ones((0, 4))).shape == (0,)
    close(M.norm(np.ones((3, 0))), [0.0, 0.0, 0.0])
    close(M.euclidean(np.ones((3, 0)), np.ones((3, 0))), [0.0, 0.0, 0.0])
    with pytest.warns(M.ZeroVectorWarning):
        assert np.isnan(M.cosine_similarity(np.ones((2, 0)), np.ones((2, 0)))).all()
    with pytest.raises(InvalidInputError, match="0-d"):
        M.cosine_similarity(1.0, 2.0)
    with pytest.raises(InvalidInputError, match="broadcast"):
        M.cosine_similarity(np.ones((2, 3)), np.ones((3, 3)))
    assert M.norm([3.0, 4.0]) == 5.0


@pytest.mark.slow
def test_broadcast_views_cost_no_memory_beyond_2_31_elements() -> None:
    # 2^31 + 7 elements per row through a zero-stride view: indices must be pointer-sized
    n = 2**31 + 7
    x = np.broadcast_to(np.float32(1.0), (1, n))
    assert M.norm(x)[0] == pytest.approx(np.sqrt(n), rel=1e-12)
    # a broadcast view of more than 2^31 elements in total, in a few long rows
    y = np.broadcast_to(np.float32(2.0), (3, 2**30 + 1))
    out = M.euclidean(y, np.broadcast_to(np.float32(0.0), (2**30 + 1,)))
    assert out.shape == (3,)
    np.testing.assert_allclose(out, 2.0 * np.sqrt(2**30 + 1), rtol=1e-12)


# ---- softmax family ------------------------------------------------------------------------


def test_softmax_family_matches_scipy() -> None:
    special = pytest.importorskip("scipy.special")
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(2)
    x = rng.normal(scale=5, size=(3, 4, 50))
    for axis in (-1, 0, 1):
        for name, lay in layouts(x):
            close(M.softmax(lay, axis=axis), special.softmax(x, axis=axis), rtol=1e-13, atol=1e-300)
            close(M.log_softmax(lay, axis=axis), special.log_softmax(x, axis=axis), rtol=1e-13, atol=1e-13)
            p = special.softmax(x, axis=axis)
            close(M.entropy(lay, axis=axis), stats.entropy(p, axis=axis), rtol=1e-12)
            close(M.entropy(lay, axis=axis, base=2), stats.entropy(p, axis=axis, base=2), rtol=1e-12)
    close(M.softmax(x), ref.softmax(x), rtol=1e-13)
    close(M.entropy(x), ref.entropy(x), rtol=1e-12)


def test_softmax_edge_cases() -> None:
    big = np.array([1000.0, 0.0, -1000.0])
    close(M.softmax(big), [1.0, 0.0, 0.0])
    close(M.log_softmax(big), [0.0, -1000.0, -2000.0])
    assert M.entropy(big) == pytest.approx(0.0, abs=1e-300)
    m = np.array([0.0, -np.inf, 0.0])
    close(M.softmax(m), [0.5, 0.0, 0.5])
    assert M.entropy(m) == pytest.approx(np.log(2), rel=1e-15)
    assert np.isnan(M.softmax([np.nan, 1.0])).all()
    assert np.isnan(M.entropy([-np.inf, -np.inf]))
    assert M.softmax(3.0) == 1.0
    assert M.softmax(np.ones((2, 3)), dtype=np.float32).dtype == np.float32
    assert M.softmax(np.ones((2, 3), dtype=np.float32)).dtype == np.float64
    assert M.softmax(np.ones((2, 0))).shape == (2, 0)
    close(M.entropy(np.ones((2, 0))), [0.0, 0.0])
    close(M.entropy(np.zeros(8), base=2), 3.0)
    with pytest.raises(InvalidInputError, match="base"):
        M.entropy([1.0, 2.0], base=1)
    with pytest.raises(InvalidTypeError):
        M.softmax([1.0, 2.0], dtype=np.int32)


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=3), seed=st.integers(0, 2**31 - 1),
       f32=st.booleans(), scale=st.sampled_from([1.0, 30.0, 300.0]), axis_pick=st.integers(0, 2),
       order=st.sampled_from(["C", "F", "strided", "negative", "transposed"]))
def test_softmax_family_matches_twins(shape, seed, f32, scale, axis_pick, order) -> None:
    rng = np.random.default_rng(seed)
    x0 = (scale * rng.normal(size=shape)).astype(np.float32 if f32 else np.float64)
    x = dict(layouts(x0))[order]
    axis = axis_pick % len(shape)
    close(M.softmax(x, axis=axis), ref.softmax(x0, axis=axis), rtol=1e-12, atol=1e-300)
    close(M.log_softmax(x, axis=axis), ref.log_softmax(x0, axis=axis), rtol=1e-12, atol=1e-12)
    close(M.entropy(x, axis=axis), ref.entropy(x0, axis=axis), rtol=1e-10, atol=1e-12)


def test_softmax_exponential_accuracy_over_the_whole_range() -> None:
    # softmax([0, z])[1] = e^z / (1 + e^z): checks the vectorised exp from 1e-12 down to the
    # subnormal range and -inf (masked logits)
    z = np.concatenate([-np.logspace(-12, np.log10(740.0), 20001), [0.0, -708.4, -709.5, -744.5, -745.5, -np.inf]])
    out = M.softmax(np.stack([np.zeros_like(z), z], axis=1))[:, 1]
    e = np.exp(z)
    want = e / (1 + e)
    normal = want >= np.finfo(np.float64).tiny
    assert np.max(np.abs(out[normal] - want[normal]) / want[normal]) < 1e-15
    assert np.max(np.abs(out[~normal] - want[~normal])) <= 1e-323  # 2 subnormal ulp
    assert out[-1] == 0.0
