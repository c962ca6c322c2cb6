"""What a bench file's parts say about each other, checked after each part is valid on its own:
names that refer to nothing, identifiers used twice, keys and files a profile or ECU needs, the
DoIP routes, the rest-bus's DBC messages. Each problem is (YAML path, message); ``load_bench``
turns them into one ``ConfigError`` with file and line."""

from __future__ import annotations

import difflib

import cantools

from bench.config.flash_spec import RoutineStep, SecurityAccessStep
from bench.config.key_functions import resolve_key_function, resolve_security_key
from bench.config.models import BenchConfig, EcuConfig, EcuProfile
from bench.config.power_models import PowerConfig
from bench.config.power_settings import check_relay_channel, resolve_dialect
from bench.config.registries import MUTANT_BOOTLOADERS, SIGNED_IMAGE_BOOTLOADERS
from bench.config.seed_key_library import SeedKeyLibraryError
from bench.config.vehicle_signals import VEHICLE_SIGNALS
from bench.config.yaml_source import YamlPath
from bench.errors import ConfigError

Problem = tuple[YamlPath, str]


def cross_check(bench: BenchConfig) -> list[Problem]:
    problems: list[Problem] = []
    for name, bus in bench.buses.items():
        if bus.data_bitrate is not None and not bus.fd:
            problems.append((("buses", name, "data_bitrate"),
                             "data_bitrate is a CAN FD setting but this bus has fd: false"))
    for name, profile in bench.profiles.items():
        problems += _key_problems(name, profile)
        problems += _flash_spec_problems(name, profile)
        memory = profile.memory
        if memory.address + memory.size > 2 ** (8 * memory.address_bytes):
            problems.append((("profiles", name, "memory"),
                             f"{memory.address:#x} + {memory.size:#x} does not fit an address of "
                             f"{memory.address_bytes} byte(s)"))
        if memory.size >= 2 ** (8 * memory.length_bytes):
            problems.append((("profiles", name, "memory", "size"),
                             f"{memory.size:#x} does not fit a length of {memory.length_bytes} byte(s)"))
    for name, power in bench.power.items():
        problems += _power_problems(name, power)
        for bus in power.process.shared_buses() if power.process is not None else ():
            if bench.buses.get(bus) is None or bench.buses[bus].share != "slcan":
                shared = ", ".join(n for n, b in bench.buses.items() if b.share == "slcan") or "none"
                problems.append((("power", name, "process", "command"),
                                 f"{{slcan:{bus}}} names no bus with share: slcan; shared buses: {shared}"))
    problems += _doip_problems(bench)
    messages, dbc_ok = _dbc_messages(bench, problems)
    problems += _restbus_problems(bench, messages, dbc_ok)
    used: dict[tuple[str, bool, int], tuple[str, str]] = {}
    for name, ecu in bench.ecus.items():
        here = ("ecus", name)
        for key, value, known in (("bus", ecu.bus, bench.buses), ("profile", ecu.profile, bench.profiles),
                                  ("power", ecu.power, bench.power), ("console", ecu.console, bench.serial)):
            if value is not None and value not in known:
                section = {"bus": "buses", "profile": "profiles", "power": "power", "console": "serial"}[key]
                choices = ", ".join(known) or "none"
                problems.append(((*here, key), f"unknown {key} {value!r}; '{section}' defines: {choices}"))
        problems += _ethernet_ecu_problems(name, ecu)
        for key, can_id in (("request_id", ecu.request_id), ("response_id", ecu.response_id),
                            ("functional_id", ecu.functional_id)):
            if can_id is not None and not ecu.extended_id and can_id > 0x7FF:
                problems.append(((*here, key), f"{can_id:#x} is not an 11-bit CAN identifier; "
                                 "set extended_id: true for 29-bit identifiers"))
        for key, can_id in (("request_id", ecu.request_id), ("response_id", ecu.response_id)):
            if ecu.bus is None or can_id is None:
                continue
            owner = used.setdefault((ecu.bus, ecu.extended_id, can_id), (name, key))
            if owner != (name, key):
                problems.append(((*here, key), f"{can_id:#x} is already the {owner[1]} of ECU "
                                 f"{owner[0]!r} on bus {ecu.bus!r}"))
        problems += _doip_route_problems(bench, name, ecu)
        virtual = ecu.virtual
        console = bench.serial.get(ecu.console or "")
        if console is not None and console.url == "pty" and virtual is None:
            problems.append(((*here, "console"), f"serial {ecu.console!r} has url 'pty', which only a virtual "
                             "ECU can write to; give a real ECU's console its port (e.g. /dev/ttyUSB0)"))
        if virtual is None:
            continue
        supply = bench.power.get(ecu.power or "")
        if supply is not None and supply.driver != "virtual":
            problems.append(((*here, "power"), f"virtual ECU on supply {ecu.power!r} (driver {supply.driver!r}); "
                             "a virtual ECU can only be powered by a virtual supply"))
        for key, path in (("factory_image", virtual.factory_image), ("trusted_key", virtual.trusted_key)):
            if path is not None and not path.is_file():
                problems.append(((*here, "virtual", key), f"file not found: {path}"))
        if virtual.status_message is not None and dbc_ok and virtual.status_message not in messages:
            problems.append(((*here, "virtual", "status_message"),
                             f"message {virtual.status_message!r} is not in the bench's DBC files; "
                             f"known messages: {', '.join(sorted(messages)) or 'none'}"))
        profile = bench.profiles.get(ecu.profile)
        if profile is not None and profile.bootloader in SIGNED_IMAGE_BOOTLOADERS and virtual.trusted_key is None:
            problems.append(((*here, "virtual"), f"a virtual {profile.bootloader} bootloader needs trusted_key: the "
                             "Ed25519 public key (PEM) it accepts images from"))
        if virtual.mutant is not None:
            problems += _mutant_problems(here, virtual.mutant, profile.bootloader if profile else None)
        delta = profile.delta if profile is not None else None
        if delta is not None and delta.segment_size % virtual.sector_size:
            problems.append(((*here, "virtual", "sector_size"),
                             f"{virtual.sector_size:#x} does not divide delta.segment_size {delta.segment_size:#x} "
                             f"of profile {ecu.profile!r} (a patch step rewrites whole sectors)"))
    return problems


