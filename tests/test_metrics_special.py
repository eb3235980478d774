"""The incomplete beta function and Student t CDF behind the p-values (csrc/metrics/special_functions.c)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tokgeo import _C
from tokgeo.reference import metrics as _reference

sp = pytest.importorskip("scipy.special")


def ibeta(a, b, x):
    a, b, x = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, x)))
    return _C._special(0, a.ravel(), b.ravel(), x.ravel()).reshape(a.shape)


def ibetac(a, b, x):
    a, b, x = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, x)))
    return _C._special(1, a.ravel(), b.ravel(), x.ravel()).reshape(a.shape)


def stdtr(df, t):
    df, t = np.broadcast_arrays(np.asarray(df, dtype=np.float64), np.asarray(t, dtype=np.float64))
    return _C._special(2, df.ravel(), df.ravel(), t.ravel()).reshape(df.shape)


def rel_err(got, want):
    got, want = np.asarray(got), np.asarray(want)
    return np.abs(got - want) / np.abs(want)


def test_stdtr_matches_scipy_on_a_wide_grid() -> None:
    # df = 1 is checked against the Cauchy CDF below: scipy's stdtr loses up to 3e-11 there
    # for |t| < 1e-4 (it is the less accurate of the two).
    dfs = np.array([0.1, 0.5, 1.5, 2, 3, 5, 10, 30, 100, 1e3, 1e4, 1e5, 1e6])
    ts = np.concatenate([-np.logspace(-6, 8, 57), [0.0], np.logspace(-6, 8, 57)])
    D, T = np.meshgrid(dfs, ts)
    ours, ref = stdtr(D, T), sp.stdtr(D, T)
    ok = ref > 1e-300  # both underflow to 0 beyond
    assert np.all(rel_err(ours[ok], ref[ok]) < 1e-12), np.max(rel_err(ours[ok], ref[ok]))
    assert np.all(ours[~ok] < 1e-300)


def test_stdtr_random_df_and_t() -> None:
    rng = np.random.default_rng(7)
    df = np.exp(rng.uniform(np.log(0.1), np.log(1e6), 20000))
    t = rng.normal(size=20000) * np.exp(rng.uniform(-3, 4, 20000))
    ours, ref = stdtr(df, t), sp.stdtr(df, t)
    ok = (ref > 1e-300) & (np.abs(t) > 1e-4)
    assert np.max(rel_err(ours[ok], ref[ok])) < 1e-12


def test_stdtr_closed_forms_at_tiny_t() -> None:
    # df = 1 is the Cauchy CDF, df = 2 has F(t) = 1/2 + t / (2 sqrt(2 + t^2)).  Here we are
    # more accurate than scipy.special.stdtr (which returns exactly 0.5 for |t| ~ 1e-10).
    t = np.concatenate([[-1e-10, -3e-9, 1e-8, 5e-7], np.logspace(-6, -3, 13), [-0.7, 2.0, 1e5]])
    np.testing.assert_allclose(stdtr(1.0, t), 0.5 + np.arctan(t) / np.pi, rtol=2e-15)
    np.testing.assert_allclose(stdtr(2.0, t), 0.5 + t / (2 * np.sqrt(2 + t * t)), rtol=2e-15)
    # the lower tail for huge |t| (df = 1: 1/(pi |t|) to first order)
    np.testing.assert_allclose(stdtr(1.0, -1e8), np.arctan2(1.0, 1e8) / np.pi, rtol=1e-14)


def test_stdtr_special_values() -> None:
    assert stdtr(5.0, 0.0) == 0.5
    assert stdtr(5.0, -np.inf) == 0.0 and stdtr(5.0, np.inf) == 1.0
    assert np.isnan(stdtr(0.0, 1.0)) and np.isnan(stdtr(-1.0, 1.0)) and np.isnan(stdtr(3.0, np.nan))
    np.testing.assert_allclose(stdtr(np.inf, 1.3), sp.ndtr(1.3), rtol=1e-15)


def test_stdtr_large_df_near_normal() -> None:
    t = np.linspace(-8, 8, 161)
    for df in (1e5, 1e6):
        np.testing.assert_allclose(stdtr(df, t), sp.stdtr(df, t), rtol=1e-12)


def test_symmetric_beta_of_pearson_matches_scipy() -> None:
    # p-values of Pearson's r: I_x(n/2 - 1, n/2 - 1) near x = 1/2 and in the tails
    rng = np.random.default_rng(3)
    n = rng.integers(3, 200000, 5000)
    a = n / 2 - 1
    r = np.tanh(rng.normal(size=5000) * 3 / np.sqrt(n))
    x = (np.abs(r) + 1) / 2
    ours, ref = ibetac(a, a, x), sp.betaincc(a, a, x)
    ok = ref > 1e-300
    assert np.max(rel_err(ours[ok], ref[ok])) < 1e-12


def test_ibeta_closed_forms() -> None:
    x = np.array([1e-300, 1e-12, 0.01, 0.3, 0.5, 0.77, 0.999999])
    for b in (0.5, 1.0, 3.0, 250.0):
        np.testing.assert_allclose(ibeta(1.0, b, x), -np.expm1(b * np.log1p(-x)), rtol=1e-13)
    for a in (0.5, 2.0, 40.0):
        np.testing.assert_allclose(ibeta(a, 1.0, x), x**a, rtol=1e-13)
    # I_x(a, b) + I_{1-x}(b, a) = 1 and ibetac = 1 - ibeta
    a, b = 3.7, 12.5
    np.testing.assert_allclose(ibeta(a, b, x) + ibeta(b, a, 1 - x), 1.0, rtol=1e-14)
    np.testing.assert_allclose(ibetac(a, b, x), 1 - ibeta(a, b, x), atol=1e-15)


def test_ibeta_against_scipy_log_uniform_grid() -> None:
    rng = np.random.default_rng(11)
    n = 20000
    a = np.exp(rng.uniform(np.log(1e-2), np.log(1e5), n))
    b = np.exp(rng.uniform(np.log(1e-2), np.log(1e5), n))
    mean = a / (a + b)
    x = np.where(
        rng.random(n) < 0.5,
        rng.uniform(0, 1, n),
        np.clip(mean + rng.normal(size=n) * np.sqrt(a * b / (a + b) ** 3), 1e-300, 1 - 1e-16),
    )
    for ours, ref in ((ibeta(a, b, x), sp.betainc(a, b, x)), (ibetac(a, b, x), sp.betaincc(a, b, x))):
        ok = ref > 1e-250  # scipy itself loses digits close to underflow
        err = rel_err(ours[ok], ref[ok])
        assert np.median(err) < 1e-15
        assert np.quantile(err, 0.999) < 1e-12
        assert np.max(err) < 1e-11  # documented worst: both parameters large, x near the mean


def test_ibeta_invalid_arguments_are_nan() -> None:
    for a, b, x in ((0, 1, 0.5), (1, -1, 0.5), (np.nan, 1, 0.5), (1, 1, -0.1), (1, 1, 1.5), (np.inf, 1, 0.5)):
        assert np.isnan(ibeta(a, b, x))
    assert ibeta(2.0, 3.0, 0.0) == 0.0 and ibeta(2.0, 3.0, 1.0) == 1.0


def test_reference_twin_agrees() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for df, t in ((3.0, -2.5), (10.0, 0.3), (50.0, 4.0), (1.0, -100.0)):
            assert _reference.stdtr(df, t) == pytest.approx(float(stdtr(df, t)), rel=1e-10)


# ---- public Student t: tokgeo.metrics.t_cdf / t_ppf ----------------------------------------

T_DFS = np.concatenate([[1, 1.5, 2, 2.5, 3, 4, 5, 7, 10, 30, 100, 1e3, 1e4, 1e5, 1e6],
                        np.exp(np.random.default_rng(7).uniform(0, np.log(1e6), 25))])


def test_t_ppf_matches_scipy_over_the_grid() -> None:
    from scipy import stats

    from tokgeo.metrics import t_ppf

    # tails down to 1e-12 and the body; |q - 1/2| < 0.01 is checked below (scipy's own ppf
    # loses digits there: at df = 4, q = 0.499999999 it returns 0).
    q = np.concatenate([np.logspace(-12, -1, 45), np.linspace(0.1, 0.49, 14), np.linspace(0.51, 0.9, 14),
                        1 - np.logspace(-1, -12, 45), [0.25, 0.75, 0.2500001, 0.24999]])
    Q, D = np.meshgrid(q, T_DFS)
    ours, ref = t_ppf(Q, D), stats.t.ppf(Q, D)
    assert ours.shape == Q.shape and ours.dtype == np.float64
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=0)


def test_t_ppf_near_the_median_inverts_scipy_cdf() -> None:
    from scipy import special as sp

    from tokgeo.metrics import t_ppf

    d = np.logspace(-12, -2, 41)
    q = np.concatenate([0.5 - d, 0.5 + d])
    Q, D = np.meshgrid(q, T_DFS)
    t = t_ppf(Q, D)
    assert np.all(np.sign(t) == np.sign(Q - 0.5))
    # P(0 < T <= |t|) = I_y(1/2, df/2) / 2 with y = t^2 / (df + t^2), from scipy's betainc
    # (scipy's stdtr and t.ppf round to 1/2 there); |q - 1/2| is exact in floating point
    y = t * t / (D + t * t)
    np.testing.assert_allclose(0.5 * sp.betainc(0.5, 0.5 * D, y), np.abs(Q - 0.5), rtol=1e-12)


def test_t_ppf_closed_forms() -> None:
    from tokgeo.metrics import t_ppf

    p = np.logspace(-12, np.log10(0.49), 300)
    # Cauchy (df = 1): t = -cot(pi p) below the median, tan(pi (q - 1/2)) above it
    np.testing.assert_allclose(t_ppf(p, 1.0), -1.0 / np.tan(np.pi * p), rtol=1e-13)
    np.testing.assert_allclose(t_ppf(0.5 + p, 1.0), np.tan(np.pi * ((0.5 + p) - 0.5)), rtol=1e-13)
    # df = 2: t = (2q - 1) / sqrt(2 q (1 - q))
    for q in (p, 0.5 + p, 1.0 - p):
        want = 2.0 * (q - 0.5) / np.sqrt(2.0 * q * (1.0 - q))
        np.testing.assert_allclose(t_ppf(q, 2.0), want, rtol=1e-13)


def test_t_ppf_round_trip_and_special_values() -> None:
    from scipy import stats

    from tokgeo.metrics import t_cdf, t_ppf

    rng = np.random.default_rng(3)
    df = np.exp(rng.uniform(np.log(0.2), np.log(1e7), 2000))
    q = rng.uniform(1e-6, 1 - 1e-6, 2000)
    np.testing.assert_allclose(t_cdf(t_ppf(q, df), df), q, rtol=1e-12)
    assert t_ppf(0.5, 3.0) == 0.0 and isinstance(t_ppf(0.3, 3.0), float)
    assert t_ppf(0.0, 3.0) == -np.inf and t_ppf(1.0, 3.0) == np.inf
    assert np.isnan(t_ppf([-0.1, 1.1, np.nan, 0.3, 0.3], [3, 3, 3, 0, np.nan])).all()
    assert t_ppf(0.975, np.inf) == pytest.approx(stats.norm.ppf(0.975), rel=1e-14)
    assert t_ppf(1e-12, np.inf) == pytest.approx(stats.norm.ppf(1e-12), rel=1e-13)
    np.testing.assert_allclose(t_ppf([[0.9], [0.99]], [1, 10, 100]), stats.t.ppf([[0.9], [0.99]], [1, 10, 100]),
                               rtol=1e-12)


def test_t_cdf_matches_scipy_and_validates() -> None:
    from scipy import stats

    from tokgeo.errors import InvalidInputError, InvalidTypeError
    from tokgeo.metrics import t_cdf

    # |t| >= 1e-4: below that scipy loses digits (see test_stdtr_closed_forms_at_tiny_t)
    t = np.concatenate([-np.logspace(-4, 8, 40), [0.0], np.logspace(-4, 8, 40)])
    T, D = np.meshgrid(t, T_DFS)
    np.testing.assert_allclose(t_cdf(T, D), stats.t.cdf(T, D), rtol=1e-11, atol=1e-300)  # scipy flushes subnormals
    tiny = np.logspace(-12, -4, 20)
    np.testing.assert_allclose(t_cdf(-tiny, 1.0), 0.5 - np.arctan(tiny) / np.pi, rtol=1e-15)
    assert t_cdf(np.inf, 3) == 1.0 and t_cdf(-np.inf, 3) == 0.0 and np.isnan(t_cdf(1.0, -1.0))
    with pytest.raises(InvalidInputError):
        t_cdf(np.zeros(3), np.ones(2))
    with pytest.raises(InvalidTypeError):
        t_cdf(np.array(["a"]), 3)


def _t_ppf_mpmath(q: float, df: float) -> float:
    """The exact t quantile (50 digits, mpmath): Newton on log P(T < -t) = log p in s = log t."""
    import mpmath as mp

    mp.mp.dps = 50
    p = mp.mpf(min(q, 1.0 - q)) if q < 0.5 else mp.mpf(1) - mp.mpf(q)
    nu = mp.mpf(df)
    c = mp.gamma((nu + 1) / 2) / (mp.sqrt(nu * mp.pi) * mp.gamma(nu / 2))
    # start: the leading term of the tail, P ~ c nu^((nu+1)/2) t^-nu / nu
    s = (mp.log(c) + (nu + 1) / 2 * mp.log(nu) - mp.log(nu) - mp.log(p)) / nu
    for _ in range(60):
        t = mp.exp(s)
        x = nu / (nu + t * t)
        F = mp.betainc(nu / 2, mp.mpf(1) / 2, 0, x, regularized=True) / 2
        dlog = -t * c * (1 + t * t / nu) ** (-(nu + 1) / 2) / F  # d log F / d log t
        step = (mp.log(F) - mp.log(p)) / dlog
        s -= step
        if abs(step) < mp.mpf(10) ** -40:
            break
    t = mp.exp(s)
    big = t > mp.mpf(np.finfo(np.float64).max)
    v = float("inf") if big else float(t)
    return -v if q < 0.5 else v


@pytest.mark.parametrize("df", [0.1, 0.5, 0.75, 1.5, 3.5, 10.0])
def test_t_ppf_far_tails_small_and_fractional_df(df: float) -> None:
    """Down to p = 1e-300, where t^2 (or t itself) leaves the double range: the exact quantile
    from mpmath (scipy is no reference there: its t.ppf saturates at ~4.7e153, e.g. -4.74e153
    at df = 0.5 for every p below ~1e-77, where the exact answer is -2.2e200 at p = 1e-100),
    and wrong well before (df = 3.5, p = 1e-200: -9.10e56 for -1.64e57); scipy is checked
    where it is right, p >= 1e-30 and |t| < 1e150."""
    from scipy import stats

    from tokgeo.metrics import t_ppf

    qs = [1e-300, 1e-250, 1e-200, 1e-150, 1e-100, 1e-77, 1e-50, 1e-30, 1e-20, 1e-10, 1e-3]
    qs += [1.0 - 1e-16, 1.0 - 1e-10]
    for q in qs:
        got = float(t_ppf(q, df))
        want = _t_ppf_mpmath(q, df)
        if np.isinf(want):
            assert got == want, (q, df, got)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-10, err_msg=f"q={q} df={df}")
        ref = float(stats.t.ppf(q, df))
        if min(q, 1.0 - q) >= 1e-30 and abs(ref) < 1e150:
            np.testing.assert_allclose(got, ref, rtol=1e-10, err_msg=f"scipy q={q} df={df}")
