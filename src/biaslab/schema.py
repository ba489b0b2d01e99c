"""Typed constructor arguments: each alias is a pydantic constraint plus the phrase a user
reads when a value breaks it. The models and data modules annotate their arguments with these,
and :mod:`biaslab.config` validates every config key against its constructor's annotation, so
the signature is the one statement of what a key accepts.

Validation is strict (``ConfigDict(strict=True)``): 1 is not taken for true, "8" not for 8.
"""

from __future__ import annotations

import functools
import math
from typing import Annotated, Any, Literal, get_origin

from pydantic import AfterValidator, ConfigDict, Field, TypeAdapter, ValidationError


class Allowed(str):
    """What a key accepts, in the words of the one-line error (``expected <Allowed>``)."""


def _pair(v: list[int]) -> list[int]:
    if len(v) != 2 or not 0 <= v[0] <= v[1]:
        raise ValueError("lo <= hi")
    return v


PositiveInt = Annotated[int, Field(ge=1), Allowed("an integer >= 1")]
NonNegativeInt = Annotated[int, Field(ge=0), Allowed("an integer >= 0")]
Flag = Annotated[bool, Allowed("one of true, false")]
Seed = Annotated[int, Field(ge=0, le=2**32 - 1), Allowed("an integer from 0 to 4294967295")]
OptionalPositiveInt = Annotated[
    Annotated[int, Field(ge=1)] | None, Allowed("null or an integer >= 1")
]
OptionalSeed = Annotated[
    Annotated[int, Field(ge=0, le=2**32 - 1)] | None,
    Allowed("null or an integer from 0 to 4294967295"),
]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False), Allowed("a number > 0")]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False), Allowed("a number >= 0")]
Fraction = Annotated[float, Field(gt=0, lt=1), Allowed("a number in (0, 1)")]
Probability = Annotated[float, Field(ge=0, lt=1), Allowed("a number in [0, 1)")]
FLOAT32_MAX = 3.4028234663852886e38  # the data are float32: a larger value becomes inf
Float32 = Annotated[
    float,
    Field(ge=-FLOAT32_MAX, le=FLOAT32_MAX, allow_inf_nan=False),
    Allowed("a finite float32 number (magnitude at most 3.4e38)"),
]
Bias = Annotated[bool | Literal["auto"], Allowed("one of true, false, auto")]
OptionalFlag = Annotated[bool | None, Allowed("one of null, true, false")]
Norm = Annotated[
    Literal["none", "batch", "group", "layer"], Allowed("one of none, batch, group, layer")
]
Act = Annotated[Literal["relu", "gelu"], Allowed("one of relu, gelu")]
Background = Annotated[Literal["none", "noise"], Allowed("one of none, noise")]
Pool = Annotated[Literal["none", "max"], Allowed("one of none, max")]
PaddingMode = Annotated[
    Literal["zeros", "reflect", "replicate", "circular"],
    Allowed("one of zeros, reflect, replicate, circular"),
]
OptionalBlock = Annotated[Annotated[int, Field(ge=0)] | None, Allowed("null or an integer >= 0")]
Output = Annotated[Literal["auto", "last", "sequence"], Allowed("one of auto, last, sequence")]
ForgetBias = Annotated[
    float | Literal["chrono"] | None, Allowed("null, a number (e.g. 0, 1, 2) or chrono")
]
ChronoTmax = Annotated[
    Annotated[float, Field(gt=2, allow_inf_nan=False)] | None, Allowed("null or a number > 2")
]


def per_block(lo: int) -> Any:
    """One integer >= lo, or a non-empty list of them (one per block)."""
    item = Annotated[int, Field(ge=lo)]
    return Annotated[
        item | Annotated[list[item], Field(min_length=1)],
        Allowed(f"an integer >= {lo} or a non-empty list of them"),
    ]


PerBlock = per_block(1)  # kernel_size, stride
PerBlockPadding = per_block(0)
Channels = Annotated[
    Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1)] | None,
    Allowed("null or a list of integers >= 1"),
]
Interval = Annotated[
    list[int], AfterValidator(_pair), Allowed("a list [lo, hi] of integers with 0 <= lo <= hi")
]


def int_at_least(lo: int) -> Any:
    return Annotated[int, Field(ge=lo), Allowed(f"an integer >= {lo}")]


def allowed(annotation: Any) -> Allowed | None:
    """The phrase an annotation carries, or None when it carries none (then it is not checked
    here: a value the signature does not describe is the constructor's to refuse)."""
    if get_origin(annotation) is Annotated:
        return next((m for m in reversed(annotation.__metadata__) if isinstance(m, Allowed)), None)
    return None


@functools.cache
def _adapter(annotation: Any) -> TypeAdapter:
    return TypeAdapter(annotation, config=ConfigDict(strict=True))


def accepts(annotation: Any, value: Any) -> bool:
    """Whether ``value`` (plain Python: lists, not ListConfig) satisfies ``annotation``."""
    if isinstance(value, float) and math.isnan(value):
        return False
    try:
        _adapter(annotation).validate_python(value)
    except ValidationError:
        return False
    return True
