#!/usr/bin/env python3
"""NiN Lab's torch model export: `export_model.py MODEL_DIR --format F --out FILE`.

MODEL_DIR is a torch run's model folder (runDir/model). F: onnx (opset 17, dynamic batch),
safetensors (the layer table's tensor names, loadable by either engine) or torchscript (a traced
module). Prints one JSON line {"file", "format", "bytes"} and exits 0; on failure one line
{"error"} on stdout and exit 1. `nin-lab export-model` runs it (src/core/models/).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("model_dir")
    ap.add_argument("--format", required=True, choices=["onnx", "safetensors", "torchscript"])
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    # Exporters print warnings on stdout; keep stdout for the one answer line.
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    try:
        from nin_torch.export import export_model

        result = export_model(args.model_dir, args.format, args.out)
    except Exception as err:  # noqa: BLE001 - every failure becomes the one error line
        answer.write(json.dumps({"error": f"{type(err).__name__}: {err}"}) + "\n")
        answer.flush()
        return 1
    answer.write(json.dumps(result) + "\n")
    answer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
