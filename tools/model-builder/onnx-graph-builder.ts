// A small typed layer over the protobufjs-generated ONNX definitions, enough to
// write inference graphs (the service's seeded default model and the test
// fixtures) without Python. Only what those graphs need is covered.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
export type ModelProto = onnxProto.onnx.ModelProto;

export const DEFAULT_OPSET = 17;
// IR version 8 is what opset 17 ships with (ONNX 1.12); onnxruntime reads it.
export const DEFAULT_IR_VERSION = 8;

export type Dim = number | string;

export type ElementType = 'float32' | 'int64' | 'int32';

const ELEMENT_TYPE: Record<ElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
};

export type TensorData = Float32Array | Int32Array | BigInt64Array;

/**
 * Node attribute values. A bare number or number[] is an integer attribute
 * (the common case: kernel_shape, strides, group...); floats must be spelled
 * with `attr.float`/`attr.floats`, because ONNX Runtime rejects a graph whose
 * attribute has the wrong type and a JS number cannot say which it is.
 */
export type AttributeValue =
  | number
  | readonly number[]
  | string
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'floats'; readonly value: readonly number[] };

export const attr = {
  float: (value: number) => ({ kind: 'float', value }) as const,
  floats: (value: readonly number[]) => ({ kind: 'floats', value }) as const,
};

export interface GraphBuilderOptions {
  name: string;
  opset?: number;
  irVersion?: number;
  producerName?: string;
  docString?: string;
}

function elementTypeOf(data: TensorData): ElementType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  return 'int64';
}

function toAttribute(name: string, value: AttributeValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: ${value} is not an integer; use attr.float()`);
    return { name, type: T.INT, i: value };
  }
  if (typeof value === 'string') return { name, type: T.STRING, s: Buffer.from(value, 'utf8') };
  if (Array.isArray(value)) {
    const ints = value as readonly number[];
    for (const v of ints) {
      if (!Number.isInteger(v)) throw new Error(`attribute ${name}: ${v} is not an integer; use attr.floats()`);
    }
    return { name, type: T.INTS, ints: [...ints] };
  }
  const tagged = value as Exclude<AttributeValue, number | string | readonly number[]>;
  if (tagged.kind === 'float') return { name, type: T.FLOAT, f: tagged.value };
  return { name, type: T.FLOATS, floats: [...tagged.value] };
}

function valueInfo(name: string, dims: readonly Dim[], elementType: ElementType): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPE[elementType],
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

export class OnnxGraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly names = new Set<string>();
  private counter = 0;
  private paramCount = 0;

  constructor(private readonly options: GraphBuilderOptions) {}

  /** Number of scalar parameters stored as initializers so far. */
  get parameterCount(): number {
    return this.paramCount;
  }

  /** A fresh tensor name starting with `prefix`, never handed out before. */
  uniqueName(prefix: string): string {
    let name = prefix;
    while (this.names.has(name)) name = `${prefix}_${++this.counter}`;
    this.names.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`duplicate tensor name ${name}`);
    this.names.add(name);
    return name;
  }

  addInput(name: string, dims: readonly Dim[], elementType: ElementType = 'float32'): string {
    this.inputs.push(valueInfo(this.claim(name), dims, elementType));
    return name;
  }

  /** Declares a graph output; `name` must be produced by a node. */
  addOutput(name: string, dims: readonly Dim[], elementType: ElementType = 'float32'): string {
    this.outputs.push(valueInfo(name, dims, elementType));
    return name;
  }

  /**
   * Stores `data` as raw little-endian bytes. The tensor keeps a view on the
   * caller's buffer, not a copy, so a 170 MB model is held once until
   * serialization; the caller must not modify `data` afterwards.
   */
  addInitializer(name: string, data: TensorData, dims: readonly number[]): string {
    const expected = dims.reduce((a, b) => a * b, 1);
    if (expected !== data.length) {
      throw new Error(`initializer ${name}: ${data.length} values for dims [${dims.join(',')}]`);
    }
    this.initializers.push({
      name: this.claim(name),
      dims: [...dims],
      dataType: ELEMENT_TYPE[elementTypeOf(data)],
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    this.paramCount += data.length;
    return name;
  }

  /**
   * Appends a node. Output names default to fresh names derived from the op
   * type; the output names are returned so calls can be chained.
   */
  addNode(
    opType: string,
    inputs: readonly string[],
    options: { outputs?: readonly string[] | number; name?: string; attributes?: Record<string, AttributeValue> } = {},
  ): string[] {
    const requested = options.outputs ?? 1;
    const outputs =
      typeof requested === 'number'
        ? Array.from({ length: requested }, () => this.uniqueName(`${options.name ?? opType}_out`))
        : requested.map((n) => this.claim(n));
    const attributes = Object.entries(options.attributes ?? {}).map(([k, v]) => toAttribute(k, v));
    this.nodes.push({
      opType,
      name: options.name ?? this.uniqueName(opType),
      input: [...inputs],
      output: outputs,
      attribute: attributes,
    });
    return outputs;
  }

  /** Single-output convenience for addNode. */
  op(opType: string, inputs: readonly string[], attributes?: Record<string, AttributeValue>, output?: string): string {
    const [out] = this.addNode(opType, inputs, {
      ...(attributes === undefined ? {} : { attributes }),
      outputs: output === undefined ? 1 : [output],
    });
    return out!;
  }

  toModelProto(): ModelProto {
    return onnx.ModelProto.create({
      irVersion: this.options.irVersion ?? DEFAULT_IR_VERSION,
      producerName: this.options.producerName ?? 'huber-keypoints',
      docString: this.options.docString ?? '',
      opsetImport: [{ domain: '', version: this.options.opset ?? DEFAULT_OPSET }],
      graph: {
        name: this.options.name,
        node: this.nodes,
        input: this.inputs,
        output: this.outputs,
        initializer: this.initializers,
      },
    });
  }

  /**
   * Serialized ModelProto. protobufjs copies each initializer exactly once,
   * into the single output buffer it allocates at finish().
   */
  toBuffer(): Buffer {
    const bytes = onnx.ModelProto.encode(this.toModelProto()).finish();
    return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
}
