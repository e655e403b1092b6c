"""Readers for docker/Dockerfile and compose.yaml, enough for the static checks.

They cover the forms that this project's files use, not every form Docker
accepts. Where skipping an unknown form could let a check pass, they raise
``ValueError`` instead.
"""

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"
COMPOSE_FILE = REPO_ROOT / "compose.yaml"
SETTINGS_MODULE = REPO_ROOT / "common" / "settings.py"

# `env.integer("NAME"`, `env.text("NAME"` and `env.optional("NAME"` in
# common/settings.py, where every environment variable is read.
_SETTINGS_READ = re.compile(r"\benv\.(?:integer|text|optional)\(\s*\"([A-Z0-9_]+)\"")
# ${NAME:-default} uses the default when NAME is unset or empty, ${NAME-default}
# only when it is unset. ${NAME:?message} and ${NAME?message} make Compose
# stop with the message instead.
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?])([^}]*)\}")
_HTTP_URL = re.compile(r"http://([^/:'\"\s]+):(\d+)(/[^'\"\s]*)")


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    stage: str
    keyword: str
    arguments: str
    line: int

    def exec_form(self) -> list[str] | None:
        """Return the JSON array of an exec-form argument, or None for shell form."""
        try:
            value = json.loads(self.arguments)
        except json.JSONDecodeError:
            return None
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value
        return None


@dataclass(frozen=True)
class Dockerfile:
    """The instructions of a Dockerfile and the parent of each build stage."""

    instructions: list[Instruction]
    parents: dict[str, str]

    def stage(self, name: str) -> list[Instruction]:
        """Return the instructions that build stage ``name``, parents first.

        Instructions such as USER and ENV carry over from a parent stage
        named in ``FROM <stage> AS <name>``, so they are part of the result.
        """
        if name not in self.parents:
            raise KeyError(f"no build stage named {name!r}")

        own = [item for item in self.instructions if item.stage == name]
        parent = self.parents[name]
        if parent in self.parents:
            return self.stage(parent) + own
        return own

    def last(self, stage: str, keyword: str) -> Instruction | None:
        """Return the last ``keyword`` instruction in effect for ``stage``."""
        matches = [item for item in self.stage(stage) if item.keyword == keyword]
        return matches[-1] if matches else None


def read_dockerfile(path: Path = DOCKERFILE) -> Dockerfile:
    """Parse ``path`` into instructions, each tagged with its build stage."""
    instructions: list[Instruction] = []
    parents: dict[str, str] = {}
    stage = ""
    pending: list[str] = []
    start_line = 0

    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        stripped = raw.strip()
        # Docker drops comment lines, also inside a continued instruction.
        if not stripped or stripped.startswith("#"):
            continue
        if not pending:
            start_line = number
        continued = stripped.endswith("\\")
        pending.append(stripped.removesuffix("\\").strip())
        if continued:
            continue

        keyword, _, arguments = " ".join(pending).partition(" ")
        keyword = keyword.upper()
        pending = []
        if keyword == "FROM":
            stage = _stage_name(arguments, index=len(parents))
            parents[stage] = arguments.split()[0]
        instructions.append(Instruction(stage, keyword, arguments.strip(), start_line))

    if pending:
        raise ValueError(f"{path}: the last instruction ends with a backslash")

    return Dockerfile(instructions, parents)


def _stage_name(from_arguments: str, index: int) -> str:
    words = from_arguments.split()
    if len(words) == 3 and words[1].upper() == "AS":
        return words[2]
    if len(words) == 1:
        return str(index)
    raise ValueError(f"unsupported FROM form: FROM {from_arguments}")


def copy_sources(instruction: Instruction) -> list[str]:
    """Return the build-context paths that a COPY or ADD instruction reads.

    A copy from another stage or image (``--from=``) reads nothing from the
    build context, so it returns an empty list.
    """
    words = instruction.exec_form() or shlex.split(instruction.arguments)
    flags = [word for word in words if word.startswith("--")]
    paths = [word for word in words if not word.startswith("--")]
    if any(flag.startswith("--from=") for flag in flags):
        return []
    if len(paths) < 2:
        raise ValueError(
            f"line {instruction.line}: {instruction.keyword} needs a source "
            "and a destination"
        )

    return paths[:-1]


def option_value(command: list[str], option: str) -> str:
    """Return the value of ``option`` in ``command`` (``--opt V`` or ``--opt=V``)."""
    for index, word in enumerate(command):
        if word == option and index + 1 < len(command):
            return command[index + 1]
        if word.startswith(f"{option}="):
            return word.partition("=")[2]

    raise ValueError(f"{option} not found in {command}")


