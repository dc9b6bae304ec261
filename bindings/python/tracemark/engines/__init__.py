"""Thin adapters of serving engines over tracemark.device.DeviceWatermark (one shared device
implementation): each keeps one host Processor per request (context seeds, repeated contexts),
follows the engine's batch as it changes, and biases the engine's device logits in place; the
logits never leave the device.

    tracemark.engines.hf      Hugging Face transformers LogitsProcessor (model.generate)
    tracemark.engines.vllm    vLLM's batch-level (v1) LogitsProcessor
    tracemark.engines.sglang  SGLang's CustomLogitProcessor

Importing an adapter does not import its engine; where the engine is installed, the adapter
derives from the engine's own base class.
"""
