"""stage1.gradient_checkpointing trains the same model with less memory, and is not saved into it."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import BertConfig, BertForSequenceClassification

from xlsweep.models.encoder import enable_activation_checkpointing
from xlsweep.train.finetune import finetune


def _model() -> BertForSequenceClassification:
    config = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16, num_labels=3)  # dropout on (0.1)
    torch.manual_seed(0)
    return BertForSequenceClassification(config).double()


def _features() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return {"input_ids": torch.randint(5, 40, (32, 8), generator=gen),
            "attention_mask": torch.ones(32, 8, dtype=torch.long),
            "labels": torch.randint(0, 3, (32,), generator=gen), "example_id": torch.arange(32)}


def test_checkpointed_fine_tuning_ends_with_the_same_weights(tmp_path: Path) -> None:
    models = []
    for checkpointing in (False, True):
        model = _model()
        if checkpointing:
            enable_activation_checkpointing(model)
        torch.manual_seed(2)  # dropout masks: the recomputation replays them (preserve_rng_state)
        finetune(model, _features(), epochs=2, lr=1e-2, batch_size=8, weight_decay=0.01, warmup_ratio=0.0, seed=0)
        models.append(model)
    plain, checkpointed = models
    for (name, a), (_, b) in zip(plain.state_dict().items(), checkpointed.state_dict().items(), strict=True):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12), name
    assert any(not torch.equal(a, b) for a, b in zip(plain.state_dict().values(), _model().state_dict().values(),
                                                     strict=True))  # it did train
    checkpointed.save_pretrained(tmp_path)  # what stage 1 writes: trials load it without checkpointing
    loaded = BertForSequenceClassification.from_pretrained(tmp_path)
    assert not any(getattr(m, "gradient_checkpointing", False) for m in loaded.modules())
