#!/usr/bin/env python3
"""Dump a GGUF file as JSON using gguf-py's GGUFReader (the independent oracle for
tests/gemma_oracle.rs).

Usage: gguf_py_dump.py MODEL.gguf [OUT.json]   (stdout when OUT is omitted)
       gguf_py_dump.py --check                 (exit 0 when the oracle packages import)

Exit status 3 with "SKIP: ..." on stderr when the `gguf` or `numpy` package is missing, so
the Rust test can skip with a clear message instead of failing.

Output (all integers exact; floats as their IEEE bit patterns so they compare bitwise):
{
  "version": 3, "tensor_count": N, "kv_count": M, "alignment": 32, "data_offset": D,
  "kvs": [ {"key": "...", "type": <gguf value type id>, "elem_type": <id or null>,
            "value": <see below>} ... ],            # file order, without the GGUF.* pseudo-keys
  "tensors": [ {"name": "...", "type": <ggml type id>, "ne": [ne0, ne1, ...],
                "offset": <absolute byte offset>, "n_bytes": B,
                "head": "<hex of the first 16 bytes>", "tail": "<hex of the last 16 bytes>",
                "byte_sum": <sum of all bytes>} ... ]
}
value: integers as JSON integers; f32/f64 as their bit patterns (u32/u64 integers); bool as
true/false; strings as the hex of their raw bytes; arrays as a JSON list of those.
"""
import json
import sys
import time

try:
    import numpy as np
    from gguf import GGUFReader, GGUFValueType
except Exception as e:  # pragma: no cover - exercised only when the oracle is missing
    print(f"SKIP: the Python packages gguf and numpy are required ({e})", file=sys.stderr)
    sys.exit(3)

PSEUDO_KEYS = {"GGUF.version", "GGUF.tensor_count", "GGUF.kv_count"}


def scalar_array(parts, idxs, vtype):
    """Concatenate the 1-element numpy parts of an array into JSON-ready values."""
    if not idxs:
        return []
    # One numpy view per element; joining their bytes is ~25x faster than np.concatenate on
    # 262k memmap views.
    dtype = parts[idxs[0]].dtype
    arr = np.frombuffer(b"".join([parts[i].tobytes() for i in idxs]), dtype=dtype)
    arr = arr.astype(dtype.newbyteorder("="), copy=False)  # native order before bit views
    if vtype == GGUFValueType.FLOAT32:
        return arr.view(np.uint32).tolist()
    if vtype == GGUFValueType.FLOAT64:
        return arr.view(np.uint64).tolist()
    if vtype == GGUFValueType.BOOL:
        return [bool(x) for x in arr.view(np.uint8).tolist()]
    return arr.tolist()


def field_json(f):
    main = f.types[0]
    if main == GGUFValueType.ARRAY:
        # gguf-py records the element type only when the array is non-empty; read it from the
        # raw part (the u32 right after the value type) so empty arrays are described too.
        elem = GGUFValueType(int(f.parts[3][0]))
        if elem == GGUFValueType.STRING:
            value = [f.parts[i].tobytes().hex() for i in f.data]
        else:
            value = scalar_array(f.parts, f.data, elem)
        return {"key": f.name, "type": int(main), "elem_type": int(elem), "value": value}
    if main == GGUFValueType.STRING:
        value = f.parts[-1].tobytes().hex()
    else:
        value = scalar_array(f.parts, [len(f.parts) - 1], main)[0]
    return {"key": f.name, "type": int(main), "elem_type": None, "value": value}


def main():
    if sys.argv[1:] == ["--check"]:
        print(f"gguf_py_dump: numpy {np.__version__}, gguf from {sys.modules['gguf'].__file__}", file=sys.stderr)
        return
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    t0 = time.time()
    r = GGUFReader(sys.argv[1])
    t1 = time.time()
    header = {k: int(r.fields[k].parts[-1][0]) for k in PSEUDO_KEYS}
    kvs = [field_json(f) for k, f in r.fields.items() if k not in PSEUDO_KEYS]
    tensors = []
    for t in r.tensors:
        raw = np.ravel(t.data).view(np.uint8)  # the bytes numpy sees for this tensor
        assert raw.size == t.n_bytes, (t.name, raw.size, t.n_bytes)
        tensors.append({
            "name": t.name,
            "type": int(t.tensor_type),
            "ne": [int(d) for d in t.shape],  # t.shape is the on-disk dims, ne0 first
            "offset": int(t.data_offset),
            "n_bytes": int(t.n_bytes),
            "head": raw[:16].tobytes().hex(),
            "tail": raw[-16:].tobytes().hex(),
            "byte_sum": int(raw.sum(dtype=np.uint64)),
        })
    out = {
        "version": header["GGUF.version"],
        "tensor_count": header["GGUF.tensor_count"],
        "kv_count": header["GGUF.kv_count"],
        "alignment": int(r.alignment),
        "data_offset": int(r.data_offset),
        "kvs": kvs,
        "tensors": tensors,
    }
    text = json.dumps(out, separators=(",", ":"))
    if len(sys.argv) == 3:
        with open(sys.argv[2], "w") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    print(f"gguf_py_dump: GGUFReader {t1 - t0:.2f} s, dump {time.time() - t1:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
