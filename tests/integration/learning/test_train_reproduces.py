"""`hybridwatch train` rebuilds the shipped weights and claim index byte-for-byte.

This runs the real command on the real data (../shared/data, beside the checkout)
with the real Apertium translator (installed by `make train-tools`), so a change to
the featurizer, the concept lexicon, the trainer or the claim index that is not
followed by `hybridwatch train` fails here instead of shipping weights that no longer
match the code.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from detectors.claims import INDEX_FILE
from detectors.learned_model import MODEL_FILE, load_model_file
from services.entrypoints.train import default_data_dir


def test_train_rebuilds_the_shipped_weights_and_claim_index_byte_for_byte(
    tmp_path: Path,
) -> None:
    data = default_data_dir()
    assert (data / "train" / "euvsdisinfo-train.jsonl").is_file(), f"no training data in {data}"
    weights, claims = tmp_path / "weights.json.gz", tmp_path / "claims.bin.gz"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.entrypoints.cli",
            "train",
            "--no-cv",
            "--out",
            str(weights),
            "--claims-out",
            str(claims),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "operating points" in proc.stderr
    shipped = load_model_file(MODEL_FILE)
    rebuilt = load_model_file(weights)
    assert rebuilt.meta["data_sha256"] == shipped.meta["data_sha256"]
    assert rebuilt.meta["features"] == shipped.meta["features"], "features or lexicon changed"
    assert weights.read_bytes() == MODEL_FILE.read_bytes(), "run `hybridwatch train`"
    assert claims.read_bytes() == INDEX_FILE.read_bytes(), "run `hybridwatch train`"
