"""The Go nets learn to a goal on 7x7: the AlphaGo Lee policy and the AlphaGo Zero ResNet find the move
that captures or escapes (and the ResNet's value head whether it captures), the AlphaGo Lee value net
who has more stones.

A tiny stand-alone generator (the board engine lives elsewhere): random 7x7 positions, black to play,
kept only when exactly one point is the last liberty of any chain and playing there either captures a
white chain or gives the black chain in atari two or more liberties. That point is the answer.
"""
from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

import nets

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py

SIZE = 7
EMPTY, BLACK, WHITE = 0, 1, 2


def neighbours(p: int) -> list[int]:
    r, c = divmod(p, SIZE)
    steps = ((1, 0), (-1, 0), (0, 1), (0, -1))
    return [(r + dr) * SIZE + c + dc for dr, dc in steps if 0 <= r + dr < SIZE and 0 <= c + dc < SIZE]


def chains(board: list[int]) -> list[tuple[int, set[int], set[int]]]:
    """(colour, stones, liberties) of every chain, by flood fill."""
    seen: set[int] = set()
    found = []
    for p in range(SIZE * SIZE):
        if board[p] == EMPTY or p in seen:
            continue
        stones, liberties, todo = {p}, set(), [p]
        while todo:
            for q in neighbours(todo.pop()):
                if board[q] == EMPTY:
                    liberties.add(q)
                elif board[q] == board[p] and q not in stones:
                    stones.add(q)
                    todo.append(q)
        seen |= stones
        found.append((board[p], stones, liberties))
    return found


def the_tactical_move(board: list[int]) -> int | None:
    """The one capture or atari escape for black, or None if there is not exactly one."""
    found = chains(board)
    if any(not liberties for _, _, liberties in found):
        return None  # not a legal position
    last_liberties = {next(iter(liberties)) for _, _, liberties in found if len(liberties) == 1}
    if len(last_liberties) != 1:
        return None
    (p,) = last_liberties
    if any(colour == WHITE and liberties == {p} for colour, _, liberties in found):
        return p  # capture-in-one
    # Atari escape: black's chains next to p merge with the stone played there; it needs 2 liberties.
    after = {q for q in neighbours(p) if board[q] == EMPTY}
    for colour, stones, liberties in found:
        if colour == BLACK and stones & set(neighbours(p)):
            after |= liberties
    return p if len(after - {p}) >= 2 else None


def tactics(n: int, rng: random.Random) -> list[tuple[list[int], int]]:
    positions = []
    while len(positions) < n:
        board = [EMPTY] * (SIZE * SIZE)
        for i, p in enumerate(rng.sample(range(SIZE * SIZE), rng.randint(8, 24))):
            board[p] = BLACK if i % 2 == 0 else WHITE
        move = the_tactical_move(board)
        if move is not None:
            positions.append((board, move))
    return positions


def test_generator_on_known_positions():
    def parse(diagram: str) -> list[int]:
        return [{".": EMPTY, "X": BLACK, "O": WHITE}[ch] for ch in diagram.split()]

    capture = parse("""
        . . . . . . .
        . . X . . . .
        . X O X . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .""")
    assert the_tactical_move(capture) == 3 * SIZE + 2
    escape = parse("""
        . . . . . . .
        . . O . . . .
        . O X O . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .""")
    assert the_tactical_move(escape) == 3 * SIZE + 2
    dead_end = parse("""
        . . . . . . .
        . . O . . . .
        . O X O . . .
        . O . O . . .
        . . O . . . .
        . . . . . . .
        . . . . . . .""")
    assert the_tactical_move(dead_end) is None  # extending leaves black with no liberty at all
    two_ataris = parse("""
        X O X . . . .
        . X . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .""")
    assert the_tactical_move(two_ataris) is None


def encode(board: list[int]) -> torch.Tensor:
    """Planes: to-play (black) stones, opponent stones, empty points, ones (marks the board's edge)."""
    b_HW = torch.tensor(board).reshape(SIZE, SIZE)  # (49,) -> (7, 7)
    return torch.stack([b_HW == BLACK, b_HW == WHITE, b_HW == EMPTY, torch.ones_like(b_HW, dtype=torch.bool)]).float()


def is_capture(board: list[int], move: int) -> bool:
    return any(colour == WHITE and liberties == {move} for colour, _, liberties in chains(board))


