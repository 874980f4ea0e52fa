"""The README's Python example runs as written (in a fresh process: it starts and stops its own Ray)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_ROOT

EXAMPLE = re.compile(r"<!-- python-api-example -->\s*```python\n(.*?)```", re.S)


def test_the_readme_python_example_runs(tmp_path: Path) -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    found = EXAMPLE.search(readme)
    assert found, "README.md has no ```python block after <!-- python-api-example -->"
    code = found.group(1).replace("/tmp/polyglot-api", str(tmp_path / "out"))
    assert str(tmp_path) in code, "the example must write below /tmp/polyglot-api"
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
                          env={**__import__("os").environ, "RAY_USAGE_STATS_ENABLED": "0"})  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "filter: 4 shards" in done.stderr  # the logging handler the example installs shows the summaries
    kept = [line for line in done.stdout.splitlines() if line.startswith("kept ")]
    assert kept and int(kept[0].split()[1]) > 100, done.stdout
    assert (tmp_path / "out" / "filter").is_dir()
