"""Inference: naming and finding models (loading, torch-free at import), their torch-free settings,
the diffusion parts (diffusion), the encoder architecture and checkpoint format (audio_prompt), the
encoder in torch (encoder) and its exported runtimes (runtimes: ONNX Runtime, TensorRT), the fbank
features (fbank), conditioning (slerp, smoothing, text mix), the img2img generator, and file hashes."""
