"""A tiny GPT-2 with random weights, saved and loaded back like a real checkpoint (no download)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def tiny_gpt2(folder: Path) -> Any:
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.GPT2Config(
        n_layer=2, n_head=2, n_embd=32, vocab_size=500, n_positions=64, bos_token_id=1, eos_token_id=2
    )
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)
    return transformers.GPT2LMHeadModel.from_pretrained(folder).eval()
