"""The distributions a parameter table may name, as one table of data.

Each row says what v1 and v2 mean, which values can be sampled, and how
NumPy samples it.  Parametrisations follow R's, so a table written for the
original means the same here; R's random streams differ from NumPy's, so
draws match R in distribution, not number for number.

========================  ===========  ==========  ==========================
distribution              v1           v2          R call
========================  ===========  ==========  ==========================
``beta``                  shape1       shape2      ``rbeta(n, v1, v2)``
``gamma``                 shape        scale       ``rgamma(n, shape=v1, scale=v2)``
``normal``                mean         sd          ``rnorm(n, v1, v2)``
``rlnorm``                meanlog      sdlog       ``rlnorm(n, v1, v2)``
``random uniform``        min          max         ``runif(n, v1, v2)``
``fixed``                 value        (unused)    ``rep(v1, n)``
========================  ===========  ==========  ==========================

R accepts some impossible values silently and returns NaN samples (with a
warning) that later break the model in obscure ways; each rule below
refuses them with a message that names the values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from .errors import DistributionParameterError, UnknownDistributionError, quoted


def _unsigned(sd: float) -> float:
    """`sd` with a negative zero made positive: -0.0 passes the rule
    ``sd >= 0``, but NumPy reads its sign bit and refuses it as < 0."""
    return sd + 0.0  # -0.0 + 0.0 is 0.0; every other value is unchanged


class Distribution(NamedTuple):
    v1: str  # what v1 means
    v2: str | None  # what v2 means; None: v2 is not used
    # The problem with (v1, v2), or None if they can be sampled; both are
    # finite numbers (or v2 unused) when this is called.
    problem: Callable[[float, float], str | None]
    sample: Callable[[np.random.Generator, float, float, int], np.ndarray]


DISTRIBUTIONS: dict[str, Distribution] = {
    "beta": Distribution(
        "shape1", "shape2",
        lambda a, b: None if a > 0 and b > 0
        else f"beta shapes must be > 0, got shape1={a:g}, shape2={b:g}",
        lambda rng, a, b, n: rng.beta(a, b, n),
    ),
    "gamma": Distribution(
        "shape", "scale",
        lambda a, b: None if a > 0 and b > 0
        else f"gamma shape and scale must be > 0, got shape={a:g}, scale={b:g}",
        lambda rng, a, b, n: rng.gamma(shape=a, scale=b, size=n),  # scale, not rate
    ),
    "normal": Distribution(
        "mean", "sd",
        lambda a, b: None if b >= 0 else f"normal sd must be >= 0, got sd={b:g}",
        lambda rng, a, b, n: rng.normal(a, _unsigned(b), n),
    ),
    "rlnorm": Distribution(
        "meanlog", "sdlog",
        lambda a, b: None if b >= 0 else f"rlnorm sdlog must be >= 0, got sdlog={b:g}",
        lambda rng, a, b, n: rng.lognormal(a, _unsigned(b), n),
    ),
    "random uniform": Distribution(
        "min", "max",
        lambda a, b: None if a <= b
        else f"random uniform needs min <= max, got min={a:g}, max={b:g}",
        lambda rng, a, b, n: rng.uniform(a, b, n),
    ),
    "fixed": Distribution(
        "value", None,
        lambda a, b: None,
        lambda rng, a, b, n: np.full(n, a),
    ),
}


def check_distribution(parameter: str, distribution: str, v1: float, v2: float) -> None:
    """Raise unless (distribution, v1, v2) can be sampled."""
    rule = DISTRIBUTIONS.get(distribution)
    if rule is None:
        raise UnknownDistributionError(
            parameter,
            f"unknown distribution {quoted(distribution)}; supported: "
            + ", ".join(repr(d) for d in DISTRIBUTIONS),
        )
    needed = [("v1", rule.v1, v1)] + ([("v2", rule.v2, v2)] if rule.v2 else [])
    for field, meaning, value in needed:
        if math.isnan(value):
            raise DistributionParameterError(
                parameter, f"{distribution} needs {field} ({meaning}), which is missing"
            )
        if math.isinf(value):
            raise DistributionParameterError(
                parameter, f"{distribution} {field} ({meaning}) must be finite, got {value}"
            )
    problem = rule.problem(v1, v2)
    if problem:
        raise DistributionParameterError(parameter, problem)
