# Minimal safetensors I/O for the Python reference side of tests (Debian has no `safetensors`
# package): the format is an 8-byte little-endian header length, a JSON header, then the bytes.
import json, struct
import torch

_DT = {"F32": torch.float32, "F64": torch.float64, "BF16": torch.bfloat16, "F16": torch.float16,
       "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}
_NAME = {v: k for k, v in _DT.items()}


def load(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    buf = data[8 + n:]
    out = {}
    for k, e in header.items():
        b, end = e["data_offsets"]
        dt = _DT[e["dtype"]]
        t = torch.frombuffer(bytearray(buf[b:end]), dtype=dt) if end > b else torch.empty(0, dtype=dt)
        out[k] = t.reshape(e["shape"]).clone()
    return out


def save(path, tensors, metadata=None):
    header, chunks, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for k, t in tensors.items():
        t = t.detach().contiguous().cpu()
        raw = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[k] = {"dtype": _NAME[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(chunks))
