"""`goengine compress`: shrink a trained AlphaGo Zero net, each result a checkpoint `goengine gtp --weights`
and `goengine match` load.

Start at cli.py (prune, distill, quantize subcommands), then data.py (replay records of a run folder as
training batches and held-out positions). The methods themselves are in nets/compression/.
"""
