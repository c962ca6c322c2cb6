"""``load_bench``: a bench YAML file in, a validated ``BenchConfig`` out.

Every problem a user can make — a typo in a key, a wrong type, a name that refers to nothing,
a missing file — is raised as one ``ConfigError`` listing each problem as
``file:line: dotted.field: message``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, ValidationError

from bench.config.cross_check import Problem, cross_check
from bench.config.flash_spec import FlashSpec
from bench.config.models import BenchConfig, EcuConfig, EcuProfile
from bench.config.power_models import PowerConfig
from bench.config.yaml_source import Locations, YamlPath, dotted, nearest_line, read_yaml
from bench.errors import ConfigError


def load_bench(path: str | Path) -> BenchConfig:
    """Read, validate and cross-check a bench file; relative paths become absolute."""
    source = Path(path).expanduser().resolve()
    file = str(source)
    if not source.is_file():
        raise ConfigError(f"bench file not found: {path}", file=file)
    data, locations = read_yaml(source, display=file)
    if not isinstance(data, dict):
        raise ConfigError("a bench file is a mapping with at least 'name', 'buses' and 'ecus'; "
                          f"got {type(data).__name__}", file=file, line=locations.get((), 1))
    problems: list[Problem] = []
    if "source" in data:  # set by the loader, never written by hand
        problems.append((("source",), "unknown key 'source' (the loader sets it)"))
    problems += _read_flash_spec_files(data, source.parent)
    try:
        bench = BenchConfig.model_validate(data)
    except ValidationError as exc:
        problems += validation_problems(exc, data, BenchConfig)
    if problems:
        raise config_error(problems, file, locations)
    bench = _resolve_paths(bench, source.parent)
    problems = cross_check(bench)
    if problems:
        raise config_error(problems, file, locations)
    return bench.model_copy(update={"source": source})


def load_flash_spec(path: str | Path) -> FlashSpec:
    """Read and validate a flash specification file; its errors name that file, line and field."""
    file = str(Path(path).expanduser().resolve())
    data, locations = read_yaml(file)
    try:
        return FlashSpec.model_validate(data)
    except ValidationError as exc:
        raise config_error(validation_problems(exc, data, FlashSpec), file, locations,
                           what="flash specification") from None


def _read_flash_spec_files(data: dict[str, Any], base: Path) -> list[Problem]:
    """Put the spec read from each profile's ``flash_spec: FILE.yaml`` (relative to the bench file) in
    its place; a mistake inside that file raises at once, naming that file."""
    problems: list[Problem] = []
    profiles = data.get("profiles")
    for name, profile in profiles.items() if isinstance(profiles, dict) else ():
        ref = profile.get("flash_spec") if isinstance(profile, dict) else None
        if not isinstance(ref, str) or not ref.lower().endswith((".yaml", ".yml")):
            continue
        path = (base / ref).expanduser().resolve()
        if not path.is_file():
            problems.append((("profiles", name, "flash_spec"), f"flash specification file not found: {path}"))
            continue
        profile["flash_spec"] = load_flash_spec(path)
    return problems


# -- pydantic errors → file:line: field: message ------------------------------------------------

def validation_problems(exc: ValidationError, data: Any, model: type[BaseModel]) -> list[Problem]:
    """Each error of validating ``data`` (as read from YAML) against ``model``, at the path of the
    file it belongs to, with a message that says what to write instead."""
    merged: dict[YamlPath, list[str]] = {}
    for error in exc.errors():
        loc = tuple(error["loc"])
        kind = error["type"]
        path = loc if kind == "missing" else _written_prefix(data, loc)
        if kind == "missing":
            message = f"required key {loc[-1]!r} is missing"
        elif kind == "extra_forbidden":
            message = unknown_key_message(loc[-1], _fields_at(model, loc[:-1]))
        elif kind == "value_error":
            message = str(error["ctx"]["error"])
        else:
            message = f"{error['msg']} (got {error['input']!r})"
        if message not in merged.setdefault(path, []):
            merged[path].append(message)
    return [(path, "; ".join(messages)) for path, messages in merged.items()]


def _written_prefix(data: Any, loc: tuple[Any, ...]) -> YamlPath:
    """The longest part of a pydantic location that exists in the file (drops union tags)."""
    path: list[str | int] = []
    for part in loc:
        if isinstance(data, Mapping) and data.get("do") == part:
            continue  # the tag of a flash spec step's kind (``do: session``), before any key of that name
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            break
        path.append(part)
    return tuple(path)


def unknown_key_message(key: Any, known: list[str]) -> str:
    """``unknown key 'bitrat'; did you mean 'bitrate'? (allowed here: ...)``."""
    message = f"unknown key {key!r}"
    close = difflib.get_close_matches(str(key), known, n=1)
    if close:
        message += f"; did you mean {close[0]!r}?"
    if known:
        message += f" (allowed here: {', '.join(known)})"
    return message


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys the model at ``loc`` accepts, walking field annotations (dict values, optionals)."""
    annotation: Any = model
    for part in loc:
        annotation = _unwrap(annotation)
        kinds = _step_kinds(annotation)
        if part in kinds:  # the tag of a flash spec step's kind: that kind's fields come next
            annotation = kinds[part]
            continue
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = next((field for name, field in annotation.model_fields.items()
                          if part in (name, field.alias)), None)
            if field is None:
                return []
            annotation = field.annotation
        elif get_origin(annotation) in (dict, list):
            annotation = get_args(annotation)[-1]
        else:
            return []
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [field.alias or name for name, field in annotation.model_fields.items() if name != "source"]
    return []


