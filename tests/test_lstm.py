"""The LSTM model: forget-gate bias init, chrono init, bias=false, parameter counts, outputs."""

import math

import pytest
import torch

from biaslab.config import ConfigError, validate
from biaslab.models.lstm import LSTM
from biaslab.models.params import count_params


def _slices(model: LSTM, layer: int = 0):
    h = model.lstm.hidden_size
    b_ih = getattr(model.lstm, f"bias_ih_l{layer}").detach()
    b_hh = getattr(model.lstm, f"bias_hh_l{layer}").detach()
    b = b_ih + b_hh
    return b[:h], b[h : 2 * h], b_hh  # input gate, forget gate (effective), bias_hh


@pytest.mark.parametrize("value", [0, 1, 2, 1.5])
def test_effective_forget_bias_equals_the_configured_value(value):
    torch.manual_seed(0)
    m = LSTM((20, 3), 1, hidden_size=16, num_layers=2, forget_bias=value)
    for layer in range(2):
        b_i, b_f, b_hh = _slices(m, layer)
        assert torch.equal(b_f, torch.full((16,), float(value)))
        assert torch.equal(b_hh[16:32], torch.zeros(16))
        assert b_i.abs().max() > 0  # the other gates keep PyTorch's random init
    assert torch.equal(m.effective_forget_bias(1), torch.full((16,), float(value)))


def test_default_keeps_pytorch_init():
    torch.manual_seed(0)
    m = LSTM((20, 3), 1, hidden_size=64)
    _, b_f, _ = _slices(m)
    assert b_f.abs().max() <= 2 / math.sqrt(64)  # sum of two U(±1/√H)
    assert b_f.std() > 0


def test_chrono_range_and_input_gate_is_minus_forget():
    torch.manual_seed(0)
    t = 100
    m = LSTM((t, 2), 1, hidden_size=256, forget_bias="chrono")
    b_i, b_f, b_hh = _slices(m)
    assert b_f.min() >= 0 and b_f.max() <= math.log(t - 1)
    assert b_f.max() > math.log(t - 1) - 0.5  # spread over the whole range
    assert torch.equal(b_i, -b_f)
    assert torch.equal(b_hh[:512], torch.zeros(512))
    # chrono_tmax overrides the sequence length
    m = LSTM((100, 2), 1, hidden_size=256, forget_bias="chrono", chrono_tmax=5)
    assert _slices(m)[1].max() <= math.log(4)
    with pytest.raises(ValueError, match="T_max"):
        LSTM((2, 2), 1, forget_bias="chrono")


def test_bias_false_has_no_bias_parameters():
    m = LSTM((10, 2), 1, hidden_size=8, num_layers=2, bias=False, head_bias=False)
    names = [n for n, _ in m.named_parameters()]
    assert not [n for n in names if "bias" in n]
    assert count_params(m)["params/bias"] == 0
    with pytest.raises(ValueError, match="bias"):
        LSTM((10, 2), 1, bias=False, forget_bias=1)


def test_forget_bias_with_bias_false_is_a_config_error(make_cfg):
    with pytest.raises(ConfigError, match="model.forget_bias"):
        validate(make_cfg("model=lstm", "data=adding", "model.bias=false", "model.forget_bias=1"))
    with pytest.raises(ConfigError, match="model.forget_bias"):
        validate(make_cfg("model=lstm", "data=adding", "model.forget_bias=big"))
    validate(make_cfg("model=lstm", "data=adding", "model.forget_bias=chrono"))


def test_parameter_count_is_exact():
    # F=3, H=5, 2 layers, 4 classes:
    # layer 0: 4·5·(3+5) = 160 weights + 2·4·5 = 40 biases
    # layer 1: 4·5·(5+5) = 200 weights + 40 biases; head: 5·4 + 4
    m = LSTM((7, 3), 4, hidden_size=5, num_layers=2)
    counts = count_params(m)
    assert counts["params/total"] == 160 + 40 + 200 + 40 + 20 + 4 == 464
    assert counts["params/bias"] == 40 + 40 + 4
    assert counts["params/norm"] == 0
    no_bias = count_params(LSTM((7, 3), 4, hidden_size=5, num_layers=2, bias=False))
    assert no_bias["params/total"] == 464 - 80
    assert no_bias["params/bias"] == 4


def test_output_last_and_sequence():
    x = torch.zeros(3, 7, 2)
    assert LSTM((7, 2), 4, hidden_size=5, output="last")(x).shape == (3, 4)
    assert LSTM((7, 2), 4, hidden_size=5, output="sequence")(x).shape == (3, 7, 4)
    assert LSTM((7, 2), 4, hidden_size=5)(x).shape == (3, 4)  # auto before a task decides
