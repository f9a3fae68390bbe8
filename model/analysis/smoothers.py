"""Regressions of net-benefit differences on parameter samples, for EVPPI.

Both smoothers are linear in the data given the design: `fitter` takes
the (n, m) basis columns Z of which every regression target is a
combination (the strategies' costs and effects) and returns the fit, which
takes a (m, T) matrix of combinations and returns the (n, T) fitted values
(called on a few targets at a time, so that memory does not grow with T).
Working on Z's cross-products rather than on T target vectors of length n
keeps the cost per target tiny.

- `PolynomialSmoother`: least squares on an intercept and, per parameter,
  p, p², …, p^order (dampack's ``type = "poly"``, no interactions).  The
  columns are standardised first: the same column space as R's raw powers,
  far better conditioned.  Fitted values of least squares are unique even
  when the design is rank-deficient, so this matches lm's.
- `SplineSmoother`: a penalised regression spline with smoothing chosen by
  GCV, structured as dampack's ``type = "gam"`` formula for mgcv: one
  parameter, ``s(p)`` with 10 basis functions; two or more,
  ``s(p1, k=3) + s(p2, k=3) + … + ti(p1, p2, …, k=3)``.  Each margin is a
  cubic regression spline (mgcv's "cr": knots at quantiles as mgcv's
  ``place.knots``, penalty ∫f''²) with mgcv's sum-to-zero constraint;
  ``ti`` is the row-wise tensor product of the constrained margins with
  one penalty per margin.  mgcv's ``s(p)`` default is a thin-plate spline,
  whose basis needs an eigen-decomposition of an n × n matrix (slow); the
  cubic regression spline of the same size is the usual fast substitute
  and gives the same EVPPI within the reference tolerance.  The smoothing
  parameters (one per penalty) minimise mgcv's GCV score
  n·RSS/(n − edf)², per target, by a cyclic search over log λ (two
  sweeps of a coarse grid, one of a fine grid around the best), each
  coordinate step one batched eigen-decomposition per target.

Why our own spline rather than a library: of the Python GAM/GP options,
pygam came within the tolerance but is two orders of magnitude slower and
brings scipy into the service's image; heormodel's unpenalised splines
miss the tolerance for some parameters and its Gaussian process is slow
and misses it too; scikit-learn's GP (heormodel's) likewise.  mgcv's
method — penalised regression splines, GCV — is a few dozen lines of
NumPy on a design of at most 1 + 2g + 2^g columns.  Figures:
bench/RESULTS.md (bench/bench_analysis.py).
"""

from __future__ import annotations

import numpy as np

from .psa import AnalysisError

# mgcv's defaults in dampack's formulas.
SINGLE_BASIS_SIZE = 10
GROUP_BASIS_SIZE = 3
# The spline's design has 1 + 2g + 2^g columns for g parameters.
MAX_SPLINE_PARAMETERS = 4
_COARSE_LOG_LAMBDA = np.arange(-16.0, 16.01, 1.0)
_FINE_STEPS = np.arange(-1.0, 1.01, 0.125)
_COARSE_SWEEPS = 2


def _varying(samples: np.ndarray) -> np.ndarray:
    """The columns that vary, each rescaled to a spread of 1 about a mean of
    0.  Both smoothers' fits are unchanged by rescaling a parameter (the
    same column space; the spline's knots move with the values), and the
    rescaled design stays well conditioned whatever the units.  A column
    whose spread is below 1e-10 of its magnitude is constant: it explains
    nothing (lm drops its collinear columns too)."""
    magnitude = np.abs(samples).max(axis=0)
    magnitude[magnitude == 0] = 1.0
    scaled = samples / magnitude
    spread = np.ptp(scaled, axis=0)
    keep = spread > 1e-10
    scaled = scaled[:, keep]
    return (scaled - scaled.mean(axis=0)) / spread[keep]


