"""The user guides run as written: every ```console block of docs/guides is executed.

The four guides are one journey on loopback (authority, city, company, auditor), in one bash
session, so shell variables a guide sets stay set for the next, as they would in a reader's
terminal. ``$ `` starts a command (a trailing ``\\`` or a here-document continues it); the
other lines of a block are output the command must print, in that order (``…`` stands for
anything). A block preceded by ``<!-- test: after NAME.md -->`` runs once that guide is done; one
preceded by ``<!-- test: needs ganache -->`` runs only where ganache is installed. The ports the
guides use (8080…8084, 8545) are replaced by free ones. Also checked: the Grafana dashboard
names only metrics a connector exports, and the compose file parses.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
GUIDES = ROOT / "docs" / "guides"
JOURNEY = ["authority.md", "city.md", "company.md", "auditor.md"]
PORTS = ["8080", "8081", "8082", "8083", "8084", "8085", "8545"]
#: ./scripts/test installs it into this checkout
GANACHE = ROOT / ".cache" / "evm" / "node_modules" / ".bin" / "ganache"
COMMAND_TIMEOUT_S = 90.0
MARKER = re.compile(r"<!--\s*test:\s*(.+?)\s*-->")
#: the journey starts six connectors and a chain node on 2 shared cores
pytestmark = pytest.mark.timeout(600)
HEREDOC = re.compile(r"<<-?\s*'?\"?(\w+)'?\"?")


@dataclass
class Command:
    text: str
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    guide: str
    line: int
    commands: list[Command]
    marker: str = ""


def parse(path: Path) -> list[Block]:
    """The console blocks of one guide, with the marker comment right above each."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    marker = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        found = MARKER.search(line)
        if found:
            marker = found.group(1)
        elif line.strip() == "```console":
            start = i + 1
            body: list[str] = []
            i += 1
            while lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            blocks.append(Block(path.name, start, commands_of(body), marker))
            marker = ""
        elif line.strip() and not line.startswith("<!--"):
            marker = "" if line.startswith("```") else marker
        i += 1
    return blocks


