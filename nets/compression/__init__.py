"""Compression tools that shrink the Go net: int8 quantization, structured pruning, distillation."""