def _orthonormal_basis(design: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the design's column space (rank-revealing)."""
    if design.shape[1] == 0:
        return design
    u, s, _ = np.linalg.svd(design, full_matrices=False)
    tol = s[0] * max(design.shape) * np.finfo(float).eps
    return u[:, s > tol]


class PolynomialSmoother:
    """dampack's ``type = "poly"``: see the module's docstring."""

    def __init__(self, samples: np.ndarray, order: int = 2):
        if not isinstance(order, (int, np.integer)) or isinstance(order, bool) or order < 1:
            raise AnalysisError(f"polynomial order must be a whole number ≥ 1, got {order!r}")
        x = _varying(samples)
        if x.shape[1]:
            powers = x[:, :, None] ** np.arange(1, order + 1)
            design = powers.reshape(len(x), -1)
            design = design - design.mean(axis=0)
        else:
            design = np.zeros((len(samples), 0))
        self._basis = _orthonormal_basis(design)

    def fitter(self, columns: np.ndarray):
        means = columns.mean(axis=0)
        # Project Z once, then combine: H(Zc) = (HZ)c.
        projected = self._basis @ (self._basis.T @ (columns - means))

        def fit(combinations: np.ndarray) -> np.ndarray:
            return combine(means[None, :], combinations) + combine(projected, combinations)

        return fit


def combine(columns: np.ndarray, combinations: np.ndarray) -> np.ndarray:
    """columns @ combinations, (n, m) @ (m, T), summed term by term in a
    fixed order: each of the T results is the same bits however many are
    computed together.  A BLAS product chooses its kernel by shape, so its
    last bits would depend on T, that is on how a WTP grid is chunked."""
    out = np.multiply.outer(columns[:, 0], combinations[0])
    term = np.empty_like(out)
    for m in range(1, columns.shape[1]):
        np.multiply.outer(columns[:, m], combinations[m], out=term)
        out += term
    return out


def place_knots(x: np.ndarray, k: int) -> np.ndarray:
    """mgcv's ``place.knots``: k knots evenly spread through the sorted
    unique values (k ≤ number of unique values)."""
    u = np.unique(x)
    n = len(u)
    if k == 2:
        return u[[0, -1]]
    delta = (n - 1) / (k - 1)
    i = np.arange(1, k - 1)
    lbi = np.floor(delta * i).astype(int) + 1  # R's 1-based index
    frac = delta * i + 1 - lbi
    knots = np.empty(k)
    knots[0], knots[-1] = u[0], u[-1]
    knots[1:-1] = u[lbi - 1] * (1 - frac) + u[lbi] * frac
    return knots


def cubic_regression_spline(x: np.ndarray, knots: np.ndarray):
    """Design (n, k) and penalty (k, k) of the natural cubic spline
    parametrised by its values at the knots (Wood 2017, §5.3.1)."""
    k = len(knots)
    h = np.diff(knots)
    d = np.zeros((k - 2, k))
    b = np.zeros((k - 2, k - 2))
    for i in range(k - 2):
        d[i, i], d[i, i + 1], d[i, i + 2] = 1 / h[i], -1 / h[i] - 1 / h[i + 1], 1 / h[i + 1]
        b[i, i] = (h[i] + h[i + 1]) / 3
        if i < k - 3:
            b[i, i + 1] = b[i + 1, i] = h[i + 1] / 6
    f = np.linalg.solve(b, d)
    second = np.vstack([np.zeros(k), f, np.zeros(k)])  # second derivatives at knots
    penalty = d.T @ f
    j = np.clip(np.searchsorted(knots, x, side="right") - 1, 0, k - 2)
    left, right, hj = x - knots[j], knots[j + 1] - x, h[j]
    design = (((right**3 / hj - hj * right) / 6)[:, None] * second[j]
              + ((left**3 / hj - hj * left) / 6)[:, None] * second[j + 1])
    rows = np.arange(len(x))
    design[rows, j] += right / hj
    design[rows, j + 1] += left / hj
    return design, penalty


def _constrained_margin(x: np.ndarray, k: int):
    """A cr margin with mgcv's sum-to-zero constraint absorbed (k − 1
    columns that sum to zero over the samples)."""
    k = min(k, len(np.unique(x)))
    if k < 3:  # two distinct values: a straight line is all there is
        column = (x - x.mean())[:, None]
        return column, np.zeros((1, 1))
    design, penalty = cubic_regression_spline(x, place_knots(x, k))
    q, _ = np.linalg.qr(design.sum(axis=0)[:, None], mode="complete")
    z = q[:, 1:]
    return design @ z, z.T @ penalty @ z


def _row_kron(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a[:, :, None] * b[:, None, :]).reshape(len(a), -1)


class SplineSmoother:
    """dampack's ``type = "gam"``, our way: see the module's docstring."""

    def __init__(self, samples: np.ndarray):
        x = _varying(samples)
        g = x.shape[1]
        if g > MAX_SPLINE_PARAMETERS:
            raise AnalysisError(
                f"the spline EVPPI takes groups of up to {MAX_SPLINE_PARAMETERS} parameters "
                f"that vary (got {g}); use the polynomial method for larger groups"
            )
        blocks: list[tuple[np.ndarray, list[np.ndarray]]] = []
        if g == 1:
            design, penalty = _constrained_margin(x[:, 0], SINGLE_BASIS_SIZE)
            blocks.append((design, [penalty]))
        elif g > 1:
            margins = [_constrained_margin(x[:, i], GROUP_BASIS_SIZE) for i in range(g)]
            blocks.extend((design, [penalty]) for design, penalty in margins)
            tensor = margins[0][0]
            for design, _ in margins[1:]:
                tensor = _row_kron(tensor, design)
            sizes = [design.shape[1] for design, _ in margins]
            penalties = []
            for i, (_, penalty) in enumerate(margins):
                factors = [np.eye(s) for s in sizes]
                factors[i] = penalty
                full = factors[0]
                for factor in factors[1:]:
                    full = np.kron(full, factor)
                penalties.append(full)
            blocks.append((tensor, penalties))
        widths = [design.shape[1] for design, _ in blocks]
        self._design = np.hstack([d for d, _ in blocks]) if blocks else np.zeros((len(x), 0))
        if len(x) <= self._design.shape[1] + 1:
            # mgcv: "Model has more coefficients than data".
            raise AnalysisError(
                f"the spline EVPPI of {g} parameter(s) has {self._design.shape[1] + 1} "
                f"coefficients: it needs more PSA samples than that (got {len(x)})"
            )
        self._design -= self._design.mean(axis=0)
        self._gram = self._design.T @ self._design
        q = self._design.shape[1]
        self._penalties = []
        start = 0
        for (design, penalties), width in zip(blocks, widths):
            block_gram = self._gram[start:start + width, start:start + width]
            for penalty in penalties:
                norm = np.linalg.norm(penalty)
                if norm == 0:  # the straight-line margin: nothing to penalise
                    continue
                full = np.zeros((q, q))
                # Scaled like the data, so one λ grid suits every block.
                full[start:start + width, start:start + width] = (
                    penalty * np.linalg.norm(block_gram) / norm
                )
                self._penalties.append(full)
            start += width
        # A whisker of ridge keeps M invertible when parameters are collinear
        # (the design's columns are of order 1: the parameters are rescaled).
        self._ridge = max(1e-10 * np.trace(self._gram) / max(q, 1), 1e-12) * np.eye(q)

    def _coordinate_step(self, log_lambda, j, candidates, xty, yty):
        """For each target t, the best of `candidates[t]` (log λ values) for
        penalty j with the other log λ held at `log_lambda[t]`: the new log
        λ (T,) and the coefficients there (T, q).

        With A = X'X + Σ_{i≠j} λ_i S_i fixed, one generalised eigen-
        decomposition per target (P'AP = I, P'S_jP = diag(d)) makes every
        candidate λ_j cheap: (A + λ_j S_j)⁻¹ = P diag(1/(1 + λ_j d)) P'.
        So the grid costs O(q) per candidate, not a q × q solve."""
        n, _ = self._design.shape
        penalties = np.stack(self._penalties)
        others = np.exp(log_lambda)
        others[:, j] = 0.0
        # Targets that share the other λ share the decomposition (all of
        # them in the first step, and with one penalty): do each once.
        others, target_of = np.unique(others, axis=0, return_inverse=True)
        a = self._gram + self._ridge + np.einsum("ur,rab->uab", others, penalties)
        values, vectors = np.linalg.eigh(a)
        # Rounding can leave an eigenvalue a hair below the ridge (or 0).
        values = np.maximum(values, self._ridge[0, 0])
        inverse_root = (vectors / np.sqrt(values)[:, None, :]) @ vectors.transpose(0, 2, 1)
        d, u = np.linalg.eigh(inverse_root @ penalties[j] @ inverse_root)
        p = inverse_root @ u
        pgp = p.transpose(0, 2, 1) @ self._gram @ p
        target_of = target_of.ravel()
        d, p, pgp = d[target_of], p[target_of], pgp[target_of]
        z = np.einsum("tqa,qt->ta", p, xty)
        shrink = 1.0 / (1.0 + np.exp(candidates)[:, :, None] * np.maximum(d, 0.0)[:, None, :])
        edf = 1.0 + np.einsum("tgq,tq->tg", shrink, np.diagonal(pgp, axis1=1, axis2=2))
        coefficients = z[:, None, :] * shrink  # in the P basis
        rss = (yty[:, None] - 2 * np.einsum("tgq,tq->tg", coefficients, z)
               + np.einsum("tgq,tqa,tga->tg", coefficients, pgp, coefficients))
        rss = np.maximum(rss, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(edf < n, n * rss / (n - edf) ** 2, np.inf)
        pick = np.argmin(np.nan_to_num(score, nan=np.inf), axis=1)
        rows = np.arange(len(pick))
        beta = np.einsum("tqa,ta->tq", p, coefficients[rows, pick])
        return candidates[rows, pick], beta

    def fitter(self, columns: np.ndarray):
        column_means = columns.mean(axis=0)
        centred = columns - column_means
        # The data's cross-products, once: each target's are combinations of them.
        xtz = self._design.T @ centred
        ztz = centred.T @ centred
        del centred

        def fit(combinations: np.ndarray) -> np.ndarray:
            return self._fit(len(columns), combine(column_means[None, :], combinations)[0],
                             combine(xtz, combinations),
                             np.einsum("mt,mn,nt->t", combinations, ztz, combinations))

        return fit

    def _fit(self, n: int, means: np.ndarray, xty: np.ndarray, yty: np.ndarray) -> np.ndarray:
        """Fitted values (n, T) of the targets whose means, X'y and y'y are given."""
        t = len(means)
        if self._design.shape[1] == 0:
            return np.broadcast_to(means, (n, t)).copy()
        r = len(self._penalties)
        if r == 0:  # nothing to smooth (straight lines): least squares
            beta = np.linalg.solve(self._gram + self._ridge, xty).T
            return means + combine(self._design, beta.T)
        log_lambda = np.zeros((t, r))
        coarse = np.broadcast_to(_COARSE_LOG_LAMBDA, (t, len(_COARSE_LOG_LAMBDA)))
        for sweep in range(_COARSE_SWEEPS + 1):
            for j in range(r):
                grid = coarse if sweep < _COARSE_SWEEPS else log_lambda[:, j, None] + _FINE_STEPS
                log_lambda[:, j], beta = self._coordinate_step(log_lambda, j, grid, xty, yty)
        return means + combine(self._design, beta.T)
