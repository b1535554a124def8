"""Build `lab/data/onnx_model.onnx`: the NumPy model's MLP (`lab.numpy_model`) as an ONNX graph.

    uv run --group model-build python tools/build_onnx_model.py            # rewrite the committed file
    uv run --group model-build python tools/build_onnx_model.py -o x.onnx  # somewhere else (the test does)

The file holds the graph only (about 1 KB): every weight is an *external* initializer, named but not
stored, because the weights are already in the repo as a seed with a checksum (`lab/data/numpy_model.json`,
~10 MB once drawn). `lab.onnx_model` draws them with `load_numpy_model()` and hands them to ONNX Runtime
in memory (`SessionOptions.add_external_initializers`), so both runtimes compute with the same arrays and
must give the same answer. Only this script needs the `onnx` package; the lab at run time needs ONNX Runtime.

The output is byte-for-byte reproducible (no timestamps, fixed opset and IR version):
tests/test_onnx_model.py rebuilds it and compares.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import onnx
from onnx import TensorProto, helper

DATA = Path(__file__).resolve().parents[1] / "lab" / "data"
OPSET = 17  # every operator below exists unchanged since opset 13; 17 is old enough for any ONNX Runtime here
IR_VERSION = 8  # the IR version of opset 17
# Not a file: ONNX Runtime never reads it, because lab.onnx_model supplies every weight in memory. A tool
# that opens the graph on its own fails on this name, which says where the weights come from.
WEIGHTS_LOCATION = "drawn-by-lab.numpy_model-from-numpy_model.json"


def external(name: str, shape: tuple[int, ...]) -> TensorProto:
    """A float32 initializer whose data lives outside the file (given to ONNX Runtime at load)."""
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=shape, data_location=TensorProto.EXTERNAL)
    for key, value in (("location", WEIGHTS_LOCATION), ("length", str(4 * _size(shape)))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def _size(shape: tuple[int, ...]) -> int:
    size = 1
    for dim in shape:
        size *= dim
    return size


def build(description: dict[str, object]) -> onnx.ModelProto:
    """The graph of `NumpyModel.predict`: the same operations, in the same order, on the same weights."""
    width, depth, candidates = (int(str(description[k])) for k in ("width", "depth", "candidates"))
    layers = [f"layer_{i}" for i in range(depth)]
    weights = [external("candidates", (candidates, width))]
    weights += [external(name, (width, width)) for name in layers]
    weights.append(external("head", (width,)))
    # x = tanh(candidates * feature_1 + feature_2)
    nodes = [
        helper.make_node("Mul", ["candidates", "feature_1"], ["scaled"]),
        helper.make_node("Add", ["scaled", "feature_2"], ["shifted"]),
        helper.make_node("Tanh", ["shifted"], ["x_0"]),
    ]
    for i, name in enumerate(layers):  # x = tanh(x @ W), six times: the MatMuls are where the time goes
        nodes += [
            helper.make_node("MatMul", [f"x_{i}", name], [f"z_{i}"]),
            helper.make_node("Tanh", [f"z_{i}"], [f"x_{i + 1}"]),
        ]
    nodes += [  # sigmoid(mean(x @ head))
        helper.make_node("MatMul", [f"x_{depth}", "head"], ["scores"]),
        helper.make_node("ReduceMean", ["scores"], ["score"], keepdims=0),
        helper.make_node("Sigmoid", ["score"], ["probability"]),
    ]
    graph = helper.make_graph(
        nodes,
        str(description["name"]),
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, []) for name in ("feature_1", "feature_2")],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, [])],
        initializer=weights,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="concurrency-lab tools/build_onnx_model.py",
        model_version=int(str(description["version"]).split(".")[0]),
        doc_string=f"{description['name']} {description['version']}: the weights are external, see lab/onnx_model.py",
    )
    model.ir_version = IR_VERSION
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=DATA / "onnx_model.onnx")
    output = parser.parse_args().output
    description = json.loads((DATA / "numpy_model.json").read_text())
    data = build(description).SerializeToString(deterministic=True)
    output.write_bytes(data)
    print(f"{output}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
