"""The fan-out bench's viewers on Node.js `ws` clients: `bench.fanout_bench --loadgen node`.

NodeWorkers has fanout_bench.Workers' constructor and members, so `run_server(..., viewers=NodeWorkers)`
measures the same way; its processes are `node bench/node/loadgen.mjs`, each holding its share
of the connections and driven by JSON lines over its stdin / stdout. What `collect()` returns is
what fanout_bench.Load.collect() returns (captured texts as bytes).

bench/node/node_modules comes from `npm ci --prefix bench/node`, run once here when it is missing.
"""

from __future__ import annotations

import contextlib
import json
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from bench import fanout_bench as fb

NODE_DIR = Path(__file__).resolve().parent / "node"
LOADGEN = NODE_DIR / "loadgen.mjs"


def node_binary() -> str:
    """`node`, with bench/node's packages installed (npm ci, once); a clear error without Node."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("--loadgen node needs Node.js (18 or later): `node` is not on PATH")
    if not (NODE_DIR / "node_modules").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(f"{NODE_DIR / 'node_modules'} is missing and `npm` is not on PATH to install it")
        print(f"# {NODE_DIR / 'node_modules'} is missing: running npm ci --prefix {NODE_DIR}", file=sys.stderr, flush=True)
        subprocess.run([npm, "ci", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund"], check=True, stdout=sys.stderr)
    return node


def _read_lines(stream: IO[bytes], into: queue.Queue[bytes | None]) -> None:
    with contextlib.suppress(ValueError, OSError):
        for line in stream:
            into.put(line)
    into.put(None)  # the process closed its stdout: it exited


class NodeWorkers(fb.Workers):
    """fb.Workers whose processes are Node.js ones holding `ws` clients (bench/node/loadgen.mjs)."""

    def __init__(self, count: int, port: int, path: str, subscribe: bytes | None, ping_every: float, capture: bool):
        node = node_binary()
        self.nodes: list[subprocess.Popen[bytes]] = []
        self.replies: list[queue.Queue[bytes | None]] = []
        self.readers: list[threading.Thread] = []
        try:
            for i in range(count):
                argv = [node, str(LOADGEN), "--url", f"ws://127.0.0.1:{port}{path}", "--ping-every", repr(ping_every),
                        "--connect-timeout", repr(fb.CONNECT_TIMEOUT)]
                if subscribe is not None:
                    argv += ["--subscribe", subscribe.decode()]
                if capture and i == 0:
                    argv.append("--capture")
                # _child_setup: the open-file limit raised, and SIGTERM when the bench dies.
                proc = subprocess.Popen(argv, cwd=fb.ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, preexec_fn=fb._child_setup)
                into: queue.Queue[bytes | None] = queue.Queue()
                reader = threading.Thread(target=_read_lines, args=(proc.stdout, into), daemon=True, name=f"loadgen-{proc.pid}")
                reader.start()
                self.nodes.append(proc)
                self.replies.append(into)
                self.readers.append(reader)
        except BaseException:
            self.stop()
            raise

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.nodes]

    def ask(self, command: str, args: list[Any], timeout: float) -> list[Any]:
        for proc, arg in zip(self.nodes, args, strict=True):
            assert proc.stdin is not None
            if command == "connect":  # fb.Workers.connect passes (count, concurrency)
                arg = {"count": arg[0], "concurrency": arg[1]}
            proc.stdin.write(json.dumps({"cmd": command, **(arg or {})}).encode() + b"\n")
            proc.stdin.flush()
        deadline = time.monotonic() + timeout
        replies = []
        for proc, into in zip(self.nodes, self.replies, strict=True):
            try:
                line = into.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"a node load generator (pid {proc.pid}) did not answer {command!r} within {timeout:.0f} s") from None
            if line is None:
                raise RuntimeError(f"a node load generator (pid {proc.pid}) exited with {proc.wait(5)} before answering {command!r}")
            replies.append(json.loads(line))
        return replies

    def collect(self) -> list[dict[str, Any]]:
        replies = self.ask("collect", [None] * len(self.nodes), 60.0)
        for r in replies:  # as the Python workers give them
            r["texts"] = {k: v.encode() for k, v in r["texts"].items()}
            if r["snapshot"] is not None:
                r["snapshot"] = r["snapshot"].encode()
        return replies

    def stop(self) -> None:
        for proc in self.nodes:
            with contextlib.suppress(OSError, ValueError):
                assert proc.stdin is not None
                proc.stdin.write(b'{"cmd":"stop"}\n')
                proc.stdin.close()  # stdin's end stops it too
        for proc in self.nodes:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for reader in self.readers:
            reader.join(5)
        for proc in self.nodes:
            if proc.stdout is not None:
                proc.stdout.close()
