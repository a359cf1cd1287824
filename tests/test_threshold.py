"""device.threshold: thresholds whose claimed false-alarm rate the calibration data support.

Honesty is checked on scores of known distribution: over many calibration draws, the true
exceedance probability at the chosen threshold is at most the requested rate and at most
fa_supported in about CONF (90%) of draws. The bar is 85% over 400 draws (the binomial
spread at 90% is 1.5 points; the bounds are conservative, so coverage comes out higher).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from device import threshold as th
from device.threshold import choose, threshold_from_scores

DRAWS = 400


def _coverage(sample, sf, n, a, seed=0):
    """Share of draws where the true rate at the threshold is <= a and <= fa_supported."""
    rs = np.random.RandomState(seed)
    ok_a = ok_sup = 0
    methods = set()
    for _ in range(DRAWS):
        t, sup, how = choose(list(sample(rs, n)), a)
        methods.add(how)
        true = sf(t)
        ok_a += true <= a
        ok_sup += true <= sup * (1 + 1e-9)
    return ok_a / DRAWS, ok_sup / DRAWS, methods


@pytest.mark.parametrize("n", [12, 25, 60, 117])
def test_tail_threshold_is_honest_on_exponential_scores(n):
    cov_a, cov_sup, methods = _coverage(lambda rs, k: rs.exponential(3.0, k),
                                        lambda t: math.exp(-t / 3.0), n, 0.01)
    assert methods == {"tail"}
    assert cov_a >= 0.85 and cov_sup >= 0.85


@pytest.mark.parametrize("n", [25, 117])
def test_tail_threshold_is_honest_on_chi_square_scores(n):
    """d^2 of 39 Gaussian features: chi-square(39), the ceiling-fan model's shape."""
    cov_a, cov_sup, _ = _coverage(lambda rs, k: rs.chisquare(39, k), lambda t: stats.chi2.sf(t, 39),
                                  n, 0.01, seed=1)
    assert cov_a >= 0.85 and cov_sup >= 0.85


def test_rank_threshold_is_honest_without_a_distribution():
    """Enough windows for the rate: an order statistic, distribution-free."""
    cov_a, cov_sup, methods = _coverage(lambda rs, k: rs.uniform(0, 1, k), lambda t: max(0.0, 1.0 - t),
                                        2000, 0.01, seed=2)
    assert methods == {"rank"}
    assert cov_a >= 0.85 and cov_sup >= 0.85


def test_the_plain_conformal_maximum_was_not_honest():
    """What the issue measured: with 25 windows the largest score, claimed as 1%, is
    exceeded by more than 1% of new normal windows in most calibration draws."""
    rs = np.random.RandomState(3)
    over = [math.exp(-threshold_from_scores(list(rs.exponential(1.0, 25)), 0.01)) > 0.01
            for _ in range(DRAWS)]
    assert np.mean(over) > 0.6


def test_threshold_is_monotone_in_rate_and_margin_and_scales_with_the_scores():
    rs = np.random.RandomState(4)
    for n in (8, 25, 117, 400):
        s = list(rs.chisquare(39, n))
        rates = [0.001, 0.003, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5]
        ts = [choose(s, a)[0] for a in rates]
        assert all(x >= y for x, y in zip(ts, ts[1:])), (n, ts)
        assert choose(s, 0.01, margin=1.5)[0] == pytest.approx(1.5 * choose(s, 0.01)[0])
        assert choose(s, 0.01, margin=1.5)[1] <= choose(s, 0.01)[1]
        t, sup, how = choose(s, 0.01)
        t7, sup7, how7 = choose([7.0 * v for v in s], 0.01)
        assert t7 == pytest.approx(7.0 * t, rel=1e-9) and sup7 == pytest.approx(sup) and how7 == how
    # the rank/tail switch: at n = 400 and 1% the rank bound applies, below it the tail
    assert choose(s, 0.01)[2] == "rank" and choose(s, 0.003)[2] == "tail"


def test_small_and_degenerate_calibration_sets():
    s = [float(v) for v in range(1, 9)]  # 8 windows: too few for a tail fit
    t, sup, how = choose(s, 0.01)
    assert (t, how) == (8.0, "max")
    assert sup == pytest.approx(-math.log(0.1) / 8)  # 90% bound with no exceedance: 2.3/n
    assert th.differs(sup, 0.01)
    t, sup, how = choose([5.0] * 30, 0.01)  # all equal: no tail to fit
    assert (t, how) == (5.0, "max") and sup == pytest.approx(-math.log(0.1) / 30)
    # non-finite scores are ignored, not sorted into the middle
    base = list(np.random.RandomState(5).exponential(1.0, 40))
    assert choose(base + [float("nan"), float("inf")], 0.01) == choose(base, 0.01)
    t, sup, how = choose(base, 0.01)
    assert how == "tail" and t > max(base) and sup == pytest.approx(0.01)
    with pytest.raises(ValueError):
        choose([], 0.01)
    with pytest.raises(ValueError):
        choose([float("nan")], 0.01)
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError):
            choose(base, bad)
    assert not th.differs(0.0100001, 0.01) and th.differs(0.02, 0.01)


def test_quantile_approximations():
    for p in (0.001, 0.1, 0.5, 0.9, 0.975):
        assert th.normal_quantile(p) == pytest.approx(stats.norm.ppf(p), abs=5e-4)
    for p in (0.1, 0.9):
        for dof in (2, 4, 10, 12, 60, 102):
            assert th.chi2_quantile(p, dof) == pytest.approx(stats.chi2.ppf(p, dof), rel=0.02)
    assert th.chi2_quantile(0.9, 2) == pytest.approx(stats.chi2.ppf(0.9, 2), rel=1e-12)


def test_float32_inputs_give_the_same_threshold():
    """The board holds scores and the rate in float32 (30-bit floats)."""
    s = np.random.RandomState(6).chisquare(39, 60).astype(np.float32)
    t64 = choose([float(v) for v in s], 0.01)
    t32 = choose(list(s), np.float32(0.01))
    assert t32[0] == pytest.approx(t64[0], rel=1e-5) and t32[2] == t64[2]


def test_choose_matches_cpython_on_micropython(tmp_path):
    from test_micropython import _json_lines, run_mp

    rs = np.random.RandomState(7)
    cases = [([round(float(v), 4) for v in rs.chisquare(39, n)], a)
             for n, a in ((8, 0.01), (25, 0.01), (117, 0.01), (400, 0.01), (60, 0.1))]
    script = ("import json\nfrom device.threshold import choose\n"
              "for s, a in json.loads(%r):\n"
              "    t, sup, how = choose(s, a, 1.25)\n"
              "    print(json.dumps([t, sup, how]))\n" % json.dumps(cases))
    got = _json_lines(run_mp(script, tmp_path))
    assert len(got) == len(cases)
    for (s, a), (t, sup, how) in zip(cases, got):
        wt, wsup, whow = choose(s, a, 1.25)
        assert how == whow and t == pytest.approx(wt, rel=1e-5) and sup == pytest.approx(wsup, rel=1e-4)
