"""The model: its spec and catalog, open_clip loading, export to ONNX/OpenVINO, the torch-free runtime, prompts."""
