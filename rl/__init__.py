"""rl: records, losses, trainers (AlphaGo Lee and AlphaGo Zero), the gymnasium Go env and RL algorithms."""
