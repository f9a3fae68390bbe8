"""Errors a user of the model can act on.

The R original stops with an R error (and its API with a bare 500) in every
one of these situations.  Here each has its own type, and every message names
the parameter, the value and what to change.  All derive from `ModelError`,
so a caller (the command line, the HTTP service) can catch them in one place
and never show a traceback.
"""

from __future__ import annotations

from collections.abc import Collection

# R's own words, kept so that users of the original recognise them.
R_NOT_EDITABLE = "This value is not editable, please contact the data owner"
R_INVALID_MATRIX = (
    "This is not a valid transition matrix (entries are not between 0 and 1"
)


# Longest text of the caller's quoted back in a message: a name may be a
# megabyte long, and the message should still be one line a person reads.
MAX_QUOTED = 100


def quoted(text: object, limit: int = MAX_QUOTED) -> str:
    """`text` as repr() shows it, cut to `limit` characters (with "…")."""
    text = str(text)
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "…"


class ModelError(ValueError):
    """Base class: bad input to the model, never a bug in it.

    `update` is the 1-based position of the update record at fault, where
    an update record is (so a caller can point at it); None otherwise.
    """

    update: int | None = None


class ParameterTableError(ModelError):
    """The parameter table (CSV) is malformed: missing columns, duplicates…"""


class NotEditableError(ModelError):
    """An update names a parameter the data owner marked as not editable."""

    def __init__(self, parameter: str, message: str | None = None):
        self.parameter = parameter
        super().__init__(
            message
            or f"parameter {quoted(parameter)} is not editable: {R_NOT_EDITABLE}"
        )


class UnknownParameterError(NotEditableError):
    """An update names a parameter that is not in the table.

    A subclass of `NotEditableError` because the original treats both the
    same way (same message), so code written against it keeps working.
    """

    def __init__(self, parameter: str, editable: list[str]):
        self.editable = editable
        super().__init__(
            parameter,
            f"unknown parameter {quoted(parameter)}: not in the parameter table "
            f"({R_NOT_EDITABLE}); editable parameters are: {', '.join(editable)}",
        )


class UpdateFormatError(ModelError):
    """An update record is not a {parameter, distribution, v1, v2} record.

    `parameter` is the record's parameter where the fault is in v1 or v2."""

    def __init__(self, message: str, update: int | None = None, parameter: str | None = None):
        self.update = update
        self.parameter = parameter
        super().__init__(message)


class DistributionError(ModelError):
    """A parameter's distribution cannot be sampled."""

    def __init__(self, parameter: str, message: str):
        self.parameter = parameter
        super().__init__(f"parameter {quoted(parameter)}: {message}")


class UnknownDistributionError(DistributionError):
    """The distribution name is not one the model supports."""


class DistributionParameterError(DistributionError):
    """v1/v2 are missing, not numbers, or impossible for the distribution."""


class SamplesError(ModelError):
    """A table of samples cannot be evaluated (non-numeric, missing values…).

    `sample` (1-based) and `parameter` name the cell at fault, where one is."""

    def __init__(self, message: str, sample: int | None = None, parameter: str | None = None):
        self.sample = sample
        self.parameter = parameter
        super().__init__(message)

    @classmethod
    def not_finite(cls, sample: int, parameter: str, value: object) -> SamplesError:
        return cls(f"sample {sample}: {parameter} must be a finite number, got {value!r}",
                   sample, parameter)


class InvalidTransitionMatrixError(ModelError):
    """A sample produced a transition probability outside [0, 1].

    `sample` is the 1-based row of the samples table (as R and spreadsheets
    count), `strategy` and `transition` say which entry, and `values` the
    parameter values that entry was computed from.
    """

    def __init__(
        self,
        sample: int,
        strategy: str,
        transition: str,
        probability: float,
        values: dict[str, float],
        n_invalid: int,
    ):
        self.sample = sample
        self.strategy = strategy
        self.transition = transition
        self.probability = probability
        self.values = values
        self.n_invalid = n_invalid
        super().__init__(self.describe())

    def visible_values(self, visible: Collection[str] | None = None) -> dict[str, float]:
        """`values`, only those named in `visible` (all if None)."""
        return {k: v for k, v in self.values.items() if visible is None or k in visible}

    def describe(self, visible: Collection[str] | None = None) -> str:
        """The message, showing only the values of parameters in `visible`
        (all if None): the others are the data owner's to keep."""
        shown = self.visible_values(visible)
        withheld = sorted(set(self.values) - set(shown))
        return (
            f"{R_INVALID_MATRIX}): sample {self.sample}, strategy {self.strategy}: "
            f"P({self.transition}) = {self.probability:.6g}"
            + (" from " + ", ".join(f"{k}={v:.6g}" for k, v in shown.items()) if shown else "")
            + (f" (values of non-editable {', '.join(withheld)} withheld)" if withheld else "")
            + f"; {self.n_invalid} sample(s) invalid in all. Change the updated "
            "distributions so that every transition probability stays within [0, 1]"
        )
