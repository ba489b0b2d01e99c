"""An LSTM over (N, T, F) sequences with a linear head, and control of the forget-gate bias."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from biaslab.models.layers import has_bias
from biaslab.schema import Bias, ChronoTmax, Flag, ForgetBias, Output, PositiveInt

OUTPUTS = ("auto", "last", "sequence")


def init_forget_bias(lstm: nn.LSTM, value: float | str, t_max: float | None = None) -> None:
    """Set the EFFECTIVE forget-gate bias (bias_ih + bias_hh) of every layer of ``lstm``.

    torch.nn.LSTM orders the gates (i, f, g, o), so the forget slice is [H:2H] of both bias
    vectors. A number sets bias_ih[H:2H] = value and bias_hh[H:2H] = 0. ``"chrono"`` (Tallec &
    Ollivier, ICLR 2018) draws b_f ~ log(U[1, t_max - 1]) per unit and sets the input gate to
    b_i = -b_f (bias_hh[0:2H] = 0). The other gates keep PyTorch's init.
    """
    if not lstm.bias:
        raise ValueError("forget_bias needs an LSTM with biases (bias=true)")
    h = lstm.hidden_size
    with torch.no_grad():
        for layer in range(lstm.num_layers):
            b_ih = getattr(lstm, f"bias_ih_l{layer}")
            b_hh = getattr(lstm, f"bias_hh_l{layer}")
            if value == "chrono":
                if t_max is None or t_max <= 2:
                    raise ValueError(f"chrono init needs T_max > 2, got {t_max}")
                b_f = torch.empty(h).uniform_(1.0, t_max - 1.0).log_()
                b_ih[h : 2 * h] = b_f
                b_ih[0:h] = -b_f
                b_hh[0 : 2 * h] = 0.0
            else:
                b_ih[h : 2 * h] = float(value)
                b_hh[h : 2 * h] = 0.0


class LSTM(nn.Module):
    """torch.nn.LSTM (batch_first) → linear head on the last step or on every step.

    ``in_shape`` is (T, F). ``output``: ``last`` gives (N, num_classes) from the last step (the
    adding problem), ``sequence`` gives (N, T, num_classes) (the copy problem), ``auto`` lets
    the task choose (:mod:`biaslab.tasks.base` sets ``sequence`` for per-step targets; else
    ``last``).
    ``forget_bias``: ``None`` keeps PyTorch's init (effective forget bias ≈ 0 ± 2/√H), a
    number sets it exactly, ``"chrono"`` uses chrono init with T_max = ``chrono_tmax`` or T.
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        num_classes: int,
        hidden_size: PositiveInt = 64,
        num_layers: PositiveInt = 1,
        bias: Bias = True,
        head_bias: Flag = True,
        forget_bias: ForgetBias = None,
        chrono_tmax: ChronoTmax = None,
        output: Output = "auto",
    ):
        super().__init__()
        if len(in_shape) != 2:
            raise ValueError(f"LSTM needs inputs shaped (T, F), got {tuple(in_shape)}")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        bias = has_bias(bias, "none")  # auto: no norm follows, so biases are kept
        if forget_bias is not None and not bias:
            raise ValueError("forget_bias is set but bias=false: an LSTM without biases has none")
        steps, features = int(in_shape[0]), int(in_shape[1])
        self.output = output
        self.lstm = nn.LSTM(features, hidden_size, num_layers, bias=bias, batch_first=True)
        if forget_bias is not None:
            init_forget_bias(self.lstm, forget_bias, chrono_tmax or steps)
        self.head = nn.Linear(hidden_size, num_classes, bias=head_bias)

    def effective_forget_bias(self, layer: int = 0) -> torch.Tensor:
        """bias_ih + bias_hh over the forget slice of ``layer`` (what the gate sees at init)."""
        h = self.lstm.hidden_size
        b = getattr(self.lstm, f"bias_ih_l{layer}") + getattr(self.lstm, f"bias_hh_l{layer}")
        return b[h : 2 * h].detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(x)
        if self.output == "sequence":
            return self.head(h)
        return self.head(h[:, -1])
