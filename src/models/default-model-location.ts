/** Where the untrained default model lives in a model repository; the server checks it without loading the builder. */
export const DEFAULT_MODEL_NAME = 'resnet101-huber-wflw';
export const DEFAULT_MODEL_FILE = 'model.onnx';
