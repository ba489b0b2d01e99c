"""Which published report answers which claim: the answer page's index (words only; every
number on the page is read from the reports' verdicts.json).

Every folder under results/ with a report.md is either a claim's primary report (counted in
the global correction) or listed in NOT_COUNTED with the reason: a superseded protocol (an
exploratory report a study re-decided among them), or the same runs read from another angle.
A new report that is neither stops ``make answer``."""

from __future__ import annotations

from dataclasses import dataclass, field

MNIST1D = "MNIST-1D"
FASHION = "Fashion-MNIST"
ADDING = "adding problem"


@dataclass(frozen=True)
class Claim:
    report: str  # its folder under results/
    claim: str  # the hypothesis, as its preset states it
    data: str  # the data set (and, for a shifted test set, the shift)
    where: dict[str, str] = field(default_factory=dict)  # only the groups with these values
    protocol: str = ""  # how the learning rate was set, when the report did not tune it; study


BIAS_WIDTH = "Small nets need a bias, large ones don't"
BIAS_NORM = "A batch norm after a conv makes its bias redundant"
FIRST = "At the first layer it depends on the input distribution"
SHIFT = "Under a test-time input shift"
WHY = "Why the data sets disagree"
WHY_REGIME = f"{WHY}: a small training set to interpolation vs a large one"
WHY_CONST = f"{WHY}: a constant input channel to build a bias from"
WHY_BACKGROUND = f"{WHY}: a noise background instead of a constant one"
WHY_PADDING = f"{WHY}: zero against circular padding in a bias-free net"
_SHIFTS = {
    "shift_brighter": "brightness +0.2",
    "shift_darker": "brightness −0.2",
    "shift_contrast_0.5": "contrast ×0.5",
    "shift_contrast_0.25": "contrast ×0.25",
}
_SHIFT_ARMS = {
    "images_bias_vs_width": "conv biases",
    "images_first_layer": "first-layer bias",
    "images_bias_free": "bias-free net",
}

CLAIMS: list[Claim] = (
    [
        # widths 2-128 decided by bias_vs_width_study, 256 by a study of its own (a batch of
        # width 256 costs as much as every other width together)
        Claim("bias_vs_width_study", BIAS_WIDTH, MNIST1D, protocol="study"),
        Claim("bias_vs_width_256_study", BIAS_WIDTH, MNIST1D, {"model.width": "256"}, "study"),
        Claim("bias_vs_depth", "A deeper net needs the bias less", MNIST1D),
        Claim("bias_vs_norm_study", BIAS_NORM, MNIST1D, {"model.norm": "batch"}, "study"),
        Claim(
            "bias_vs_norm_study",
            "(control) without a norm",
            MNIST1D,
            {"model.norm": "none"},
            "study",
        ),
        # scale 1 is re-decided by first_layer_study; the other scales stay with the tuned sweep
        Claim("first_layer", FIRST, MNIST1D, {"data.scale": "0.1"}),
        Claim("first_layer", FIRST, MNIST1D, {"data.scale": "10"}),
        Claim("first_layer_study", f"{FIRST} (scale 1)", MNIST1D, protocol="study"),
        Claim(
            "overparam",
            "With spare parameters and regularization the difference is hard to see",
            MNIST1D,
            protocol="fixed lr (each width's tuned lr)",
        ),
        Claim("forget_bias", "An LSTM forget-gate bias of 1–2 rescues long dependencies", ADDING),
        # Its own row, not a `where` on forget_bias: that report's T=100 group holds four arms
        # against null and the study re-decides one of them, which `where` (groups only) cannot
        # take out; both count, on disjoint seeds.
        Claim(
            "forget_bias_t100_study",
            "forget bias 1 vs PyTorch's init at T=100, study",
            ADDING,
            protocol="study, fixed lr",
        ),
        Claim(
            "forget_bias_t200_study",
            "forget bias 1 vs PyTorch's init at T=200, study",
            ADDING,
            protocol="study, fixed lr",
        ),
        Claim("images_bias_vs_width", f"{BIAS_WIDTH} (no norm)", FASHION, {"model.norm": "none"}),
        Claim("images_bias_vs_width", BIAS_NORM, FASHION, {"model.norm": "batch"}),
        Claim("images_first_layer", FIRST, FASHION),
        Claim("images_bias_free", "No additive constant anywhere (a bias-free net)", FASHION),
        # why the two data sets disagree: the same comparison across a regime or a mechanism
        Claim("why_regime/mnist1d", WHY_REGIME, MNIST1D, protocol="study, each width's tuned lr"),
        Claim("why_regime/fashion", WHY_REGIME, FASHION, protocol="study, fixed lr"),
        Claim("why_mechanism/const_channel", WHY_CONST, MNIST1D, protocol="study, fixed lr"),
        Claim("why_mechanism/background", WHY_BACKGROUND, FASHION, protocol="study, fixed lr"),
        Claim(
            "why_mechanism/padding", WHY_PADDING, MNIST1D, protocol="study, each width's tuned lr"
        ),
    ]
    + [
        Claim(
            f"why_mechanism/bias_block_{i}",
            f"{WHY}: a bias in the {where} block only",
            MNIST1D,
            protocol="study, tuned lr",
        )
        for i, where in enumerate(("first", "middle", "last"))
    ]
    + [
        Claim(f"{report}/{folder}", f"{SHIFT}: {arm}", f"{FASHION}, {shift}")
        for report, arm in _SHIFT_ARMS.items()
        for folder, shift in _SHIFTS.items()
    ]
)

_FIXED = "superseded: the fixed-lr protocol, before the tuned one"
_PAIRED = "superseded: a fixed-lr rerun with both arms from the same initial weights"
NOT_COUNTED: dict[str, str] = {
    "bias_vs_norm": "exploratory, superseded by the study bias_vs_norm_study (here seeds were "
    "added after looking, and the lr was chosen on the seeds it tests)",
    "bias_vs_width": "exploratory, superseded by the studies bias_vs_width_study (widths 2-128) "
    "and bias_vs_width_256_study (here the lr was chosen on the seeds it tests, and width 2's "
    "verdict rested on leaving out a pair that did not learn)",
    "bias_vs_width_256": "the same runs as bias_vs_width's width 256 (pooled there)",
    "bias_vs_width_fixed_lr": _FIXED,
    "bias_vs_width_paired": _PAIRED,
    "bias_vs_norm_fixed_lr": _FIXED,
    "bias_vs_norm_paired": _PAIRED,
    "first_layer/scale": "first_layer's runs, its interaction read against scale 1",
    "first_layer_fixed_lr": "superseded: the old design (biases off elsewhere), fixed lr",
    "first_layer_paired": _PAIRED,
    "overparam/decay": "overparam's runs, its interaction read against weight decay 0",
    "overparam_fixed_lr": "superseded: the old design (coupled L2 on every parameter), fixed lr",
    "overparam_paired": _PAIRED,
    "forget_bias/speed": "forget_bias's runs, read for learning speed (steps to 0.1)",
    "forget_bias_first_design": "superseded: the first design (T 50/100/200, against bias 0)",
}
