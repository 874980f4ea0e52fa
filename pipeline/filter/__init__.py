"""Per-document filters, Ray-free: heuristic quality rules (`pipeline.filter.quality`, settings in
`pipeline.filter.settings`) and PII masking (`pipeline.filter.pii`). Nothing is imported here, so importing one
filter never pays for the others."""
