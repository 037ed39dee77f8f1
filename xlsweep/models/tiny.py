"""The embedded default encoder: a tiny BERT with a tokenizer trained locally.

No hub is reachable on the machines xlsweep is tested on, so the default encoder is
built here: a WordPiece tokenizer is trained (``tokenizers``) on the synthetic
corpus of every language, and a small ``BertConfig`` model is initialised (and
optionally pre-trained with masked-LM over all languages, as mBERT was). Both are
saved to a directory and loaded back through ``AutoTokenizer``/``AutoModel…`` like
any hub model, so nothing downstream treats the default specially.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast  # type: ignore[attr-defined]

__all__ = ["build_tiny_encoder"]

_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _train_tokenizer(corpus: Sequence[str], vocab_size: int) -> BertTokenizerFast:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(corpus, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=_SPECIAL))
    return BertTokenizerFast(tokenizer_object=tok, do_lower_case=False)


def _pretrain_mlm(
    model: BertForMaskedLM,
    tokenizer: BertTokenizerFast,
    corpus: Sequence[str],
    *,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    max_length: int,
) -> None:
    """A short masked-LM run (15% masking, BERT's 80/10/10 rule) over the whole corpus."""
    gen = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / (0.1 * steps + 1)) * (1 - s / steps))
    special = torch.tensor(tokenizer.all_special_ids)
    model.train()
    for _ in range(steps):
        enc = tokenizer(rng.sample(list(corpus), batch_size), padding=True, truncation=True,
                        max_length=max_length, return_tensors="pt")
        inputs = enc["input_ids"]  # (B, T)
        labels = inputs.clone()
        maskable = ~torch.isin(inputs, special)
        chosen = (torch.rand(inputs.shape, generator=gen) < 0.15) & maskable
        labels[~chosen] = -100
        roll = torch.rand(inputs.shape, generator=gen)
        inputs = inputs.masked_fill(chosen & (roll < 0.8), tokenizer.mask_token_id)
        random_ids = torch.randint(len(tokenizer), inputs.shape, generator=gen)
        inputs = torch.where(chosen & (roll >= 0.8) & (roll < 0.9), random_ids, inputs)
        loss = model(input_ids=inputs, attention_mask=enc["attention_mask"], labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)


def build_tiny_encoder(
    out_dir: str | Path,
    corpus: Sequence[str],
    *,
    vocab_size: int = 4000,
    hidden_size: int = 128,
    num_layers: int = 2,
    num_heads: int = 2,
    intermediate_size: int = 256,
    max_position: int = 128,
    mlm_steps: int = 0,
    mlm_batch_size: int = 64,
    mlm_lr: float = 5e-4,
    seed: int = 0,
) -> Path:
    """Train a tokenizer on ``corpus``, build (and optionally MLM-pre-train) a tiny BERT, save both.

    Returns the directory, loadable with ``AutoTokenizer.from_pretrained`` and
    ``AutoModelForSequenceClassification.from_pretrained``.
    """
    out = Path(out_dir)
    torch.manual_seed(seed)
    tokenizer = _train_tokenizer(corpus, vocab_size)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_position,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = BertForMaskedLM(config)
    if mlm_steps > 0:
        _pretrain_mlm(model, tokenizer, corpus, steps=mlm_steps, batch_size=mlm_batch_size, lr=mlm_lr,
                      seed=seed, max_length=max_position)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out)
    model.save_pretrained(out)
    return out
