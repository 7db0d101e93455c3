"""onnxruntime's own static quantization on a model and its test-data sets, timed.

python3 scripts/gpu/quantize_static.py MODEL SETS OUT   (SETS like 0-7)

The reference point of `npm run bench:calibrate -- --ep cuda --quantize-static`: onnxruntime's
Python calibrator (MinMax, QDQ format, default settings) over the same sets ctc calibrates on.
Prints one JSON line: {"seconds": ...}. Needs Python onnx and onnxruntime.
"""
import json
import os
import sys
import time

import onnx
from onnx import numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static


class Sets(CalibrationDataReader):
    def __init__(self, model_path, first, last):
        names = [i.name for i in onnx.load(model_path, load_external_data=False).graph.input]
        folder = os.path.dirname(os.path.abspath(model_path))
        self.feeds = []
        for n in range(first, last + 1):
            d = os.path.join(folder, f"test_data_set_{n}")
            feed = {}
            for k, name in enumerate(names):
                t = onnx.TensorProto()
                with open(os.path.join(d, f"input_{k}.pb"), "rb") as f:
                    t.ParseFromString(f.read())
                feed[name] = numpy_helper.to_array(t)
            self.feeds.append(feed)
        self.it = iter(self.feeds)

    def get_next(self):
        return next(self.it, None)


def main():
    model, sets, out = sys.argv[1], sys.argv[2], sys.argv[3]
    first, last = (int(x) for x in sets.split("-"))
    t0 = time.perf_counter()
    quantize_static(model, out, Sets(model, first, last), quant_format=QuantFormat.QDQ, use_external_data_format=True)
    print(json.dumps({"seconds": time.perf_counter() - t0}))


if __name__ == "__main__":
    main()
