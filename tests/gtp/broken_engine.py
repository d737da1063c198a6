"""A deliberately bad GTP engine for the match referee's tests (standard library only: starts fast).

    python broken_engine.py [--moves C3,C3,resign] [--crash-on-genmove N] [--sleep-on-genmove S]
                            [--refuse-play] [--score B+5] [--dead "C3 D4"] [--log FILE] [--name NAME]

genmove answers the --moves in order, then pass. It does not check anything: an illegal move in the
list is sent as it is. Every command line it reads is appended to --log, and "start" when it starts.
"""
import argparse
import sys
import time


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--moves", default="")
    p.add_argument("--crash-on-genmove", type=int, default=0)
    p.add_argument("--sleep-on-genmove", type=float, default=0.0)
    p.add_argument("--refuse-play", action="store_true")
    p.add_argument("--score", default=None)
    p.add_argument("--dead", default="")
    p.add_argument("--log", default=None)
    p.add_argument("--name", default="broken")
    args = p.parse_args()
    moves = [m for m in args.moves.split(",") if m]
    genmoves = 0

    def log(text: str) -> None:
        if args.log:
            with open(args.log, "a") as f:
                f.write(text + "\n")

    log("start")
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        log(line)
        name, *rest = line.split()
        ok, text = True, ""
        if name == "name":
            text = args.name
        elif name == "version":
            text = "0"
        elif name == "protocol_version":
            text = "2"
        elif name in ("boardsize", "clear_board", "komi", "time_settings", "set_free_handicap"):
            pass
        elif name == "fixed_handicap":
            text = "C3 G7"
        elif name == "play":
            ok, text = (False, "illegal move") if args.refuse_play else (True, "")
        elif name == "genmove":
            genmoves += 1
            if genmoves == args.crash_on_genmove:
                print("dying on purpose", file=sys.stderr, flush=True)
                return 3
            if args.sleep_on_genmove:
                time.sleep(args.sleep_on_genmove)
            text = moves.pop(0) if moves else "pass"
        elif name == "final_score":
            ok, text = (True, args.score) if args.score else (False, "cannot score")
        elif name == "final_status_list":
            text = args.dead
        elif name == "quit":
            print("=\n", flush=True)
            return 0
        else:
            ok, text = False, "unknown command"
        print(("= " if ok else "? ") + text + "\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
