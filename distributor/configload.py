"""Find, read and validate the admin's YAML; report every problem at once, with file and line."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from distributor import errors, labels, registry, rendering, resources
from distributor.config import AppConfig, ChannelConfig
from distributor.rendering import Renderer
from distributor.yamlsource import KeyPath, YamlSource, read_yaml_file

ENV_VAR = "DISTRIBUTOR_CONFIG"

_FRIENDLY = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
}


@dataclass(frozen=True)
class LoadedConfig:
    """A validated configuration and where it came from."""

    app: AppConfig
    path: Path
    bundled: bool

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def renderer(self) -> Renderer:
        return Renderer.for_config(self.base_dir)

    def secrets(self) -> list[str]:
        """Every secret value in the config, so logs can be scrubbed of them."""
        return sorted(_secrets(self.app), key=len, reverse=True)


def resolve_path(explicit: str | os.PathLike[str] | None) -> tuple[Path, bool]:
    """``-c/--config``, then ``$DISTRIBUTOR_CONFIG``, then the bundled zero-config default."""
    if explicit:
        return Path(explicit), False
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        return Path(from_env), False
    return resources.default_config_path(), True


def load_config(
    explicit: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> LoadedConfig:
    path, bundled = resolve_path(explicit)
    source = read_yaml_file(path, environ)
    problems = list(source.problems)
    if source.data is None:
        raise errors.ConfigError(problems)
    if not isinstance(source.data, dict):
        raise errors.ConfigError([f"{path}:1: the file must be a mapping of keys (version: 1 …)"])
    app, channels = _validate(source, problems)
    _check_templates(channels, source, path, problems)
    if app is not None:
        names = _entry_names(source)
        if names is not None:
            _check_references(app, names, source, problems)
        _check_platforms(app, channels, source, problems)
    if problems or app is None:
        raise errors.ConfigError(sorted(problems, key=_line_number))
    return LoadedConfig(app=app, path=path, bundled=bundled)


def _line_number(problem: str) -> int:
    head = problem.split(": ", 1)[0]
    line = head.rpartition(":")[2]
    return int(line) if line.isdigit() else 0


def _report(exc: ValidationError, source: YamlSource, prefix: KeyPath, problems: list[str]) -> None:
    for error in exc.errors(include_url=False, include_input=False):
        loc = (*prefix, *(part for part in error["loc"] if not _is_union_tag(part)))
        message = _FRIENDLY.get(error["type"], error["msg"])
        message = message.removeprefix("Value error, ")
        problems.append(f"{source.where(loc)}: {message}")


def _is_union_tag(part: object) -> bool:
    # pydantic inserts the chosen model's name into the location of nested unions.
    return isinstance(part, str) and part[:1].isupper()


def _validate(
    source: YamlSource, problems: list[str]
) -> tuple[AppConfig | None, list[tuple[int, ChannelConfig]]]:
    data: dict[str, Any] = dict(source.data)
    raw_channels = data.pop("channels", [])
    channels: list[tuple[int, ChannelConfig]] = []
    if not isinstance(raw_channels, list):
        problems.append(f"{source.where(('channels',))}: must be a list of channels")
        raw_channels = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_channels):
        name = raw.get("name") if isinstance(raw, dict) else None
        if isinstance(name, str) and name in seen:
            problems.append(
                f"{source.where(('channels', index, 'name'))}: duplicate channel name "
                f"{name!r} (first at channels[{seen[name]}])"
            )
        elif isinstance(name, str):
            seen[name] = index
        channel = _validate_channel(raw, index, source, problems)
        if channel is not None:
            channels.append((index, channel))
    try:
        app = AppConfig.model_validate(data)
    except ValidationError as exc:
        _report(exc, source, (), problems)
        return None, channels
    valid = tuple(channel for _, channel in channels)
    return app.model_copy(update={"channels": valid}), channels


def _validate_channel(
    raw: object, index: int, source: YamlSource, problems: list[str]
) -> ChannelConfig | None:
    where: KeyPath = ("channels", index)
    if not isinstance(raw, dict):
        problems.append(f"{source.where(where)}: a channel must be a mapping of keys")
        return None
    platform = raw.get("platform")
    if not isinstance(platform, str):
        problems.append(f"{source.where((*where, 'platform'))}: required key is missing")
        return None
    try:
        spec = registry.get(platform)
    except LookupError as exc:
        problems.append(f"{source.where((*where, 'platform'))}: {exc}")
        return None
    try:
        return spec.config_model.model_validate(raw)
    except ValidationError as exc:
        _report(exc, source, where, problems)
        return None


def _check_templates(
    channels: list[tuple[int, ChannelConfig]], source: YamlSource, path: Path, problems: list[str]
) -> None:
    """Load every template of every channel, then render the channel's posts of two sample
    stories through its payload builder: a template that fails at render time (an undefined
    name, a sandbox refusal) is reported now, with its file and line, not at the first story.
    """
    renderer = Renderer.for_config(path.parent)
    raw = source.data.get("labels") if isinstance(source.data, dict) else None
    admin_labels = {
        str(lang): {str(k): str(v) for k, v in words.items()}
        for lang, words in (raw.items() if isinstance(raw, dict) else ())
        if isinstance(words, dict)
    }
    for index, channel in channels:
        spec = registry.get(channel.platform)

        def where(template: str, channel: ChannelConfig = channel, index: int = index) -> str:
            # The key that named the template (text_template…), else the channel's template.
            named = [k for k, v in channel if v == template and k.endswith("template")]
            return source.where(("channels", index, named[0] if named else "template"))

        loaded = True
        for template in spec.templates(channel):
            try:
                renderer.template(template)
            except errors.TemplateError as exc:
                problems.append(f"{where(template)}: {exc}")
                loaded = False
        if not loaded:
            continue
        builder = spec.builder(channel, renderer)
        max_chars = channel.summary_max_chars or 600
        for language in channel.filters.languages or ("en",):
            words = labels.labels_for(language, admin_labels)
            try:
                for view in rendering.sample_views(language, words, max_chars):
                    builder.render(view)
            except errors.TemplateError as exc:
                name = getattr(exc, "template", "")
                problems.append(f"{where(name)}: rendering a sample story: {exc}")
                break


def _entry_names(source: YamlSource) -> set[str] | None:
    """The name of every channel entry in the file, valid or not (None: no list to read).

    A channel that failed validation is already reported; a promo link or the alerts key naming
    it must not add a second, false "no channel named" problem.
    """
    raw_channels = source.data.get("channels", []) if isinstance(source.data, dict) else None
    if not isinstance(raw_channels, list):
        return None
    return {
        raw["name"]
        for raw in raw_channels
        if isinstance(raw, dict) and isinstance(raw.get("name"), str)
    }


def _check_references(
    app: AppConfig, names: set[str], source: YamlSource, problems: list[str]
) -> None:
    """Promo links and the alerts key must name a channel entry of the file."""
    if app.promo is not None:
        for index, link in enumerate(app.promo.links):
            if link.channel is not None and link.channel not in names:
                problems.append(
                    f"{source.where(('promo', 'links', index, 'channel'))}: "
                    f"no channel named {link.channel!r}"
                )
    if app.alerts.channel is not None and app.alerts.channel not in names:
        problems.append(
            f"{source.where(('alerts', 'channel'))}: no channel named {app.alerts.channel!r}"
        )


def _check_platforms(
    app: AppConfig,
    channels: list[tuple[int, ChannelConfig]],
    source: YamlSource,
    problems: list[str],
) -> None:
    """Each platform's rules across all its channels (its spec's ``validate`` hook)."""
    by_platform: dict[str, list[tuple[int, ChannelConfig]]] = {}
    for index, channel in channels:
        by_platform.setdefault(channel.platform, []).append((index, channel))
    for platform, mine in sorted(by_platform.items()):
        for problem in registry.get(platform).validate(mine, app):
            problems.append(f"{source.where(problem.path)}: {problem.message}")


def _secrets(value: object) -> set[str]:
    found: set[str] = set()
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        if secret:
            found.add(secret)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            found |= _secrets(getattr(value, name))
    elif isinstance(value, (list, tuple)):
        for item in value:
            found |= _secrets(item)
    elif isinstance(value, dict):
        for item in value.values():
            found |= _secrets(item)
    return found
