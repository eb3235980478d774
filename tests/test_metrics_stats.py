"""t-tests and correlations: parity with scipy.stats (1e-10) and with the NumPy twins."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokgeo.reference import metrics as ref
from tokgeo import metrics as M
from tokgeo.errors import InvalidInputError, InvalidTypeError

stats = pytest.importorskip("scipy.stats")

RTOL = 1e-10
ALTS = ("two-sided", "less", "greater")


def close(got, want, rtol=RTOL, atol=0.0):
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float), rtol=rtol, atol=atol)


@pytest.fixture
def layers():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(48, 54))
    b = rng.normal(loc=0.2, scale=1.3, size=(48, 54))
    return a, b


@pytest.mark.parametrize("alternative", ALTS)
@pytest.mark.parametrize("equal_var", [True, False])
def test_ttest_ind_matches_scipy_per_layer(layers, alternative, equal_var) -> None:
    a, b = layers
    ours = M.ttest_ind(a, b, axis=1, equal_var=equal_var, alternative=alternative)
    theirs = stats.ttest_ind(a, b, axis=1, equal_var=equal_var, alternative=alternative)
    close(ours.statistic, theirs.statistic)
    close(ours.pvalue, theirs.pvalue)
    close(ours.df, theirs.df)
    assert ours.statistic.shape == (48,)
    t, p = ours  # unpacks like scipy's result
    assert t is ours.statistic and p is ours.pvalue


@pytest.mark.parametrize("alternative", ALTS)
def test_ttest_rel_and_1samp_match_scipy(layers, alternative) -> None:
    a, b = layers
    for axis in (0, 1):
        o, s = M.ttest_rel(a, b, axis=axis, alternative=alternative), stats.ttest_rel(a, b, axis=axis, alternative=alternative)
        close(o.statistic, s.statistic), close(o.pvalue, s.pvalue), close(o.df, s.df)
        o, s = M.ttest_1samp(a, 0.1, axis=axis, alternative=alternative), stats.ttest_1samp(a, 0.1, axis=axis, alternative=alternative)
        close(o.statistic, s.statistic), close(o.pvalue, s.pvalue), close(o.df, s.df)


def test_ttest_shapes_axes_and_broadcasting() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4, 9, 3))
    b = rng.normal(size=(1, 7, 3))  # broadcasts along axis 0, different length along axis 1
    o, s = M.ttest_ind(a, b, axis=1), stats.ttest_ind(a, b, axis=1)
    assert o.statistic.shape == (4, 3)
    close(o.statistic, s.statistic), close(o.pvalue, s.pvalue)
    o, s = M.ttest_ind(a, b[0, :, 0], axis=None), stats.ttest_ind(a, b[0, :, 0], axis=None)
    close(o.statistic, s.statistic), close(o.pvalue, s.pvalue)
    assert np.ndim(o.statistic) == 0
    # popmean per test
    pm = rng.normal(size=(4, 1, 3))
    o, s = M.ttest_1samp(a, pm, axis=1), stats.ttest_1samp(a, pm, axis=1)
    close(o.statistic, s.statistic), close(o.pvalue, s.pvalue)
    # strided / transposed / float32 views read in place
    at = np.asfortranarray(a)[:, ::-1, :]
    o, s = M.ttest_1samp(at.astype(np.float32), 0.0, axis=-2), stats.ttest_1samp(at.astype(np.float32).astype(float), 0.0, axis=-2)
    close(o.statistic, s.statistic), close(o.pvalue, s.pvalue)


def test_cohen_d_formulas(layers) -> None:
    a, b = layers
    for i in range(3):
        x, y = a[i], b[i]
        n1, n2 = x.size, y.size
        sp = np.sqrt(((n1 - 1) * x.var(ddof=1) + (n2 - 1) * y.var(ddof=1)) / (n1 + n2 - 2))
        close(M.ttest_ind(x, y).cohen_d, (x.mean() - y.mean()) / sp, rtol=1e-13)
        close(M.ttest_ind(x, y, equal_var=False).cohen_d, (x.mean() - y.mean()) / np.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2), rtol=1e-13)
        d = x - y
        close(M.ttest_rel(x, y).cohen_d, d.mean() / d.std(ddof=1), rtol=1e-13)
        close(M.ttest_1samp(x, 0.5).cohen_d, (x.mean() - 0.5) / x.std(ddof=1), rtol=1e-13)


def test_nan_policies_match_scipy() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(size=(5, 20))
    b = rng.normal(size=(5, 20))
    a[1, 3] = np.nan
    b[2, [0, 5]] = np.nan
    for pol in ("propagate", "omit"):
        for eq in (True, False):
            o, s = M.ttest_ind(a, b, axis=1, equal_var=eq, nan_policy=pol), stats.ttest_ind(a, b, axis=1, equal_var=eq, nan_policy=pol)
            close(o.statistic, s.statistic), close(o.pvalue, s.pvalue), close(o.df, s.df)
        o, s = M.ttest_rel(a, b, axis=1, nan_policy=pol), stats.ttest_rel(a, b, axis=1, nan_policy=pol)
        close(o.statistic, s.statistic), close(o.pvalue, s.pvalue), close(o.df, s.df)
        o, s = M.ttest_1samp(a, 0.0, axis=1, nan_policy=pol), stats.ttest_1samp(a, 0.0, axis=1, nan_policy=pol)
        close(o.statistic, s.statistic), close(o.pvalue, s.pvalue), close(o.df, s.df)
    for f in (lambda: M.ttest_ind(a, b, axis=1, nan_policy="raise"), lambda: M.pearson(a, b, axis=1, nan_policy="raise")):
        with pytest.raises(InvalidInputError, match="NaN"):
            f()
    # omit for correlations: the same as scipy on the remaining pairs
    o = M.pearson(a, b, axis=1, nan_policy="omit")
    os_ = M.spearman(a, b, axis=1, nan_policy="omit")
    for i in range(5):
        keep = ~(np.isnan(a[i]) | np.isnan(b[i]))
        s = stats.pearsonr(a[i][keep], b[i][keep])
        close(o.statistic[i], s.statistic), close(o.pvalue[i], s.pvalue)
        s = stats.spearmanr(a[i][keep], b[i][keep])
        close(os_.statistic[i], s.statistic), close(os_.pvalue[i], s.pvalue)
    prop = M.pearson(a, b, axis=1)
    assert np.isnan(prop.statistic[[1, 2]]).all() and not np.isnan(prop.statistic[[0, 3, 4]]).any()


@pytest.mark.parametrize("alternative", ALTS)
def test_pearson_matches_scipy(layers, alternative) -> None:
    a, b = layers
    b = b + 0.4 * a
    for axis in (0, 1):
        o, s = M.pearson(a, b, axis=axis, alternative=alternative), stats.pearsonr(a, b, axis=axis, alternative=alternative)
        close(o.statistic, s.statistic, rtol=1e-12, atol=1e-15), close(o.pvalue, s.pvalue)
    # strong correlation: tiny p-values from the beta distribution's tail
    rng = np.random.default_rng(4)
    x = rng.normal(size=200)
    y = x + 0.05 * rng.normal(size=200)
    o, s = M.pearson(x, y, alternative=alternative), stats.pearsonr(x, y, alternative=alternative)
    close(o.statistic, s.statistic, rtol=1e-13), close(o.pvalue, s.pvalue, rtol=1e-9)


@pytest.mark.parametrize("alternative", ALTS)
def test_spearman_matches_scipy_with_ties(alternative) -> None:
    rng = np.random.default_rng(5)
    for n in (3, 4, 10, 57):
        x = rng.integers(0, 5, n).astype(float)  # many ties
        y = x + rng.integers(0, 3, n)
        if np.all(x == x[0]) or np.all(y == y[0]):
            continue
        o, s = M.spearman(x, y, alternative=alternative), stats.spearmanr(x, y, alternative=alternative)
        close(o.statistic, s.statistic, rtol=1e-12), close(o.pvalue, s.pvalue)
    # vectorised: every row of a [layers, samples] array at once
    X = rng.normal(size=(6, 30))
    Y = X + rng.normal(size=(6, 30))
    o = M.spearman(X, Y, axis=1, alternative=alternative)
    for i in range(6):
        s = stats.spearmanr(X[i], Y[i], alternative=alternative)
        close(o.statistic[i], s.statistic, rtol=1e-12), close(o.pvalue[i], s.pvalue)


def test_constant_input_warns_and_gives_nan() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    c = np.full(4, 2.5)
    with pytest.warns(M.ConstantInputWarning):
        r = M.pearson(x, c)
    assert np.isnan(r.statistic) and np.isnan(r.pvalue)
    with pytest.warns(M.ConstantInputWarning):
        r = M.spearman(c, x)
    assert np.isnan(r.statistic) and np.isnan(r.pvalue)
    with pytest.warns(M.ConstantInputWarning):
        t = M.ttest_ind([1.0, 1, 1], [2.0, 2, 2])
    assert t.statistic == -np.inf and t.pvalue == 0.0 and t.df == 4.0  # as scipy
    with pytest.warns(M.ConstantInputWarning):
        t = M.ttest_ind([1.0, 1, 1], [1.0, 1, 1])
    assert np.isnan(t.statistic) and np.isnan(t.pvalue)
    assert issubclass(M.ConstantInputWarning, RuntimeWarning)


def test_small_samples_like_scipy() -> None:
    # n == 2 Pearson: r = +-1 exactly, p = 1
    r = M.pearson([1.0, 2.0], [3.0, 1.0])
    assert r.statistic == -1.0 and r.pvalue == 1.0
    with pytest.raises(InvalidInputError, match="at least 2"):
        M.pearson([1.0], [2.0])
    # Spearman n == 2: rho = -1, p NaN as scipy
    s = M.spearman([1.0, 2.0], [2.0, 1.0])
    assert s.statistic == pytest.approx(-1.0) and np.isnan(s.pvalue)
    # one observation per group in Student's test: pooled variance 0/0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        o, sc = M.ttest_ind([1.0], [2.0, 3.0]), stats.ttest_ind([1.0], [2.0, 3.0])
    close(o.statistic, sc.statistic), close(o.pvalue, sc.pvalue), close(o.df, sc.df)
    with pytest.warns(M.SmallSampleWarning):
        o = M.ttest_ind([], [2.0, 3.0])
    assert np.isnan([o.statistic, o.pvalue, o.df]).all()
    # empty batch of tests: empty results, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        o = M.ttest_ind(np.ones((3, 0)), np.ones((3, 0)))
    assert o.statistic.shape == (0,)


def test_bad_arguments() -> None:
    with pytest.raises(InvalidInputError, match="alternative"):
        M.ttest_ind([1.0, 2], [3.0, 4], alternative="bigger")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="nan_policy"):
        M.pearson([1.0, 2], [3.0, 4], nan_policy="drop")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="same length"):
        M.ttest_rel([1.0, 2, 3], [1.0, 2])
    with pytest.raises(InvalidInputError, match="broadcast"):
        M.ttest_ind(np.ones((3, 4)), np.ones((2, 4)), axis=1)
    with pytest.raises(InvalidTypeError, match="complex"):
        M.pearson([1j, 2j], [1.0, 2.0])
    with pytest.raises(InvalidInputError, match="out of range"):
        M.ttest_1samp(np.ones((2, 3)), 0.0, axis=2)


samples = st.integers(min_value=3, max_value=25)


@settings(max_examples=40, deadline=None)
@given(n1=samples, n2=samples, rows=st.integers(1, 4), seed=st.integers(0, 2**31 - 1),
       f32=st.booleans(), fortran=st.booleans(), alternative=st.sampled_from(ALTS))
def test_twins_agree(n1, n2, rows, seed, f32, fortran, alternative) -> None:
    rng = np.random.default_rng(seed)
    dt = np.float32 if f32 else np.float64
    a = rng.normal(size=(rows, n1)).astype(dt)
    b = (rng.normal(size=(rows, n2)) + 0.3).astype(dt)
    if fortran:
        a, b = np.asfortranarray(a), np.asfortranarray(b)
    for eq in (True, False):
        o = M.ttest_ind(a, b, axis=1, equal_var=eq, alternative=alternative)
        for i in range(rows):
            t, p, df, d = ref.ttest_ind(a[i], b[i], eq, alternative)
            close(o.statistic[i], t, rtol=1e-11), close(o.pvalue[i], p, rtol=1e-8), close(o.df[i], df, rtol=1e-12)
            close(o.cohen_d[i], d, rtol=1e-11)
    m = min(n1, n2)
    o = M.ttest_rel(a[:, :m], b[:, :m], axis=1, alternative=alternative)
    op = M.pearson(a[:, :m], b[:, :m], axis=1, alternative=alternative)
    osp = M.spearman(a[:, :m], b[:, :m], axis=1, alternative=alternative)
    for i in range(rows):
        t, p, df, d = ref.ttest_rel(a[i, :m], b[i, :m], alternative)
        close(o.statistic[i], t, rtol=1e-10), close(o.pvalue[i], p, rtol=1e-8), close(o.cohen_d[i], d, rtol=1e-10)
        r, p = ref.pearson(a[i, :m], b[i, :m], alternative)
        close(op.statistic[i], r, rtol=1e-10, atol=1e-14), close(op.pvalue[i], p, rtol=1e-7, atol=1e-14)
        r, p = ref.spearman(a[i, :m], b[i, :m], alternative)
        close(osp.statistic[i], r, rtol=1e-10, atol=1e-14), close(osp.pvalue[i], p, rtol=1e-7, atol=1e-14)


def test_warnings_point_at_the_caller() -> None:
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        M.pearson([1.0, 2, 3], [1.0, 1, 1])
        M.ttest_ind([], [1.0, 2])
    assert [x.filename for x in w] == [__file__, __file__]
