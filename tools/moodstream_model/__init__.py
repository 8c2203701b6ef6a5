"""Building the analyzer's model: data, fine-tuning, ONNX export, evaluation, cache.

Build-time code that ``make model`` and the benchmarks run; no service imports it.
"""
