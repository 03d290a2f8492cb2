"""Why `config.json` of an `hf:ORG/NAME` could not be downloaded, in words: gated, not found
(or private), no such revision or file, a token refused, the Hub not reachable, or network
access refused (model processes run without network). huggingface_hub's exceptions are
matched by class name, so that this module imports nothing of it."""

from __future__ import annotations

import os

TOKEN_ADVICE = "log in with `hf auth login` or set HF_TOKEN"


def has_token() -> bool:
    """Whether huggingface_hub would send a token (HF_TOKEN, or one saved by `hf auth login`)."""
    if os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN"):
        return True
    try:
        from huggingface_hub import get_token

        return get_token() is not None
    except Exception:  # an old huggingface_hub, an unreadable token file
        return False


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def download_failure(exc: BaseException, repo: str, revision: str) -> str:
    """One clause saying why downloading `repo`'s config.json at `revision` failed."""
    names = _names(exc)
    cause = exc.__cause__
    if "LocalEntryNotFoundError" in names and cause is not None and cause is not exc:
        return download_failure(cause, repo, revision)  # "not in the cache either": why the Hub said no
    token = has_token()
    if "NetworkBlockedError" in names:
        return "network access is refused where the model is built"
    if "GatedRepoError" in names:
        if token:
            return f"{repo} is a gated repository and this token has no access: request it on the Hub's page of {repo}"
        return f"{repo} is a gated repository: request access on its Hub page, then {TOKEN_ADVICE}"
    if "RepositoryNotFoundError" in names:
        private = "" if token else f" (or it is private: {TOKEN_ADVICE})"
        return f"no repository {repo} on the Hub{private}"
    if "RevisionNotFoundError" in names:
        return f"{repo} has no revision {revision!r}"
    if "EntryNotFoundError" in names and "LocalEntryNotFoundError" not in names:
        return f"{repo} has no config.json at {revision!r} (not a transformers model?)"
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status in (401, 403):
        return f"the Hub refused access (HTTP {status}): " + ("the token was not accepted" if token else TOKEN_ADVICE)
    if "LocalEntryNotFoundError" in names or _is_connection_error(exc):
        return UNREACHABLE
    if status is not None:
        return f"the Hub answered HTTP {status}"
    from paraminspect.errors import exception_line

    return exception_line(exc)


def _is_connection_error(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        names = _names(current)
        if names & {"ConnectionError", "ConnectError", "ConnectTimeout", "TimeoutException", "Timeout"}:
            return True
        if isinstance(current, OSError) and not isinstance(current, FileNotFoundError):
            return True
        current = current.__cause__ or current.__context__
    return False


UNREACHABLE = "the Hugging Face Hub could not be reached (no network? HF_ENDPOINT, proxy settings)"
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def unreachable(endpoint: str, timeout: float = 5.0) -> str:
    """Why `endpoint` (the Hub's URL) cannot be reached, from one TCP connection; "" when it
    can, or when a proxy is set (then only the download itself can tell)."""
    import socket
    from urllib.parse import urlsplit

    if any(os.environ.get(name) for name in PROXY_VARIABLES):
        return ""
    parts = urlsplit(endpoint)
    if not parts.hostname:
        return ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return ""
    except (OSError, RuntimeError) as exc:  # RuntimeError: the network guard's NetworkBlockedError
        from paraminspect.errors import exception_line

        if "NetworkBlockedError" in _names(exc):
            return "network access is refused where the model is built"
        return f"{UNREACHABLE}: {parts.hostname}:{port}: {exception_line(exc)}"