def _restbus_problems(bench: BenchConfig, messages: set[str], dbc_ok: bool) -> list[Problem]:
    """The rest-bus sends on buses of the bench, the vehicle messages its DBC files hold."""
    if bench.restbus is None:
        return []
    problems: list[Problem] = []
    for index, bus in enumerate(bench.restbus.buses):
        if bus not in bench.buses:
            problems.append((("restbus", "buses", index),
                             f"unknown bus {bus!r}; 'buses' defines: {', '.join(bench.buses) or 'none'}"))
    wanted = sorted({message for message, _ in VEHICLE_SIGNALS.values()} - messages)
    if dbc_ok and wanted:
        problems.append((("restbus",), f"the bench's DBC files lack the vehicle message(s) {', '.join(wanted)} "
                         "the rest-bus sends (dbc/virtual_vehicle.dbc defines them)"))
    return problems


def _doip_route_problems(bench: BenchConfig, name: str, ecu: EcuConfig) -> list[Problem]:
    """``via`` names an entity of ``doip.entities`` that routes this ECU."""
    entities = bench.doip.entities if bench.doip is not None else {}
    if ecu.via is None:
        return []
    entity = entities.get(ecu.via)
    if entity is None:
        return [(("ecus", name, "via"), f"unknown DoIP entity {ecu.via!r}; 'doip.entities' defines: "
                 f"{', '.join(entities) or 'none'}")]
    if name not in entity.routes:
        return [(("ecus", name, "via"), f"DoIP entity {ecu.via!r} does not route ECU {name!r}; add it to "
                 f"doip.entities.{ecu.via}.routes with its logical address")]
    if ecu.bus is None and entity.virtual != (ecu.virtual is not None):
        return [(("ecus", name, "via"), f"ECU {name!r} on Ethernet is DoIP entity {ecu.via!r} itself: both are "
                 f"virtual (doip.entities.{ecu.via}.virtual: true and a virtual: section) or both real")]
    return []