def http_urls(text: str) -> list[tuple[str, int, str]]:
    """Return (host, port, path) of every ``http://host:port/path`` in ``text``."""
    return [(host, int(port), path) for host, port, path in _HTTP_URL.findall(text)]


def settings_variables(path: Path = SETTINGS_MODULE) -> set[str]:
    """Return the environment variables that the settings module reads."""
    return set(_SETTINGS_READ.findall(path.read_text()))


def environment(service: dict) -> dict[str, str]:
    """Return a compose service's environment as a dict, in either form."""
    entries = service.get("environment") or {}
    if isinstance(entries, list):
        pairs = (entry.partition("=") for entry in entries)
        return {name: value for name, _, value in pairs}

    return {
        name: "" if value is None else str(value) for name, value in entries.items()
    }


def interpolate(value: str) -> str:
    """Replace each ``${NAME:-default}`` in ``value`` with its default.

    A required ``${NAME:?message}`` becomes ``required_value(NAME)``, the
    stand-in for what the operator must set. Raises ``ValueError`` for a
    ``$`` reference that is neither, since the file would then depend on the
    operator's shell without saying so.
    """

    def resolve(match: re.Match) -> str:
        name, operator, word = match.groups()
        return required_value(name) if operator.endswith("?") else word

    resolved = _INTERPOLATION.sub(resolve, value)
    if "$" in resolved.replace("$$", ""):
        raise ValueError(f"{value!r} has a variable reference without a default")

    return resolved.replace("$$", "$")


def interpolated_defaults(value: str) -> dict[str, str]:
    """Return {NAME: default} for each ``${NAME:-default}`` in ``value``."""
    return {
        name: default
        for name, operator, default in _INTERPOLATION.findall(value)
        if operator.endswith("-")
    }


def required_variables(value: str) -> set[str]:
    """Return the NAME of each ``${NAME:?message}`` in ``value``."""
    return {
        name
        for name, operator, _ in _INTERPOLATION.findall(value)
        if operator.endswith("?")
    }


def required_value(name: str) -> str:
    """Return the value that ``interpolate`` puts in place of a required variable.

    It is URL-safe, because compose.yaml puts the required values into URLs.
    """
    return f"required-{name.lower().replace('_', '-')}"


@dataclass(frozen=True)
class PublishedPort:
    """A port mapping from a compose service's ``ports`` list."""

    host_ip: str
    published: str
    target: int


def published_ports(service: dict) -> list[PublishedPort]:
    """Return a compose service's port mappings, short or long syntax."""
    ports: list[PublishedPort] = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            ports.append(
                PublishedPort(
                    str(entry.get("host_ip", "")),
                    str(entry.get("published", "")),
                    int(entry["target"]),
                )
            )
            continue

        mapping = interpolate(str(entry)).partition("/")[0]
        parts = mapping.rsplit(":", 2)
        if len(parts) == 3:
            host_ip, published, target = parts
        elif len(parts) == 2:
            host_ip, (published, target) = "", parts
        else:
            host_ip, published, target = "", "", parts[0]
        ports.append(PublishedPort(host_ip, published, int(target)))

    return ports


def publishes(port: PublishedPort, host_port: int) -> bool:
    """Return True when ``port`` publishes on ``host_port`` (a range counts)."""
    first, _, last = port.published.partition("-")
    if not first:
        return False

    return int(first) <= host_port <= int(last or first)


@dataclass(frozen=True)
class Mount:
    """A volume entry of a compose service."""

    source: str
    target: str
    named: bool


def mounts(service: dict) -> list[Mount]:
    """Return a compose service's volume mounts, short or long syntax."""
    result: list[Mount] = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            source = str(entry.get("source", ""))
            target = str(entry["target"])
            named = entry.get("type", "volume") == "volume" and bool(source)
        else:
            source, _, rest = str(entry).partition(":")
            target = rest.partition(":")[0] or source
            named = bool(rest) and not source.startswith((".", "/", "~", "$"))
        result.append(Mount(source, target, named))

    return result


def listeners(value: str) -> dict[str, tuple[str, int]]:
    """Parse Kafka's ``NAME://host:port,...`` into {NAME: (host, port)}."""
    parsed: dict[str, tuple[str, int]] = {}
    for item in value.split(","):
        name, separator, address = item.strip().partition("://")
        host, colon, port = address.rpartition(":")
        if not separator or not colon or not port.isdigit():
            raise ValueError(f"invalid Kafka listener {item!r} in {value!r}")
        parsed[name] = (host, int(port))

    return parsed
