#!/usr/bin/env python3
"""Load models (ctc outputs, and their sources) with the ONNX loaders users have.

For each MODEL given, prints one JSON line:
  external  each external data file the model names, with its link count (st_nlink)
  onnx      onnx.load(MODEL): reads the external data (onnx>=1.17 refuses a data file
            with several hard links, "a potential hardlink attack")
  checker   onnx.checker.check_model(MODEL) on the path (the checker's own external data checks)
  ort       an onnxruntime session on MODEL, run once on zeros (dynamic dims from --dim)
Each is "ok" or the loader's error message. Exit 0 always: the lines are the result.

Usage: python3 scripts/check_onnx_loaders.py [--dim NAME=N ...] MODEL...
Needs the onnx and onnxruntime packages (and numpy).
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort


def external_files(path):
    model = onnx.load(path, load_external_data=False)
    folder = os.path.dirname(os.path.abspath(path))
    files = {}
    for t in model.graph.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            loc = next(e.value for e in t.external_data if e.key == "location")
            full = os.path.join(folder, loc)
            files[loc] = {
                "nlink": os.stat(full).st_nlink,
                "symlink": os.path.islink(full),
            }
    return files


def attempt(fn):
    try:
        fn()
        return "ok"
    except Exception as e:  # the loaders' own messages are the result
        return f"{type(e).__name__}: {e}"


def run_ort(path, dims):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = {}
    for i in session.get_inputs():
        shape = [d if isinstance(d, int) else dims.get(d, 1) for d in i.shape]
        dtype = {"tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(float)": np.float32, "tensor(float16)": np.float16}[i.type]
        feeds[i.name] = np.zeros(shape, dtype=dtype)
    outputs = session.run(None, feeds)
    if not all(np.isfinite(o).all() for o in outputs if o.dtype.kind == "f"):
        raise ValueError("non-finite output")


def main(argv):
    dims = {}
    models = []
    it = iter(argv)
    for a in it:
        if a == "--dim":
            name, value = next(it).split("=")
            dims[name] = int(value)
        else:
            models.append(a)
    print(json.dumps({"onnx": onnx.__version__, "onnxruntime": ort.__version__}))
    for path in models:
        print(
            json.dumps(
                {
                    "model": path,
                    "external": external_files(path),
                    "onnx": attempt(lambda: onnx.load(path)),
                    "checker": attempt(lambda: onnx.checker.check_model(path)),
                    "ort": attempt(lambda: run_ort(path, dims)),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