@pytest.fixture(scope="module")
def tactics_data():
    """(planes, move, +1 capture / -1 escape) for 3000 training and ~1000 unseen held-out positions."""
    data = tactics(4000, random.Random(0))
    train, held_out = data[:3000], data[3000:]
    seen = {tuple(board) for board, _ in train}
    held_out = [(board, move) for board, move in held_out if tuple(board) not in seen]

    def tensors(rows):
        x_NCHW = torch.stack([encode(board) for board, _ in rows])
        move_N = torch.tensor([move for _, move in rows])
        capture_N = torch.tensor([1.0 if is_capture(board, move) else -1.0 for board, move in rows])
        return x_NCHW, move_N, capture_N

    return tensors(train), tensors(held_out)


def random_symmetry(x_NCHW: torch.Tensor, target_N: torch.Tensor, generator: torch.Generator):
    """One of the 8 board symmetries, applied to the planes and the target point alike."""
    onehot_N1HW = F.one_hot(target_N, SIZE * SIZE).float().reshape(-1, 1, SIZE, SIZE)  # (N,) -> (N, 1, 7, 7)
    both = torch.cat([x_NCHW, onehot_N1HW], dim=1)
    both = torch.rot90(both, int(torch.randint(4, (1,), generator=generator)), dims=(2, 3))
    if torch.randint(2, (1,), generator=generator):
        both = both.flip(3)
    return both[:, :-1], both[:, -1].flatten(1).argmax(1)  # (N, 1, 7, 7) -> (N, 49) -> (N,)


def test_lee_policy_learns_captures_and_escapes(tactics_data):
    (x_train, y_train, _), (x_test, y_test, _) = tactics_data
    torch.manual_seed(0)
    model = nets.build("lee_policy", board_size=SIZE, in_planes=4, filters=32, layers=6)
    steps = 600
    optimiser = torch.optim.Adam(model.parameters())
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=4e-3, total_steps=steps)
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        index = torch.randint(len(y_train), (64,), generator=generator)
        x, y = random_symmetry(x_train[index], y_train[index], generator)
        loss = F.cross_entropy(model(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    assert len(y_test) > 900
    print(f"held-out top-1 accuracy {accuracy:.3f} on {len(y_test)} positions")
    assert accuracy >= 0.95


def test_zero_resnet_learns_the_move_and_whether_it_captures(tactics_data):
    """Policy head: the tactical move. Value head: +1 if it captures, -1 if it escapes (a whole-board fact)."""
    (x_train, y_train, v_train), (x_test, y_test, v_test) = tactics_data
    torch.manual_seed(0)
    model = nets.build("zero_resnet", board_size=SIZE, in_planes=4, blocks=3, filters=24)
    steps = 400
    optimiser = torch.optim.Adam(model.parameters())
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=6e-3, total_steps=steps)
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        index = torch.randint(len(y_train), (64,), generator=generator)
        x, y = random_symmetry(x_train[index], y_train[index], generator)
        logits_NA, value_N = model(x)
        loss = F.cross_entropy(logits_NA, y) + F.mse_loss(value_N, v_train[index])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    model.eval()
    with torch.no_grad():
        logits_NA, value_N = model(x_test)
    move_accuracy = (logits_NA.argmax(1) == y_test).float().mean().item()
    outcome_accuracy = (value_N.sign() == v_test).float().mean().item()
    print(f"zero_resnet held-out: move {move_accuracy:.3f}, capture-or-escape {outcome_accuracy:.3f}")
    assert move_accuracy >= 0.95 and outcome_accuracy >= 0.95


def test_lee_value_learns_who_has_more_stones():
    rng = random.Random(1)
    rows = []
    while len(rows) < 1500:
        n_black, n_white = rng.randint(2, 20), rng.randint(2, 20)
        if n_black == n_white:
            continue
        board = [EMPTY] * (SIZE * SIZE)
        for i, p in enumerate(rng.sample(range(SIZE * SIZE), n_black + n_white)):
            board[p] = BLACK if i < n_black else WHITE
        rows.append((board, 1.0 if n_black > n_white else -1.0))
    to_play_plane = torch.ones(1, SIZE, SIZE)  # the value net's 49th plane: black to play, here always
    x_NCHW = torch.stack([torch.cat([encode(b), to_play_plane]) for b, _ in rows])
    v_N = torch.tensor([v for _, v in rows])
    torch.manual_seed(0)
    model = nets.build("lee_value", board_size=SIZE, in_planes=5, filters=16, layers=3)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(300):
        index = torch.randint(1000, (64,), generator=generator)
        loss = F.mse_loss(model(x_NCHW[index]), v_N[index])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        accuracy = (model(x_NCHW[1000:]).sign() == v_N[1000:]).float().mean().item()
    print(f"lee_value held-out sign accuracy {accuracy:.3f}")
    assert accuracy >= 0.95
