"""Write a stand-in of a Hugging Face safetensors checkpoint: the same tensor names, each a
one-element float32 zero, so that tests of name matching and checkpoint writing can run without
the real weights in the repository. Written with the standard library only, from the format's
definition (u64 little-endian header length, JSON header, data).

    python3 corpus/generators/hf_key_stub.py SRC/model.safetensors DST/model.safetensors
"""
import json
import struct
import sys

src, dst = sys.argv[1], sys.argv[2]
with open(src, "rb") as f:
    (n,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(n))
names = sorted(k for k in header if k != "__metadata__")
out = {"__metadata__": {"format": "pt"}}
for i, name in enumerate(names):
    out[name] = {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]}
text = json.dumps(out, separators=(",", ":"))
text += " " * ((8 - (8 + len(text)) % 8) % 8)
with open(dst, "wb") as f:
    f.write(struct.pack("<Q", len(text)))
    f.write(text.encode())
    f.write(b"\0" * (4 * len(names)))
