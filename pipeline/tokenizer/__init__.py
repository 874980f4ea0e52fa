"""The shared SentencePiece tokenizer: Ray-free training, Hugging Face export with id parity, parity report, encoding.

Modules: `settings` (config section), `train` (balanced sample, deterministic training), `normalization`
(per-code-point rules both libraries apply identically), `export` (tokenizer.json + configs, `compare_ids`),
`encode` (bulk ids as numpy/Arrow), `parity` (tokens per sentence across languages, the parallel text), `sample`
(the stage's seeded per-shard sample, quotas and composition), `build` (the one training task: train, export, id
check, parity, publish; report.json).
"""
