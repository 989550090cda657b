"""What every command shares: consoles, one-line errors, model loading.

A command wraps its body in :func:`cli_errors`: the errors a user can cause (a missing
path, bad JSON, a model that cannot be loaded, an out-of-range option) become one red
line on stderr and exit code 2, never a traceback. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console

from manifold_core.defaults import DEFAULT_EMBEDDING_MODEL, DEFAULT_RERANKER_MODEL

__all__ = [
    "DEFAULT_EMBEDDING",
    "DEFAULT_RERANKER",
    "CliError",
    "cli_errors",
    "console",
    "err_console",
    "fail",
    "load_encoder",
    "load_reranker",
]

# Environment variables override the Qwen3 defaults of the seed article.
DEFAULT_EMBEDDING = os.environ.get("MANIFOLD_EMBEDDING_MODEL", DEFAULT_EMBEDDING_MODEL)
DEFAULT_RERANKER = os.environ.get("MANIFOLD_RERANKER_MODEL", DEFAULT_RERANKER_MODEL)

console = Console()
err_console = Console(stderr=True)


class CliError(Exception):
    """A user error: printed as one line, exit code 2."""


def fail(message: str) -> NoReturn:
    """Stop the command with one line on stderr and exit code 2."""
    raise CliError(message)


# How the library's messages name a parameter or a next step -> how the CLI user says it.
_FLAG_WORDING = (
    ("embedding_batch_size", "--batch-size"),
    ("model must not be empty", "--model must not be empty"),
    ("leave model unset", "omit --model"),
    ("leave stemming unset", "omit --stemming"),
    ("index_dir '", "--index '"),
    ("another index_dir", "another --index"),
    ("ingest files into it first", "run `manifold ingest PATH... --index DIR` first"),
    ("ingest its files again", "re-run `manifold ingest PATH... --index DIR`"),
)


def flag_wording(message: str) -> str:
    """``message`` (from the library) with parameters named as CLI flags."""
    for library, cli in _FLAG_WORDING:
        message = message.replace(library, cli)
    return message


@contextmanager
def cli_errors(verbose: bool = False) -> Iterator[None]:
    """Turn user errors raised inside the block into one line and exit code 2.

    Unless ``verbose``, the libraries' own progress bars and warnings are silenced for
    the block (see :func:`manifold_core.quiet.quiet_libraries`).
    """
    from manifold_core.locks import DirectoryInUseError
    from manifold_core.packaged import ModelLoadError
    from manifold_core.quiet import quiet_libraries

    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        with quiet_libraries(enabled=not verbose):
            yield
    except (
        CliError,
        ModelLoadError,
        DirectoryInUseError,
        PermissionError,
        ValueError,
        TypeError,
        FileNotFoundError,
    ) as exc:
        message = flag_wording(str(exc) or type(exc).__name__)
        err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err_console.print("[bold red]interrupted[/]")
        raise typer.Exit(130) from None


def _go_offline_if_hub_unreachable(model: str) -> None:
    """Switch the Hub client to offline mode when a Hub name is asked for and it is unreachable.

    Without this, huggingface_hub retries for about 90 s, printing warnings, before
    failing; offline, a model already in the local cache loads at once and a missing one
    fails at once with :func:`manifold_core.packaged.load_error`'s one line.
    """
    import socket
    import sys
    from urllib.parse import urlsplit

    from manifold_core.packaged import is_packaged

    if is_packaged(model) or os.path.exists(model) or os.environ.get("HF_HUB_OFFLINE"):
        return
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname or "huggingface.co", port), timeout=3).close()
    except OSError:
        os.environ["HF_HUB_OFFLINE"] = "1"
        constants = sys.modules.get("huggingface_hub.constants")
        if constants is not None:
            constants.HF_HUB_OFFLINE = True  # type: ignore[attr-defined]


def load_encoder(model: str) -> Any:
    """An encoder for a Hub name, a folder or a ``pkg:`` name (ModelLoadError otherwise)."""
    from manifold_core.encoders import resolve_encoder

    _go_offline_if_hub_unreachable(model)
    return resolve_encoder(model)


def load_reranker(model: str) -> Any:
    """A reranker for a name (see :func:`manifold_core.reranking.resolve_reranker`)."""
    from manifold_core.reranking import resolve_reranker

    _go_offline_if_hub_unreachable(model)
    return resolve_reranker(model)
