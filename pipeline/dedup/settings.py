"""The dedup library's settings, owned here and used as the config's `dedup` section as they are."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline.dedup.shingles import ShingleConfig


class DedupSettings(BaseModel):
    """Exact and fuzzy (MinHash LSH) deduplication across the whole corpus: the config's `dedup` section."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    exact: bool = Field(default=True, description="Remove documents whose normalized text is identical.")
    fuzzy: bool = Field(default=True, description="Remove near-duplicates found by MinHash LSH.")
    scope: Literal["script", "language", "global"] = Field(
        default="script",
        description="Compare documents written in the same script (the text's own; Chinese, Japanese and Korean are "
        "one), whatever their language labels; within one language label only; or across everything.",
    )
    threshold: float = Field(default=0.8, gt=0, lt=1, description="Estimated Jaccard at which two docs are duplicates.")
    num_perm: int = Field(default=128, ge=16, le=1024, description="MinHash permutations (signature length).")
    bands: int | None = Field(default=None, ge=1, description="LSH bands; default derived from threshold and num_perm.")
    rows: int | None = Field(default=None, ge=1, description="LSH rows per band; default derived.")
    verify: Literal["exact", "signature", "off"] = Field(
        default="exact",
        description="Keep an LSH candidate pair only if its Jaccard reaches the threshold: the true Jaccard of the "
        "shingle-hash sets (exact), the signature estimate (signature), or keep every candidate (off).",
    )
    shingles: ShingleConfig = Field(default_factory=ShingleConfig)
    hashfunc: Literal["xxh32", "sha1"] = Field(default="xxh32", description="Shingle hash (sha1 = datasketch default).")
    seed: int = Field(default=1, description="MinHash permutation seed (datasketch's `seed`).")
    keep: Literal["first", "longest"] = Field(
        default="first", description="Which document of a cluster is kept: the first in corpus order, or the longest."
    )
    num_partitions: int = Field(default=16, ge=1, le=4096, description="LSH bucket partitions (parallel edge tasks).")
    verify_batch_edges: int = Field(
        default=4096, ge=1, description="Candidate edges verified at a time by the clusters step: its memory holds "
        "their documents' shingle sets; each batch reads the signature files it touches (larger: fewer reads from "
        "an object store, more memory).",
    )
    write_removed: bool = Field(default=True, description="Write removed documents to _removed/dedup/ with reasons.")
    components: Literal["auto", "driver", "distributed"] = Field(
        default="auto",
        description="Where connected components are computed: scipy on the driver, or large-star/small-star rounds "
        "as Ray tasks over partitioned edge files (memory per task bounded by partition size); auto: distributed "
        "above distributed_above_edges. Same clusters either way.",
    )
    distributed_above_edges: int = Field(
        default=50_000_000,
        ge=0,
        description="With components: auto, edges (candidate + exact-duplicate) above which the distributed path "
        "runs; scipy needs ~6 GB on the driver for 5e7 edges.",
    )
    #: How the clusters are computed, not what they are: left out of the hash of the per-shard steps.
    HASH_EXCLUDE: ClassVar[frozenset[str]] = frozenset({"components", "distributed_above_edges"})

    @model_validator(mode="after")
    def _something(self) -> DedupSettings:
        if not (self.exact or self.fuzzy):
            raise ValueError("dedup needs exact or fuzzy (or both) enabled")
        if self.bands is not None and self.rows is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        return self

    def lsh_shape(self) -> tuple[int, int]:
        """(bands, rows) in force: explicit values, else the verified-LSH optimum (18 x 7 for 0.8 / 128), else
        datasketch's optimum for the threshold."""
        from pipeline.dedup.lsh import lsh_params, verified_lsh_params

        if self.bands is not None or self.rows is not None:
            return lsh_params(self.threshold, self.num_perm, bands=self.bands, rows=self.rows)
        if self.verify != "off":
            return verified_lsh_params(self.threshold, self.num_perm)
        return lsh_params(self.threshold, self.num_perm)
