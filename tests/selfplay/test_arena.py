"""The gating arena with tiny AlphaGo Zero nets (preset 2x16 on 5x5, few visits): a net against itself
scores 50% because each colour-swapped pair replays the same game; a net that knows material beats the
same net with its value negated as both colours; batching games together changes no game."""
import pytest
import torch

import nets
from nets.go.checkpoint import CheckpointError, save
from selfplay.arena import ArenaConfig, MatchResult, load_net, play_match

SIZE = 5


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


def random_net(seed=0):
    torch.manual_seed(seed)
    return nets.build("zero_resnet", preset="2x16", board_size=SIZE).eval()


def material_net(sign=1.0, k=0.3, score=None):
    """A 2x16 ZeroResNet wired by hand so its value is tanh(sign * k * (own stones - opponent stones))
    and its policy uniform: the stem copies planes 0 and 1 (the mover's and the opponent's stones), the
    residual branch is switched off (its last BN has gamma 0), and the value head counts the difference.
    With `score` s, the net has the auxiliary heads and its score head says s * (own - opponent) / N², a
    margin of s points a stone ahead (the ownership head stays 0)."""
    m = nets.build("zero_resnet", preset="2x16", board_size=SIZE, aux_heads=score is not None).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.weight.fill_(1.0), mod.running_mean.zero_(), mod.running_var.fill_(1.0)
        m.stem[0].weight[0, 0, 1, 1] = 1.0
        m.stem[0].weight[1, 1, 1, 1] = 1.0
        conv, bn, _, _, fc1, _, fc2, _ = m.value_head
        conv.weight[0, 0], conv.weight[0, 1] = 1.0, -1.0  # own - opp per point, +1 from the BN below
        bn.bias.fill_(1.0)
        n2 = SIZE * SIZE
        fc1.weight[0].fill_(1.0), fc1.bias.__setitem__(0, -n2)  # relu(own - opp)
        fc1.weight[1].fill_(-1.0), fc1.bias.__setitem__(1, n2)  # relu(opp - own)
        fc2.weight[0, 0], fc2.weight[0, 1] = sign * k, -sign * k
        if score is not None:
            m.score_head.weight[0, 0], m.score_head.weight[0, 1] = score / n2, -score / n2
    return m


def test_material_net_is_wired_as_intended():
    x = torch.zeros(1, 17, SIZE, SIZE)
    x[0, 0, 0, 0] = x[0, 0, 1, 1] = x[0, 0, 3, 3] = 1.0  # three own stones
    x[0, 1, 2, 2] = 1.0  # one opponent stone
    logits, value = material_net()(x)
    assert value.item() == pytest.approx(torch.tanh(torch.tensor(0.6)).item(), abs=1e-5)
    assert material_net(sign=-1.0)(x)[1].item() == pytest.approx(-value.item(), abs=1e-6)
    assert torch.all(logits == 0)


def test_net_against_itself_scores_half_with_colour_swapped_pairs():
    net = random_net()
    result = play_match(net, net, board_size=SIZE, komi=0.5, games=12, visits=12, seed=1)
    assert isinstance(result, MatchResult) and result.games == 12 and result.draws == 0
    assert [s.a_colour for s in result.summaries] == ["b", "w"] * 6
    pairs = list(zip(result.summaries[::2], result.summaries[1::2]))
    mirrored = [p for p in pairs if p[0].moves == p[1].moves]
    assert len(mirrored) >= 5  # same opening draws, same net: the same game with the labels swapped
    for first, second in mirrored:
        assert first.result == second.result and first.winner != second.winner
    assert 0.4 <= result.score <= 0.6
    assert len({p[0].moves for p in pairs}) >= 4  # the temperature-1 openings make the pairs differ


def test_net_beats_itself_with_its_value_negated_as_both_colours():
    good, crippled = material_net(), material_net(sign=-1.0)
    result = play_match(crippled, good, board_size=SIZE, komi=0.5, games=12, visits=16, seed=2)
    assert result.losses_a >= 11  # the crippled net is A here: it wants to lose stones
    assert {s.a_colour for s in result.summaries if s.winner == "b"} == {"b", "w"}


def test_batching_games_together_changes_no_game():
    a, b = random_net(1), random_net(2)
    common = dict(board_size=SIZE, komi=0.5, games=6, visits=10, seed=3, leaves_per_round=2)
    together = play_match(a, b, parallel_games=6, **common)
    alone = play_match(a, b, parallel_games=1, **common)
    assert [s.moves for s in together.summaries] == [s.moves for s in alone.summaries]
    assert (together.wins_a, together.losses_a) == (alone.wins_a, alone.losses_a)


def test_move_cap_and_resignation_end_games():
    good, crippled = material_net(), material_net(sign=-1.0)
    capped = play_match(good, good, board_size=SIZE, komi=0.5, games=2, visits=8, seed=0, max_moves=6)
    assert all(len(s.moves) <= 6 for s in capped.summaries)
    # the material net's win rate is below 0.4 once it is a stone behind
    resigned = play_match(good, good, board_size=SIZE, komi=0.5, games=4, visits=16, seed=0, resign_threshold=0.4)
    assert any(s.result.endswith("+R") for s in resigned.summaries)
    for s in resigned.summaries:
        if s.result.endswith("+R"):
            loser = "w" if s.result[0] == "B" else "b"
            assert s.winner == ("a" if loser != s.a_colour else "b")


def test_config_and_checkpoint_errors(tmp_path):
    with pytest.raises(ValueError):
        ArenaConfig(board_size=5, games=0)
    with pytest.raises(ValueError):
        ArenaConfig(board_size=5, resign_threshold=1.0)
    path = tmp_path / "net.pt"
    save(path, random_net(), feature_set="zero")
    assert load_net(path, SIZE).config.board_size == SIZE
    with pytest.raises(CheckpointError, match="board size 5, expected 9"):
        load_net(path, 9)
