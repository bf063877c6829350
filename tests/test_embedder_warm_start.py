"""The first load on a machine does not wait for the int8 model: the shipped graph serves
at once while the int8 model is derived in a separate process, then takes over; the next
process reads it from the cache."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from memori.embedders import LocalEmbedder
from memori.embedders.model_files import MODEL_FILE
from memori.embedders.warm_start import derive_in_background


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


TEXTS = ["I want to run a 5K in under 25 minutes", "What is my running goal?"]


def served(script: str, env: dict[str, str]) -> str:
    """What a script run in its own process prints (the arithmetic it served with)."""
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def test_a_cold_cache_serves_at_once_then_switches_to_the_derived_model(tmp_path: Path) -> None:
    embedder = LocalEmbedder(cache_dir=tmp_path)
    early = embedder.embed(TEXTS)
    assert embedder.serving == "float32"  # the derivation takes seconds: not waited for
    assert embedder.name == "all-MiniLM-L6-v2-int8-dynamic"
    assert embedder.wait_for_int8(timeout=600)
    assert embedder.serving == "int8"
    assert len(list(tmp_path.glob("*.onnx"))) == 1  # derived into the cache
    late = embedder.embed(TEXTS)  # the query cache started again: int8 vectors now
    blocking = LocalEmbedder(cache_dir=tmp_path, warm_start=False)
    assert blocking.embed(TEXTS) == late
    assert min(cosine(a, b) for a, b in zip(early, late, strict=True)) > 0.98
    warm = LocalEmbedder(cache_dir=tmp_path)
    warm.load()
    assert warm.serving == "int8"  # a warm cache serves int8 from the start


def test_one_derivation_per_cache_directory_at_a_time(tmp_path: Path) -> None:
    path = MODEL_FILE.locate()
    model = path.read_bytes()
    first = derive_in_background(path, model, MODEL_FILE.sha256, tmp_path)
    second = derive_in_background(path, model, MODEL_FILE.sha256, tmp_path)
    assert first is second
    assert len(first.result(timeout=600)) > 0


def test_a_script_that_exits_at_once_still_leaves_the_model_for_the_next_run(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "MEMORI_HOME": str(home), "ORT_DISABLE_TELEMETRY": "1"}
    script = textwrap.dedent("""
        import sys
        from memori import Memori
        with Memori(embedder="local") as mem:
            mem.attribution(entity_id="ana")
            mem.remember("I want to run a 5K in under 25 minutes.")
            assert mem.recall("running goal")
            print(mem.embedder.serving)
    """)
    assert served(script, env) == "float32"  # it did not wait for the derivation
    models = home / "cache" / "models"
    deadline = time.monotonic() + 600  # the derivation outlives the script that began it
    while not list(models.glob("*.sha256")) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert served(script, env) == "int8"


def test_an_upgrade_does_not_serve_an_older_derivation_and_derives_this_one(
    tmp_path: Path,
) -> None:
    """As a user meets an upgrade: the cache holds the model an earlier version derived
    (another derivation's name); a script serves at once without it, the current
    derivation (its GELUs fused) is derived in the background and the next run serves it."""
    from memori.embedders import quantize

    home = tmp_path / "home"
    models = home / "cache" / "models"
    models.mkdir(parents=True)
    current, _ = quantize.cache_paths(MODEL_FILE.sha256, models)
    older = current.with_name(current.name.replace(quantize.DERIVATION, "mha1"))
    assert older != current
    older.write_bytes(b"an earlier version's derived model")
    older.with_suffix(".sha256").write_text("0" * 64)
    env = {**os.environ, "MEMORI_HOME": str(home), "ORT_DISABLE_TELEMETRY": "1"}
    script = textwrap.dedent("""
        from memori import Memori
        mem = Memori(embedder="local")
        mem.attribution(entity_id="ana")
        mem.remember("I want to run a 5K in under 25 minutes.")
        assert mem.recall("running goal")
        print(mem.embedder.serving)
    """)  # exits without close() or flush()
    assert served(script, env) == "float32"
    deadline = time.monotonic() + 600
    while not current.with_suffix(".sha256").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert served(script, env) == "int8"
    import onnx

    ops = [n.op_type for n in onnx.load(str(current)).graph.node]
    assert ops.count("Gelu") == 6 and "Erf" not in ops
    assert older.read_bytes() == b"an earlier version's derived model"  # never read