def _step_kinds(annotation: Any) -> dict[str, type[BaseModel]]:
    """A union of models told apart by ``do`` (the steps of a flash spec): each model by its tag."""
    kinds: dict[str, type[BaseModel]] = {}
    for member in get_args(annotation):
        field = getattr(member, "model_fields", {}).get("do")
        if field is not None:
            kinds.update((tag, member) for tag in get_args(field.annotation))
    return kinds


def _unwrap(annotation: Any) -> Any:
    """``X | None`` → ``X``; ``Annotated[X, ...]`` → ``X``."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    args = [arg for arg in get_args(annotation) if arg is not type(None)]
    if get_origin(annotation) not in (dict, list) and len(args) == 1:
        return args[0]
    return annotation


Model = TypeVar("Model", bound=BaseModel)


def read_validated(path: str | Path, model: type[Model], *, what: str) -> tuple[Model, Path, Locations]:
    """The YAML file at ``path`` validated as ``model``, with the file's resolved name and its
    locations; a mistake is one ConfigError (``what``: how the error names the file) listing them all."""
    source = Path(path).expanduser().resolve()
    data, locations = read_yaml(source, display=str(source))
    try:
        return model.model_validate(data), source, locations
    except ValidationError as exc:
        raise config_error(validation_problems(exc, data, model), str(source), locations, what=what) from None


def config_error(problems: list[Problem], file: str, locations: Locations, *,
                 what: str = "bench file") -> ConfigError:
    """One ConfigError listing every problem as ``file:line: field: message``."""
    lines = [(nearest_line(locations, path), path, message) for path, message in problems]
    if len(lines) == 1:
        line, path, message = lines[0]
        return ConfigError(message, file=file, line=line, field=dotted(path) or None)
    listing = "\n".join(f"  {file}:{line}: {dotted(path) or '<file>'}: {message}"
                        for line, path, message in lines)
    error = ConfigError(f"{len(lines)} problems in {what} {file}:\n{listing}")
    error.file, error.line, error.field = file, lines[0][0], dotted(lines[0][1])
    return error


# -- relative paths and cross references ----------------------------------------------------

def _resolve_paths(bench: BenchConfig, base: Path) -> BenchConfig:
    def absolute(path: Path) -> Path:
        return (base / path.expanduser()).resolve()

    profiles: dict[str, EcuProfile] = {}
    for name, profile in bench.profiles.items():
        library = profile.security.key_library
        if library is not None:
            security = profile.security.model_copy(update={"key_library": absolute(library)})
            profile = profile.model_copy(update={"security": security})
        profiles[name] = profile
    ecus: dict[str, EcuConfig] = {}
    for name, ecu in bench.ecus.items():
        if ecu.virtual is not None:
            image, key = ecu.virtual.factory_image, ecu.virtual.trusted_key
            virtual = ecu.virtual.model_copy(update={
                "trusted_key": absolute(key) if key is not None else None,
                "factory_image": absolute(image) if image is not None else None})
            ecu = ecu.model_copy(update={"virtual": virtual})
        ecus[name] = ecu
    power: dict[str, PowerConfig] = {}
    for name, supply in bench.power.items():
        process = supply.process
        if process is not None:
            process = process.model_copy(update={"cwd": absolute(process.cwd or Path(".")),
                                                 "nvm": absolute(process.nvm) if process.nvm is not None else None})
            supply = supply.model_copy(update={"process": process})
        power[name] = supply
    return bench.model_copy(update={"dbc": [absolute(p) for p in bench.dbc], "ecus": ecus, "profiles": profiles,
                                    "power": power})