def _ethernet_ecu_problems(name: str, ecu: EcuConfig) -> list[Problem]:
    """An ECU on CAN has a bus and its request and response identifiers; one on Ethernet (no bus)
    is the DoIP entity its ``via`` names and has no CAN identifiers."""
    here = ("ecus", name)
    if ecu.bus is not None:
        return [((*here, key), f"missing: an ECU on bus {ecu.bus!r} needs its {key}")
                for key, can_id in (("request_id", ecu.request_id), ("response_id", ecu.response_id))
                if can_id is None]
    if ecu.via is None:
        return [(here, "no bus and no via: an ECU on CAN needs bus, request_id and response_id; an ECU on "
                 "Ethernet needs via: the DoIP entity (doip.entities) it is")]
    return [((*here, key), f"{key} is a CAN identifier, but ECU {name!r} has no bus (an ECU on Ethernet)")
            for key, can_id in (("request_id", ecu.request_id), ("response_id", ecu.response_id))
            if can_id is not None]


def _doip_problems(bench: BenchConfig) -> list[Problem]:
    """Every routed ECU exists; logical addresses are unique within an entity and apart from the tester's."""
    problems: list[Problem] = []
    if bench.doip is None:
        return problems
    for entity_name, entity in bench.doip.entities.items():
        here = ("doip", "entities", entity_name)
        seen: dict[int, str] = {entity.logical_address: "the entity itself", bench.doip.tester_address: "the tester"}
        for ecu, logical in entity.routes.items():
            if ecu not in bench.ecus:
                problems.append(((*here, "routes", ecu), unknown_name_message("ECU", ecu, list(bench.ecus))))
            elif bench.ecus[ecu].bus is None and logical == entity.logical_address:
                continue  # an ECU on Ethernet may answer at the address of the entity it is
            owner = seen.setdefault(logical, f"ECU {ecu!r}")
            if owner != f"ECU {ecu!r}":
                problems.append(((*here, "routes", ecu), f"logical address {logical:#06x} is already used by {owner}"))
    return problems


def _flash_spec_problems(name: str, profile: EcuProfile) -> list[Problem]:
    """Key functions a spec names for its security levels must import. A spec resuming from the
    bench's journal is the bench's own contract, which the flasher sends
    with the profile's routines, DIDs and security level: the spec must say the same."""
    spec = profile.flash_spec
    problems: list[Problem] = []
    for step in spec.steps:
        if isinstance(step, SecurityAccessStep) and step.key_function is not None:
            try:
                resolve_key_function(step.key_function)
            except ValueError as exc:
                problems.append((("profiles", name, "flash_spec"), f"flash specification {spec.name!r}: security "
                                 f"level {step.level:#04x}: key function {step.key_function!r}: {exc}"))
    if spec.needs_memory_map and not spec.memory_map and not profile.memory.blocks:
        problems.append((("profiles", name, "flash_spec"), f"flash specification {spec.name!r} names blocks by "
                         "their index or region (block_index, range: region): give the ECU's logical blocks "
                         "(the spec's memory_map or the profile's memory.blocks)"))
    if not spec.takes_images:
        return problems
    if profile.bootloader not in SIGNED_IMAGE_BOOTLOADERS:
        return problems + [(("profiles", name, "flash_spec"),
                            f"flash specification {spec.name!r} is the bench's own contract (signed images, resume "
                            f"from its journal), which a {profile.bootloader} bootloader does not keep: name its own "
                            f"spec (flash_spec: {profile.bootloader} if the bench ships one)")]
    said = {"routines.erase": profile.routines.erase, "routines.check_memory": profile.routines.check_memory,
            "routines.check_dependencies": profile.routines.check_dependencies,
            "security.level": profile.security.level}
    erase = spec.blocks.erase
    sent = {"routines.erase": erase.routine_id if erase else None,
            "security.level": next((s.level for s in spec.steps if isinstance(s, SecurityAccessStep)), None)}
    routines = [s.routine_id for s in spec.steps if isinstance(s, RoutineStep)]
    sent["routines.check_memory"], sent["routines.check_dependencies"] = (routines + [None, None])[:2]
    return problems + [(("profiles", name, "flash_spec"),
             f"flash specification {spec.name!r} resumes from the bench's journal, so the flasher sends the "
             f"bench's sequence with this profile's {key} {said[key]:#x}; the spec says "
             f"{'nothing' if sent[key] is None else hex(sent[key])}: make them agree")
            for key in said if sent[key] != said[key]]


