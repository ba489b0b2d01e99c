"""The constructors' typed signatures are the schema: config.validate checks each key against
its argument's annotation, and the rule table holds only what no signature states."""

from __future__ import annotations

import pytest
from hydra.utils import get_object

from biaslab import schema
from biaslab.config import RULES, ConfigError, validate
from biaslab.config.keys import annotations_of


def test_a_typed_argument_without_a_rule_is_still_checked(make_cfg):
    # data.augment has no entry in RULES: only the signature of the image data modules says
    # it is a flag (a 1 would have been taken as true by Python)
    cfg = make_cfg("data=mnist", "data.augment=1")
    with pytest.raises(ConfigError) as e:
        validate(cfg)
    assert str(e.value) == "data.augment=1 is not allowed: expected one of true, false"


@pytest.mark.parametrize(
    "override, line",
    [
        ("model.width=8.0", "model.width=8.0 is not allowed: expected an integer >= 1"),
        ("model.bias=off", "model.bias=off is not allowed: expected one of true, false, auto"),
        (
            "model.kernel_size=[5,0,3]",
            "model.kernel_size=[5, 0, 3] is not allowed: expected an integer >= 1 or a "
            "non-empty list of them",
        ),
        (
            "data.padding=[60,36]",
            "data.padding=[60, 36] is not allowed: expected a list [lo, hi]"
            " of integers with 0 <= lo <= hi",
        ),
    ],
)
def test_values_the_signature_does_not_admit_are_refused(make_cfg, override, line):
    with pytest.raises(ConfigError) as e:
        validate(make_cfg(override))
    assert str(e.value) == line


def test_no_rule_restates_a_typed_argument(make_cfg):
    cfg = make_cfg()
    for group in ("model", "data"):
        hints = annotations_of(get_object(cfg[group]._target_))
        typed = {k for k, v in hints.items() if schema.allowed(v) is not None}
        restated = {k for k in RULES if k.startswith(f"{group}.") and k.split(".")[1] in typed}
        assert not restated, f"{restated}: the signature already states these"


def test_strict_types_do_not_coerce():
    assert schema.accepts(schema.PositiveInt, 3)
    assert not schema.accepts(schema.PositiveInt, True)
    assert not schema.accepts(schema.PositiveInt, "3")
    assert schema.accepts(schema.Positive, 1)  # an integer is a number
    assert not schema.accepts(schema.Float32, float("nan"))
    assert not schema.accepts(schema.Float32, 1e39)
    assert schema.accepts(schema.Bias, "auto") and not schema.accepts(schema.Bias, "off")
