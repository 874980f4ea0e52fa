"""SentencePiece normalization that Hugging Face ``tokenizers`` reproduces exactly: per-code-point rules.

Why not the stock rules. SentencePiece normalizes by *longest-prefix match* over a trie of rules ("precompiled
charsmap"). The stock ``nmt_nfkc`` holds 225,276 rules, of which 220,267 have multi-code-point keys (base + combining
marks → precomposed letter, Hangul jamo L+V(+T) → syllable, half-width kana + voiced mark → kana ...). The
``Precompiled`` normalizer of ``tokenizers`` (0.23) instead looks up each *grapheme cluster* and, for clusters under
6 bytes, replaces the whole cluster by the rule of its *shortest* matching prefix: ``"Ａ\u0301"`` becomes ``"A"`` (the
accent is dropped, SentencePiece gives ``"Á"``), ``"e\u0301\u0301"`` loses its second accent; clusters of 6 bytes
or more go code point by code point, so jamo sequences are not composed. Measured with a straightforward conversion
(transformers 5.24 ``SpmConverter.build_tokenizer_from_spm_proto``): UDHR Bengali and Evenki differ, as do
``"Ａ\u0301"``, ``"ﬁ\u0301"``, ``"ｶﾞ"`` and ``"\u1100\u1161\u11a8"``. No combination of stock ``tokenizers``
normalizers reproduces leftmost-longest matching over 220k keys (12k distinct outputs).

What we do instead, exact by construction:

1. The model is trained with the chosen rule *restricted to its single-code-point keys* (5,009 rules for
   ``nmt_nfkc``; the rule is idempotent: no output contains a character that is itself rewritten). SentencePiece then
   normalizes code point by code point. Trade-off: decomposed sequences are no longer composed (NFD text stays NFD);
   precomposed text is unaffected. This is a real cost: UDHR Vietnamese is partly decomposed (13,013 characters,
   11,060 after NFC) and cost 41% more tokens raw than in NFC (9,871 vs 7,008, 8k unigram trained on Tatoeba).
   Compose upstream: text should reach the tokenizer (training sample, bulk encoding) in NFC, applied by the
   pipeline, not by the tokenizer.
2. The export makes ``tokenizers`` apply the same rules code point by code point: a zero-width regex ``Replace``
   inserts ``SEPARATOR`` (U+0001, a control character, hence a grapheme cluster of its own) between all characters,
   so every cluster ``Precompiled`` sees is a single code point, and the rule set maps U+0001 to nothing, which
   removes the separators again. ``nmt_nfkc`` already deletes U+0001; for ``nfkc``/``nfkc_cf`` we add that one rule
   (SentencePiece then drops U+0001 too, consistently).

``tests/tokenizer/test_export.py`` checks the result against SentencePiece's own normalizer on every code point.
The separator is inserted *after* each character: one inserted at position 0 survives ``Precompiled`` inside a
``Sequence`` (an alignment quirk of tokenizers 0.23).
"""

from __future__ import annotations

import sentencepiece as spm

__all__ = ["SEPARATOR", "charsmap_rules", "per_codepoint_rules"]

#: Inserted between characters so that ``tokenizers``' grapheme-based ``Precompiled`` sees one code point at a time.
SEPARATOR = "\x01"


def per_codepoint_rules(rule_name: str) -> list[tuple[str, str]]:
    """The single-code-point rules of a stock SentencePiece normalization rule, plus SEPARATOR → '' (sorted)."""
    if rule_name == "identity":
        return []
    stock = spm.SentencePieceNormalizer(rule_name=rule_name).decompile()
    rules = {src: dst for src, dst in stock if len(src) == 1}
    rules[SEPARATOR] = ""
    return sorted(rules.items())


def charsmap_rules(precompiled_charsmap: bytes) -> list[tuple[str, str]]:
    """Decompile a model's precompiled charsmap back into (source, target) rules."""
    if not precompiled_charsmap:
        return []
    from sentencepiece import sentencepiece_model_pb2 as pb

    spec = pb.NormalizerSpec(name="user_defined", precompiled_charsmap=precompiled_charsmap)
    return sorted(spm.SentencePieceNormalizer(normalizer_spec=spec).decompile())
