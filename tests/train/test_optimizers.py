"""Adam vs AdamW and the constant schedule (xlsweep.train.schedule), and the loops that take them."""

from __future__ import annotations

import pytest
import torch

from xlsweep.train.schedule import make_optimizer, make_schedule


def _step(kind: str) -> torch.Tensor:
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0], dtype=torch.float64))
    opt = make_optimizer([w], kind, lr=0.1, weight_decay=0.5)
    w.grad = torch.tensor([0.3, 0.3], dtype=torch.float64)
    opt.step()
    return w.detach().clone()


def test_adam_adds_the_decay_to_the_gradient_and_adamw_decouples_it() -> None:
    """Reference, float64, first step (bias-corrected moments: m̂ = g, v̂ = g², so the Adam update is lr·sign(g)):
    Adam: g = 0.3 + 0.5·w, then w − 0.1·sign(g); AdamW: w·(1 − 0.1·0.5), then − 0.1·sign(0.3)."""
    w = torch.tensor([1.0, -2.0], dtype=torch.float64)
    assert torch.allclose(_step("adam"), w - 0.1 * torch.sign(0.3 + 0.5 * w), atol=1e-6)
    assert torch.allclose(_step("adamw"), w * (1 - 0.1 * 0.5) - 0.1, atol=1e-6)


def test_the_constant_schedule_keeps_the_learning_rate_and_the_linear_one_decays_it() -> None:
    w = torch.nn.Parameter(torch.zeros(1))
    for kind, last in (("constant", 0.1), ("linear", 0.1 * 1 / 4)):
        opt = make_optimizer([w], "adam", lr=0.1, weight_decay=0.0)
        schedule = make_schedule(opt, kind, total_steps=4, warmup_ratio=0.0)
        for _ in range(3):
            opt.step()
            schedule.step()
        assert opt.param_groups[0]["lr"] == pytest.approx(last)


def test_an_unknown_optimiser_is_refused() -> None:
    with pytest.raises(ValueError, match="optimizer 'sgd'; expected one of adamw, adam"):
        make_optimizer([torch.nn.Parameter(torch.zeros(1))], "sgd", lr=0.1, weight_decay=0.0)
