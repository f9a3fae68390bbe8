"""A PSA as the analyses see it: costs and effects per sample and strategy,
and optionally the parameter values each sample was computed from.

Shapes, everywhere in `model.analysis`: costs and effects are (n, k) arrays
— n PSA samples, k strategies in the order of `strategies`; parameters are
(n, p) with one name per column; willingness-to-pay values are a 1-D array
of W values in currency units per unit of effect (per QALY here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError

# The longest willingness-to-pay grid the analyses take (the command line;
# one service request takes fewer: REQUEST_WTP_POINTS): it bounds time.
MAX_GRID_POINTS = 1001
# Memory does not grow with the grid: the W × n arrays of the analyses are
# worked through a few WTP rows at a time (`wtp_chunks`), each (rows, n)
# array at most this size (one row, however large n, at the least).  Every
# figure is a per-row computation (a row's NMB, its maximum, its mean over
# the samples), so the numbers are the same, bit for bit, as in one piece.
CHUNK_BYTES = 4 * 1024 * 1024


class AnalysisError(ModelError):
    """Bad input to an analysis: shapes, names, values or a WTP grid."""


def _finite_matrix(values, what: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise AnalysisError(f"{what} must be numbers") from None
    if array.ndim != 2:
        raise AnalysisError(f"{what} must be a table (samples × columns), got {array.ndim} dimension(s)")
    bad = ~np.isfinite(array)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise AnalysisError(
            f"{what} must be finite numbers: sample {row + 1}, column {col + 1} is {array[row, col]}"
        )
    return array


def _names(names: Sequence[str], count: int, what: str) -> tuple[str, ...]:
    names = tuple(str(name) for name in names)
    if len(names) != count:
        raise AnalysisError(f"{count} {what} columns but {len(names)} names")
    seen: set[str] = set()
    for name in names:
        if not name:
            raise AnalysisError(f"a {what} name is empty")
        if name in seen:
            raise AnalysisError(f"{what} {name!r} appears twice")
        seen.add(name)
    return names


@dataclass(frozen=True, eq=False)
class PSA:
    """The validated inputs of every analysis (dampack's ``make_psa_obj``).

    `parameters`/`parameter_names` are needed only for EVPPI.
    """

    costs: np.ndarray
    effects: np.ndarray
    strategies: tuple[str, ...]
    parameters: np.ndarray | None = None
    parameter_names: tuple[str, ...] = ()

    def __post_init__(self):
        costs = _finite_matrix(self.costs, "costs")
        effects = _finite_matrix(self.effects, "effects")
        if costs.shape != effects.shape:
            raise AnalysisError(
                f"costs are {costs.shape[0]} × {costs.shape[1]} but effects "
                f"{effects.shape[0]} × {effects.shape[1]} (samples × strategies)"
            )
        if costs.shape[0] < 1 or costs.shape[1] < 1:
            raise AnalysisError("a PSA needs at least one sample and one strategy")
        # Column-major: a strategy's samples are contiguous, so its mean is
        # summed as a 1-D array's is (pairwise), the same to the last digit
        # whatever layout the caller had; and `.T` rows are contiguous.
        costs, effects = np.asfortranarray(costs), np.asfortranarray(effects)
        object.__setattr__(self, "costs", costs)
        object.__setattr__(self, "effects", effects)
        # For the overflow check of every WTP grid (`wtp`).
        object.__setattr__(self, "_largest", (np.abs(effects).max(), np.abs(costs).max()))
        object.__setattr__(self, "strategies", _names(self.strategies, costs.shape[1], "strategy"))
        if self.parameters is not None:
            parameters = _finite_matrix(self.parameters, "parameter samples")
            if parameters.shape[0] != costs.shape[0]:
                raise AnalysisError(
                    f"{parameters.shape[0]} parameter samples for {costs.shape[0]} PSA samples"
                )
            object.__setattr__(self, "parameters", parameters)
            object.__setattr__(
                self, "parameter_names",
                _names(self.parameter_names, parameters.shape[1], "parameter"),
            )

    @property
    def n_samples(self) -> int:
        return self.costs.shape[0]

    def wtp(self, wtp) -> np.ndarray:
        """`as_wtp`, and a check that every net benefit w·E − C of this PSA
        is a finite double (a huge w times a large effect would overflow to
        infinity and turn every analysis into NaN)."""
        values = as_wtp(wtp)
        with np.errstate(over="ignore"):
            bound = values.max() * self._largest[0] + self._largest[1]
        if not bound < 1e300:
            raise AnalysisError(
                f"willingness to pay up to {values.max():g} makes net benefits overflow "
                "with these effects and costs"
            )
        return values

    @classmethod
    def from_columns(
        cls,
        values,
        columns: Sequence[str],
        parameters=None,
        parameter_names: Sequence[str] = (),
    ) -> PSA:
        """From a results table whose columns are C_<strategy> and
        E_<strategy> (the model's output): each strategy needs both."""
        values = _finite_matrix(values, "results")
        columns = _names(columns, values.shape[1], "results")
        cost_of = {c[2:]: i for i, c in enumerate(columns) if c.startswith("C_")}
        effect_of = {c[2:]: i for i, c in enumerate(columns) if c.startswith("E_")}
        others = [c for c in columns if not c.startswith(("C_", "E_"))]
        if others:
            raise AnalysisError(
                f"results columns must be C_<strategy> and E_<strategy>; not: {', '.join(others)}"
            )
        unpaired = sorted(set(cost_of) ^ set(effect_of))
        if unpaired:
            raise AnalysisError(
                "each strategy needs a C_ (cost) and an E_ (effect) column; "
                f"unpaired: {', '.join(unpaired)}"
            )
        strategies = tuple(cost_of)  # the costs' column order
        return cls(
            costs=values[:, [cost_of[s] for s in strategies]],
            effects=values[:, [effect_of[s] for s in strategies]],
            strategies=strategies,
            parameters=parameters,
            parameter_names=parameter_names,
        )

    def parameter_columns(self, names: Sequence[str]) -> np.ndarray:
        """The (n, len(names)) samples of the named parameters."""
        if self.parameters is None:
            raise AnalysisError("EVPPI needs the parameter samples of the PSA")
        if len(names) == 0:
            raise AnalysisError("EVPPI needs at least one parameter")
        index = {name: i for i, name in enumerate(self.parameter_names)}
        unknown = [name for name in names if name not in index]
        if unknown:
            raise AnalysisError(
                f"no samples of parameter(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(self.parameter_names)}"
            )
        if len(set(names)) != len(names):
            raise AnalysisError(f"a parameter is named twice in {', '.join(names)}")
        return self.parameters[:, [index[name] for name in names]]


def wtp_chunks(n_wtp: int, n_samples: int) -> list[slice]:
    """Consecutive slices of a W-point grid whose (rows, n_samples) float
    arrays each fit in CHUNK_BYTES (one slice when the whole grid does)."""
    rows = max(1, CHUNK_BYTES // (8 * max(n_samples, 1)))
    return [slice(start, min(start + rows, n_wtp)) for start in range(0, n_wtp, rows)]


def as_wtp(wtp, max_points: int = MAX_GRID_POINTS) -> np.ndarray:
    """Willingness-to-pay values as a 1-D float array, checked."""
    try:
        values = np.atleast_1d(np.asarray(wtp, dtype=float))
    except (TypeError, ValueError):
        raise AnalysisError("willingness to pay must be numbers") from None
    if values.ndim != 1 or values.size == 0:
        raise AnalysisError("willingness to pay must be one or more numbers")
    if values.size > max_points:
        raise AnalysisError(f"at most {max_points} willingness-to-pay values, got {values.size}")
    if not np.isfinite(values).all() or (values < 0).any():
        raise AnalysisError("willingness to pay must be finite and not negative")
    return values


def parse_wtp(text: str, max_points: int = MAX_GRID_POINTS) -> np.ndarray:
    """A WTP list ``a,b,c`` or range ``start:stop:step`` (stop included when
    the steps reach it), as the command line and the service take it."""
    text = str(text).strip()
    usage = f"willingness to pay {text!r}: give a list a,b,c or a range start:stop:step"
    parts = text.split(":") if ":" in text else text.split(",")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        raise AnalysisError(usage) from None
    if ":" not in text:
        return as_wtp(numbers, max_points)
    if len(numbers) != 3:
        raise AnalysisError(usage)
    start, stop, step = numbers
    if not np.isfinite(numbers).all():
        raise AnalysisError(f"willingness-to-pay range {text!r}: the numbers must be finite")
    if not (step > 0 and stop >= start):
        raise AnalysisError(
            f"willingness-to-pay range {text!r}: need start ≤ stop and a step > 0"
        )
    count = int(np.floor((stop - start) / step + 1e-9)) + 1
    if count > max_points:
        raise AnalysisError(
            f"willingness-to-pay range {text!r} has {count} values; at most {max_points}"
        )
    return as_wtp(start + step * np.arange(count), max_points)
