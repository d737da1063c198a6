"""Go networks: AlphaGo Lee's policy, value and rollout nets and AlphaGo Zero's ResNet."""