def _key_problems(name: str, profile: EcuProfile) -> list[Problem]:
    """A key function that does not import, or a seed-key library that does not load or lacks
    the function it would be called by."""
    security = profile.security
    here = ("profiles", name, "security")
    if security.key_library is not None:
        if not security.key_library.is_file():
            return [((*here, "key_library"), f"file not found: {security.key_library}")]
        try:
            resolve_security_key(security)
        except SeedKeyLibraryError as exc:
            return [((*here, "key_library"), f"profile {name!r}: {exc.reason} ({security.key_library})")]
        return []
    try:
        resolve_key_function(security.key_function)
    except ValueError as exc:
        return [((*here, "key_function"), f"profile {name!r}: key function {security.key_function!r}: {exc}")]
    return []


def _power_problems(name: str, power: PowerConfig) -> list[Problem]:
    """The settings of a built-in driver that it would refuse when the supply opens."""
    here = ("power", name)
    try:
        if power.driver == "scpi":
            resolve_dialect(power.commands)
        elif power.driver == "relay":
            check_relay_channel(power.channel)
    except ConfigError as exc:
        field = exc.field or ""
        message = str(exc).removeprefix(f"{field}: ")
        return [((*here, *field.split(".")), f"{power.driver} supply {name!r}: {message}")]
    return []


def _mutant_problems(here: YamlPath, mutant: str, bootloader: str | None) -> list[Problem]:
    where = (*here, "virtual", "mutant")
    kinds = MUTANT_BOOTLOADERS.get(mutant)
    if kinds is None:
        return [(where, unknown_name_message("mutant", mutant, sorted(MUTANT_BOOTLOADERS)))]
    if bootloader is not None and bootloader not in kinds:
        return [(where, f"mutant {mutant!r} is a defect of {' and '.join(sorted(kinds))} bootloaders, not of "
                        f"a {bootloader} one (it would change nothing)")]
    return []


def unknown_name_message(what: str, name: str, known: list[str]) -> str:
    """``unknown mutant 'forget_jurnal'; did you mean 'forget_journal'? (known: ...)``."""
    message = f"unknown {what} {name!r}"
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        message += f"; did you mean {close[0]!r}?"
    return message + f" (known: {', '.join(known) or 'none'})"


def _dbc_messages(bench: BenchConfig, problems: list[Problem]) -> tuple[set[str], bool]:
    """Load every DBC; returns the message names and whether all of them loaded."""
    names: set[str] = set()
    ok = True
    for index, path in enumerate(bench.dbc):
        if not path.is_file():
            problems.append((("dbc", index), f"DBC file not found: {path}"))
            ok = False
            continue
        try:
            database = cantools.database.load_file(str(path))
        except Exception as exc:  # cantools raises many kinds; all mean "this file is broken"
            problems.append((("dbc", index), f"cannot parse DBC file {path}: {exc}"))
            ok = False
            continue
        names.update(message.name for message in getattr(database, "messages", []))
    return names, ok
