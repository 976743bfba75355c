"""Makes an INT8 or FP16 copy of an ONNX model with ONNX Runtime's own tools (docs/spec.md §12).

The TypeScript side (tools/variants/cli.ts) samples the calibration crops exactly as the service
does and hands them over as raw float32 NCHW; this script never decides what a crop looks like,
and it never quantizes anything itself: INT8 is onnxruntime.quantization's static QDQ quantizer,
FP16 is onnxruntime.transformers.float16.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parent", required=True, type=Path)
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--precision", required=True, choices=["int8", "fp16"])
    parser.add_argument("--calibration", type=Path, help="raw little-endian float32 crops, NCHW")
    parser.add_argument("--crop-shape", help="C,H,W of one crop")
    parser.add_argument("--input-name")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--reduce-range", action="store_true", help="7-bit weights")
    parser.add_argument("--float-head", action="store_true", help="leave the nodes writing graph outputs in float")
    return parser.parse_args()


def load_crops(path: Path, crop_shape: str) -> np.ndarray:
    shape = tuple(int(part) for part in crop_shape.split(","))
    flat = np.fromfile(path, dtype="<f4")
    per_crop = int(np.prod(shape))
    if flat.size == 0 or flat.size % per_crop != 0:
        raise SystemExit(f"{path}: {flat.size} floats is not a whole number of {shape} crops")
    return flat.reshape((-1, *shape))


def name_nodes_and_find_head(path: Path) -> list[str]:
    """Names unnamed nodes (the quantizer excludes nodes by name) and returns those writing a graph output.

    The output tensor mixes means in input pixels with precision parameters on another scale, and one
    per-tensor INT8 scale over both costs the means most of their resolution; the head is a small
    fraction of the work, so it stays float.
    """
    model = onnx.load(str(path))
    outputs = {output.name for output in model.graph.output}
    head = []
    for index, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_{index}"
        if any(name in outputs for name in node.output):
            head.append(node.name)
    onnx.save(model, str(path))
    return head


def make_int8(args: argparse.Namespace) -> dict:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if args.calibration is None or args.crop_shape is None or args.input_name is None:
        raise SystemExit("int8 needs --calibration, --crop-shape and --input-name")
    crops = load_crops(args.calibration, args.crop_shape)

    class CropReader(CalibrationDataReader):
        def __init__(self) -> None:
            self.start = 0

        def get_next(self):
            if self.start >= len(crops):
                return None
            batch = crops[self.start : self.start + args.batch]
            self.start += args.batch
            return {args.input_name: np.ascontiguousarray(batch)}

    with tempfile.TemporaryDirectory() as scratch:
        # ONNX Runtime's recommended pre-processing (shape inference, then its own graph optimizer,
        # which folds BatchNorm into Conv) so the quantizer sees the graph the runtime will run.
        # The symbolic shape pass is skipped: it needs sympy and the models here have static shapes
        # apart from the batch axis.
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(args.parent), str(prepared), skip_symbolic_shape=True)
        head = name_nodes_and_find_head(prepared) if args.float_head else []
        quantize_static(
            str(prepared),
            str(args.output),
            CropReader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            reduce_range=args.reduce_range,
            # Unsigned activations (U8S8): with signed ones ONNX Runtime 1.30's CPU provider leaves every
            # Add and every convolution feeding one in float (measured on the ResNet fixtures: 37 of
            # ResNet-101's 105 convolutions), and the ResNet-18 fixture ran slower than FP32; with
            # unsigned ones all of them fuse into QLinearConv / QLinearAdd and it ran 1.7x faster.
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=head,
        )
    return {"floatHead": head, "calibrationCrops": int(len(crops)), "activation": "uint8", "weights": "int8 per channel, 7-bit range", "format": "QDQ"}


def make_fp16(args: argparse.Namespace) -> dict:
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(args.parent))
    # Inputs and outputs stay float32 so the service feeds and reads the variant like its parent.
    converted = convert_float_to_float16(model, keep_io_types=True)
    # The converter appends the input Casts after the nodes that read them; ONNX requires nodes in
    # topological order, and ONNX Runtime's model wrapper restores it.
    from onnxruntime.transformers.onnx_model import OnnxModel

    wrapped = OnnxModel(converted)
    wrapped.topological_sort()
    onnx.save(wrapped.model, str(args.output))
    return {"keepIoTypes": True}


def main() -> None:
    args = parse_args()
    details = make_int8(args) if args.precision == "int8" else make_fp16(args)
    onnx.checker.check_model(str(args.output))
    import onnxruntime

    details["onnxruntime"] = onnxruntime.__version__
    details["onnx"] = onnx.__version__
    print(json.dumps(details))


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # noqa: BLE001 - the caller shows this line to the person who ran the tool
        print(f"make_variant.py: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
