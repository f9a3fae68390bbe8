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


class Minimum(NamedTuple):
    """A lower bound on v1 or v2: above `value` (exclusive) or at least it."""

    value: float
    exclusive: bool = False

    def admits(self, number: float) -> bool:
        return number > self.value if self.exclusive else number >= self.value


POSITIVE = Minimum(0, exclusive=True)
NOT_NEGATIVE = Minimum(0)


class Across(NamedTuple):
    """A rule across v1 and v2 that no bound on one value states."""

    says: str  # the rule, in words (the OpenAPI document quotes it)
    problem: Callable[[float, float], str | None]  # what is wrong, or None


class Distribution(NamedTuple):
    v1: str  # what v1 means
    v2: str | None  # what v2 means; None: v2 is not used
    # The bounds of v1 and v2 on their own (None: any finite number): the
    # service's OpenAPI document states these, so they are data, not code.
    v1_minimum: Minimum | None
    v2_minimum: Minimum | None
    # What is wrong when a bound is not met (formatted with v1 and v2).
    refusal: str
    sample: Callable[[np.random.Generator, float, float, int], np.ndarray]
    across: Across | None = None

    def problem(self, v1: float, v2: float) -> str | None:
        """What is wrong with (v1, v2), or None if they can be sampled; both
        are finite numbers (or v2 unused) when this is called."""
        for minimum, value in ((self.v1_minimum, v1), (self.v2_minimum, v2)):
            if minimum is not None and not minimum.admits(value):
                return self.refusal.format(v1=v1, v2=v2)
        return self.across.problem(v1, v2) if self.across else None


DISTRIBUTIONS: dict[str, Distribution] = {
    "beta": Distribution(
        "shape1", "shape2", POSITIVE, POSITIVE,
        "beta shapes must be > 0, got shape1={v1:g}, shape2={v2:g}",
        lambda rng, a, b, n: rng.beta(a, b, n),
    ),
    "gamma": Distribution(
        "shape", "scale", POSITIVE, POSITIVE,
        "gamma shape and scale must be > 0, got shape={v1:g}, scale={v2:g}",
        lambda rng, a, b, n: rng.gamma(shape=a, scale=b, size=n),  # scale, not rate
    ),
    "normal": Distribution(
        "mean", "sd", None, NOT_NEGATIVE,
        "normal sd must be >= 0, got sd={v2:g}",
        lambda rng, a, b, n: rng.normal(a, _unsigned(b), n),
    ),
    "rlnorm": Distribution(
        "meanlog", "sdlog", None, NOT_NEGATIVE,
        "rlnorm sdlog must be >= 0, got sdlog={v2:g}",
        lambda rng, a, b, n: rng.lognormal(a, _unsigned(b), n),
    ),
    "random uniform": Distribution(
        "min", "max", None, None, "",
        lambda rng, a, b, n: rng.uniform(a, b, n),
        across=Across("v1 (min) <= v2 (max)", lambda a, b: None if a <= b
                      else f"random uniform needs min <= max, got min={a:g}, max={b:g}"),
    ),
    "fixed": Distribution(
        "value", None, None, None, "",
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
