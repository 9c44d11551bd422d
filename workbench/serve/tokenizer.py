"""A word-level tokenizer that needs no download, for the tiny random-weight demo model.

Encoding: whitespace-separated words. A word `w<id>` (what decoding produces) maps back to that id;
any other word is hashed (CRC-32, stable across processes, unlike `hash()`) into the ids above the
reserved ones. Decoding: id -> `w<id>`. Lossy by design: the model has random weights, so only the
token count and timing of its output mean anything.
"""

from __future__ import annotations

import re
import zlib

EOS_ID = 0
FIRST_WORD_ID = 1
_ID_WORD = re.compile(r"w(\d+)")


class WordTokenizer:
    def __init__(self, vocab_size: int) -> None:
        self.vocab_size = vocab_size

    def encode(self, text: str) -> list[int]:
        return [self._word_id(word) for word in text.split()]

    def decode_one(self, token_id: int, first: bool) -> str:
        return ("" if first else " ") + f"w{token_id}"

    def _word_id(self, word: str) -> int:
        match = _ID_WORD.fullmatch(word)
        if match and FIRST_WORD_ID <= int(match.group(1)) < self.vocab_size:
            return int(match.group(1))
        return FIRST_WORD_ID + zlib.crc32(word.encode()) % (self.vocab_size - FIRST_WORD_ID)
