"""Go networks: AlphaGo Lee's policy, value and rollout nets and AlphaGo Zero's ResNet.

Start reading at `lee.py` (AlphaGo Lee's policy and value nets and how their layers are counted), then
`presets.py` and `zero_resnet.py` (the AlphaGo Zero net, its block variants as a table and the named
sizes). `checkpoint.py` saves and loads any of them with their config; `bench.py` times forward passes.
"""
from nets.go import bench, checkpoint, lee, presets, zero_resnet  # noqa: F401  (fills the registry)
from nets.go import rollout  # noqa: F401
