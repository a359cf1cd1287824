"""Thresholds that claim only the false-alarm rate their calibration scores can support.

`choose(scores, fa_rate)` returns (threshold, fa_supported, method). fa_supported is a
CONF (90%) upper confidence bound of the probability that a new normal window scores above
the threshold, so "supported <= requested" is a statement the data back up:

- "rank": enough scores (about 2.3/fa_rate at 90%): the largest order statistic whose
  count of higher scores still bounds the rate (a Poisson/Clopper-Pearson style bound).
  Distribution-free.
- "tail": fewer scores (the usual case: 25-120 calibration windows at 1%): peaks over
  threshold. The k largest scores' excesses over the (k+1)-th largest are fitted with an
  exponential tail (d^2 of near-Gaussian features is chi-square-like, whose tail is
  exponential or lighter, so the fit errs high); the threshold uses 90% upper bounds of
  both the tail's scale (chi-square on 2k degrees of freedom) and the share of windows
  above the (k+1)-th largest. Never below the largest score: the data cannot vouch for
  any line below it. The bound holds under the exponential-tail assumption.
- "max": fewer than MIN_TAIL scores, or a degenerate tail: the largest score, which
  supports only about 2.3/n; the caller should warn.

threshold_from_scores keeps the plain split-conformal order statistic (an empirical
quantile; used where a quantile of observed data is wanted, not a guarantee).

Board code: `math` only, plain lists, 30-bit floats are enough (no sums of many terms).
"""

import math

CONF = 0.9  # confidence of fa_supported and of the tail threshold
MIN_TAIL = 10  # fewer scores: no tail fit
K_MIN = 5  # excesses in the tail fit: n // 4, within [K_MIN, K_MAX]
K_MAX = 50


def threshold_from_scores(scores, fa_rate):
    """Split-conformal threshold: the ceil((n+1)(1-a))-th smallest of n calibration scores.

    For a new normal window exchangeable with the calibration windows this bounds the
    false-alarm probability by `fa_rate` on average over calibration sets; with few
    windows it falls back to the largest (which supports only about 1/(n+1)).
    """
    s = sorted(float(v) for v in scores)
    n = len(s)
    if n == 0:
        raise ValueError("no calibration scores")
    # ceil((n+1)(1-a)) in integers: with the board's 30-bit float scalars the product or
    # a "+0.999999" rounding trick would move the rank by one.
    ppm = int(fa_rate * 1000000 + 0.5)
    k = ((n + 1) * (1000000 - ppm) + 999999) // 1000000
    if k > n:
        k = n
    if k < 1:
        k = 1
    return s[k - 1]


def normal_quantile(p):
    """z with P(Z <= z) = p (Abramowitz-Stegun 26.2.23, |error| < 4.5e-4)."""
    if not 0.0 < p < 1.0:
        raise ValueError("probability must be in (0, 1)")
    q = p if p < 0.5 else 1.0 - p
    t = math.sqrt(-2.0 * math.log(q))
    z = t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / \
        (1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t)
    return z if p >= 0.5 else -z


def chi2_quantile(p, dof):
    """p-quantile of chi-square with dof degrees of freedom (Wilson-Hilferty; within ~1%
    for dof >= 2 at the probabilities used here; exact for dof == 2)."""
    if dof == 2:
        return -2.0 * math.log(1.0 - p)
    c = 2.0 / (9.0 * dof)
    w = 1.0 - c + normal_quantile(p) * math.sqrt(c)
    if w <= 0.0:
        return 0.0
    return dof * w * w * w


def count_upper(m, conf=CONF):
    """Upper `conf` bound of the expected count of a rare event seen m times (Poisson;
    no smaller than the binomial bound, so dividing by n bounds a rate)."""
    return 0.5 * chi2_quantile(conf, 2 * m + 2)


def _clean(scores):
    s = []
    for v in scores:
        v = float(v)
        if v == v and v - v == 0.0:  # finite: NaN != NaN, inf - inf is NaN
            s.append(v)
    s.sort()
    return s


def choose(scores, fa_rate, margin=1.0, conf=CONF):
    """(threshold, fa_supported, method) for calibration scores at a stated rate.

    margin (>= 1, scores >= 0) multiplies the chosen threshold; fa_supported is evaluated
    at the multiplied threshold. Non-finite scores are ignored.
    """
    if not 0.0 < fa_rate < 1.0:
        raise ValueError("fa_rate must be between 0 and 1")
    s = _clean(scores)
    n = len(s)
    if n == 0:
        raise ValueError("no calibration scores")
    top = s[n - 1]
    if count_upper(0, conf) / n <= fa_rate:
        m = 0
        while m + 1 < n and count_upper(m + 1, conf) / n <= fa_rate:
            m += 1
        t = s[n - 1 - m] * margin
        return t, _rank_bound(s, t, conf), "rank"
    if n >= MIN_TAIL:
        k = n // 4
        k = K_MIN if k < K_MIN else (K_MAX if k > K_MAX else k)
        u = s[n - 1 - k]
        excess = 0.0
        for j in range(n - k, n):
            excess += s[j] - u
        sigma = excess / k
        if sigma > 0.0:
            sigma_up = 2.0 * k * sigma / chi2_quantile(1.0 - conf, 2 * k)
            p_up = count_upper(k, conf) / n
            if p_up > 1.0:
                p_up = 1.0
            t = u + sigma_up * math.log(p_up / fa_rate)
            if t < top:
                t = top
            t *= margin
            return t, p_up * math.exp(-(t - u) / sigma_up), "tail"
    t = top * margin
    return t, _rank_bound(s, t, conf), "max"


def supported_at(scores, t, conf=CONF):
    """The rate a given threshold t supports on these scores (a CONF upper bound): the
    distribution-free bound when the scores are enough for it or t lies inside them,
    otherwise the exponential-tail bound choose() uses (the smaller of the two)."""
    s = _clean(scores)
    n = len(s)
    if n == 0:
        raise ValueError("no scores")
    b = _rank_bound(s, t, conf)
    if n < MIN_TAIL:
        return b
    k = n // 4
    k = K_MIN if k < K_MIN else (K_MAX if k > K_MAX else k)
    u = s[n - 1 - k]
    if t <= u:
        return b
    excess = 0.0
    for j in range(n - k, n):
        excess += s[j] - u
    sigma = excess / k
    if sigma <= 0.0:
        return b
    sigma_up = 2.0 * k * sigma / chi2_quantile(1.0 - conf, 2 * k)
    p_up = count_upper(k, conf) / n
    if p_up > 1.0:
        p_up = 1.0
    tail = p_up * math.exp(-(t - u) / sigma_up)
    return tail if tail < b else b


def _rank_bound(s, t, conf):
    """Distribution-free upper bound of P(score > t) from sorted scores s."""
    n = len(s)
    m = 0
    while m < n and s[n - 1 - m] > t:
        m += 1
    b = count_upper(m, conf) / n
    return 1.0 if b > 1.0 else b


def windows_needed(fa_rate, conf=CONF):
    """Calibration windows that back `fa_rate` without any tail assumption: the smallest n
    with count_upper(0) / n <= fa_rate (230 at 1%, 46 at 5%). A tail fit may back the rate
    with fewer, under its exponential-tail assumption."""
    if not 0.0 < fa_rate < 1.0:
        raise ValueError("fa_rate must be between 0 and 1")
    c = count_upper(0, conf)
    n = int(c / fa_rate)
    while c / n > fa_rate:
        n += 1
    return n


def differs(supported, requested, tol=0.05):
    """True when the supported rate is worse than the requested one (beyond rounding)."""
    return supported > requested * (1.0 + tol)
