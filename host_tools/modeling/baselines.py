"""Neighbour methods for `host_tools evaluate`, so every number of ours has a comparison.

- `MadMahalanobis`: the original ceiling-fan project's method (ShawnHymel/
  tinyml-example-anomaly-detection): per-axis median absolute deviation x 1.4826 over the
  first 128 samples of each recording, one Gaussian (mean + covariance) over all normal
  fit windows pooled, Mahalanobis distance as the score.
- `IsolationForestBaseline` and `EllipticEnvelopeBaseline`: scikit-learn detectors on the
  same 39 device features as ours, pooled over every normal mode and standardised.

Every baseline scores "higher = more anomalous" and gets its threshold from the same
calibration windows and false-alarm rate as our detectors (device.commission.
threshold_from_scores), so the comparison differs only in the method. None of them
has a commissioning step.
"""

from __future__ import annotations

import warnings
from typing import Protocol

import numpy as np

MAD_SAMPLES = 128  # the original project used only the first 128 rows (0.64 s) per file
MAD_SCALE = 1.4826  # scipy's old median_absolute_deviation default: sigma for a Gaussian
SEED = 0


def mad_features(raw: np.ndarray, samples: int = MAD_SAMPLES) -> np.ndarray:
    """Per-axis MAD x 1.4826 over the first `samples` samples (of each window: with the
    default 200-sample windows of 200-row files, of each file as in the original; a
    shorter window uses all its samples).

    raw: one window (axes, n) or a stack (windows, axes, n); returns (axes,) or
    (windows, axes). Computed in float64: the raw values are quantised to 1/2048 g, and a
    median of them must not pick up float32 rounding.
    """
    x = np.asarray(raw, dtype=np.float64)[..., :samples]
    med = np.median(x, axis=-1, keepdims=True)
    return np.median(np.abs(x - med), axis=-1) * MAD_SCALE


class Baseline(Protocol):
    name: str
    label: str
    input: str  # "mad" (raw-window MAD features) or "features" (the 39 device features)

    def fit(self, x: np.ndarray) -> "Baseline": ...

    def score(self, x: np.ndarray) -> np.ndarray: ...


class MadMahalanobis:
    """One Gaussian on MAD features; score = Mahalanobis distance (as the original)."""

    name = "mad-mahalanobis"
    label = "MAD Mahalanobis (original project, 3 features)"
    input = "mad"

    def fit(self, x: np.ndarray) -> "MadMahalanobis":
        x = np.asarray(x, dtype=np.float64)
        self.mean = x.mean(axis=0)
        # pinv: with few windows or a dead axis the covariance can be singular; the
        # original used np.linalg.inv, which would just fail there.
        self.inv_cov = np.linalg.pinv(np.atleast_2d(np.cov(x, rowvar=False)))
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        d = np.asarray(x, dtype=np.float64) - self.mean
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", d, self.inv_cov, d), 0.0))


class _Standardised:
    """Standardise with the pooled fit windows' mean and spread, then a sklearn model."""

    input = "features"

    def _scale(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.mu) / self.sd

    def fit(self, x: np.ndarray):
        x = np.asarray(x, dtype=np.float64)
        self.mu = x.mean(axis=0)
        self.sd = np.maximum(x.std(axis=0, ddof=1), 1e-9)
        with warnings.catch_warnings():
            # EllipticEnvelope warns when windows are few for 39 dimensions (the bundled
            # subset); the fit is still usable and the report shows how it does.
            warnings.simplefilter("ignore")
            self.model = self._make().fit(self._scale(x))
        return self

    def _make(self):
        raise NotImplementedError


class IsolationForestBaseline(_Standardised):
    name = "isolation-forest"
    label = "IsolationForest (39 device features)"

    def _make(self):
        from sklearn.ensemble import IsolationForest

        return IsolationForest(random_state=SEED)

    def score(self, x: np.ndarray) -> np.ndarray:
        # score_samples is the negated anomaly score in (0, 1]; negate back so that
        # higher = more anomalous and the threshold stays positive (ratio = score/thr).
        return -self.model.score_samples(self._scale(x))


class EllipticEnvelopeBaseline(_Standardised):
    name = "elliptic-envelope"
    label = "EllipticEnvelope (39 device features)"

    def _make(self):
        from sklearn.covariance import EllipticEnvelope

        return EllipticEnvelope(random_state=SEED)

    def score(self, x: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.model.mahalanobis(self._scale(x))  # squared robust distance


def all_baselines() -> list[Baseline]:
    return [MadMahalanobis(), IsolationForestBaseline(), EllipticEnvelopeBaseline()]
