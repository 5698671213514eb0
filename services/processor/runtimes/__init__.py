"""The ``runtime`` hook family: what executes a model file (onnxruntime, tensorrt, opencv)."""