def commands_of(body: list[str]) -> list[Command]:
    commands: list[Command] = []
    i = 0
    while i < len(body):
        line = body[i]
        if line.startswith("$ "):
            text = line[2:]
            while text.endswith("\\") and i + 1 < len(body):
                i += 1
                text += "\n" + body[i]
            heredoc = HEREDOC.search(text)
            if heredoc:
                while i + 1 < len(body):
                    i += 1
                    text += "\n" + body[i]
                    if body[i].strip() == heredoc.group(1):
                        break
            commands.append(Command(text))
        elif line.strip() and line.strip() != "…" and commands:
            commands[-1].expected.append(line.strip())
        i += 1
    return commands


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Shell:
    """One bash session, as a reader's terminal: commands in, their output and status out."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.background: list[int] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("@@EOF@@ 255\n")

    def run(self, command: str) -> tuple[int, list[str]]:
        assert self.proc.stdin is not None
        script = command + "\n__rc=$?\n"
        if command.rstrip().endswith("&"):
            script += 'echo "@@PID@@ $!"\n'
        script += 'echo; echo "@@END@@ $__rc"; unset __rc\n'
        self.proc.stdin.write(script)
        self.proc.stdin.flush()
        out: list[str] = []
        while True:
            try:
                line = self.lines.get(timeout=COMMAND_TIMEOUT_S)
            except queue.Empty:
                return 124, [*out, f"(no answer within {COMMAND_TIMEOUT_S:g} s)"]
            if line.startswith("@@PID@@ "):
                self.background.append(int(line.split()[1]))
            elif line.startswith(("@@END@@ ", "@@EOF@@ ")):
                if out and out[-1] == "":
                    out.pop()
                return int(line.split()[1]), out
            else:
                out.append(line.rstrip("\n"))

    def close(self) -> None:
        for pid in self.background:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for pid in self.background:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:  # a child of the shell, not ours: poll until it is gone
                for _ in range(100):
                    try:
                        os.kill(pid, 0)
                    except ProcessLookupError:
                        break
                    threading.Event().wait(0.1)
                else:
                    os.kill(pid, signal.SIGKILL)
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


def matches(expected: list[str], output: list[str]) -> str | None:
    """None if every expected line appears in ``output`` in order, else the first missing."""
    lines = iter(line.strip() for line in output)
    for want in expected:
        pattern = re.compile(".*".join(re.escape(part) for part in want.split("…")))
        if not any(pattern.fullmatch(line) for line in lines):
            return want
    return None


@dataclass
class Journey:
    ran: int
    metrics: str
    admin_key: str


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journey]:
    if shutil.which("curl") is None or shutil.which("jq") is None:
        pytest.skip("the guides use curl and jq")
    work = tmp_path_factory.mktemp("guides")
    ports = {p: str(free_port()) for p in PORTS}
    bin_dir = work / ".bin"
    bin_dir.mkdir()
    (bin_dir / "agora").symlink_to(Path(sys.executable).parent / "agora")
    has_ganache = GANACHE.exists()
    if has_ganache:
        (bin_dir / "ganache").symlink_to(GANACHE)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AGORA_")},
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "200",
    }
    blocks = {name: parse(GUIDES / name) for name in JOURNEY}
    order: list[Block] = []
    for name in JOURNEY:
        order += [b for b in blocks[name] if not b.marker.startswith("after ")]
        for other in JOURNEY:
            order += [b for b in blocks[other] if b.marker == f"after {name}"]
    transcript = work / "transcript.log"  # what ran, for a failure's post-mortem
    shell = Shell(work, env)
    ran = 0
    try:
        for block in order:
            if block.marker == "needs ganache" and not has_ganache:
                continue
            for command in block.commands:
                text, expected = command.text, command.expected
                for guide_port, port in ports.items():
                    text = text.replace(guide_port, port)
                    expected = [e.replace(guide_port, port) for e in expected]
                with transcript.open("a") as log:
                    log.write(f"$ {text}\n")
                code, output = shell.run(text)
                with transcript.open("a") as log:
                    log.write("\n".join(output) + f"\n[exit {code}]\n")
                shown = "\n".join(output)
                where = f"{block.guide}, block at line {block.line}: $ {command.text}"
                assert code == 0, f"{where}\nexit status {code}:\n{shown}"
                missing = matches(expected, output)
                assert missing is None, f"{where}\nexpected a line {missing!r} in:\n{shown}"
                ran += 1
        key = (work / "murcia" / "admin-api-key").read_text().strip()
        req = urllib.request.Request(
            f"http://127.0.0.1:{ports['8081']}/metrics", headers={"Authorization": f"Bearer {key}"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            metrics = resp.read().decode()
        yield Journey(ran, metrics, key)
    finally:
        shell.close()
        keep = os.environ.get("GUIDES_TRANSCRIPT")  # a copy for whoever debugs a guide
        if keep and transcript.exists():
            shutil.copy(transcript, keep)


def test_the_four_guides_run_as_written(journey: Journey) -> None:
    every = sum(len(b.commands) for name in JOURNEY for b in parse(GUIDES / name))
    optional = sum(
        len(b.commands)
        for name in JOURNEY
        for b in parse(GUIDES / name)
        if b.marker == "needs ganache"
    )
    assert journey.ran >= every - optional and every > 40


def test_the_parser_reads_prompts_continuations_and_heredocs() -> None:
    body = [
        "$ agora init ./x \\",
        "    --dev",
        "Created …",
        "$ cat > a.json <<'EOF'",
        "{}",
        "EOF",
        "…",
        "$ echo done",
    ]
    found = commands_of(body)
    assert [c.text for c in found] == [
        "agora init ./x \\\n    --dev",
        "cat > a.json <<'EOF'\n{}\nEOF",
        "echo done",
    ]
    assert found[0].expected == ["Created …"] and found[1].expected == []
    assert matches(["Created …", "b"], ["x", "Created a/b", "b"]) is None
    assert matches(["b", "Created …"], ["Created a", "b"]) == "Created …"


def exported_names(text: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names


def test_the_grafana_dashboard_uses_only_exported_metrics(journey: Journey) -> None:
    dashboard = json.loads((ROOT / "docs" / "ops" / "grafana-dashboard.json").read_text())
    exprs = [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    used = {name for expr in exprs for name in re.findall(r"\bagora_[a-z_]+\b", expr)}
    assert len(exprs) >= 4 and used
    exported = exported_names(journey.metrics)
    assert used <= exported, f"not exported by a connector: {sorted(used - exported)}"
    labels = {label for expr in exprs for label in re.findall(r"\b(\w+)=~?\"", expr)}
    assert labels <= {"route", "method", "status", "job", "instance", "le"}, labels


def test_the_compose_file_parses_and_names_its_parts() -> None:
    compose = yaml.safe_load((ROOT / "docs" / "ops" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "agora-1", "agora-2", "nginx"} <= set(services)
    for replica in ("agora-1", "agora-2"):
        env = services[replica]["environment"]
        assert str(env["AGORA_STORAGE_URL"]).startswith("postgresql+asyncpg://")
    nginx_conf = (ROOT / "docs" / "ops" / "nginx.conf").read_text()
    for header in ("Link", "NGSILD-Tenant", "Authorization"):
        assert header in nginx_conf
    assert "proxy_buffering off" in nginx_conf
