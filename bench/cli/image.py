"""``ota-bench image``: build the bench's signed test image from a recipe, or show what a software
file holds.

    ota-bench image build RECIPE.yaml -o OUT.bin     (also the older form: image RECIPE.yaml -o OUT.bin)
    ota-bench image info FILE [--base-address A]     Intel HEX, S-record, VBF, binary, bench image
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli.common import EXIT_OK
from bench.cli.software_info import show
from bench.errors import ConfigError
from bench.image import build_image

ACTIONS = ("build", "info")


def register(commands: argparse._SubParsersAction, bench_file: argparse.ArgumentParser) -> None:
    image = commands.add_parser(
        "image", help="build a signed image from a recipe, or show a software file's blocks",
        usage="ota-bench image build RECIPE.yaml -o OUT.bin\n"
              "       ota-bench image info FILE [--base-address A]",
        description="build: build the signed image a firmware recipe describes and write it (`image RECIPE.yaml "
                    "-o OUT.bin` works too). info: load a software file (Intel HEX .hex/.ihex, S-record "
                    ".s19/.s28/.s37/.srec/.mot, VBF .vbf, raw binary .bin, the bench's signed image) as the "
                    "flasher would and print its format, header and blocks (address, end = first address "
                    "after the block, size, the checksum the file carries, the CRC-32 the bench computes).")
    image.add_argument("action", metavar="build|info", help="what to do (a recipe here means build)")
    image.add_argument("file", nargs="?", type=Path, metavar="FILE", help="recipe (build) or software file (info)")
    image.add_argument("-o", "--output", type=Path, metavar="OUT.bin", help="build: image file to write")
    image.add_argument("--base-address", type=address, metavar="A",
                       help="info: where a raw binary or a bench image goes (e.g. 0x00080000)")
    image.set_defaults(command=run)


def address(text: str) -> int:
    """``0x00080000`` or ``524288``; argparse names the option when this raises."""
    return int(text, 0)


def run(args: argparse.Namespace) -> int:
    action, file = args.action, args.file
    if action not in ACTIONS:  # the older form: image RECIPE.yaml -o OUT.bin
        if file is not None:
            raise ConfigError(f"unknown image action {action!r}; use 'image build RECIPE.yaml -o OUT.bin' or "
                              "'image info FILE'")
        action, file = "build", Path(action)
    if file is None:
        raise ConfigError(f"image {action} needs a file: " + ("RECIPE.yaml -o OUT.bin" if action == "build" else "FILE"))
    if action == "info":
        if args.output is not None:
            raise ConfigError("image info writes nothing: -o/--output belongs to image build")
        return show(file, args.base_address)
    if args.output is None:
        raise ConfigError("image build needs -o/--output OUT.bin (the image file to write)")
    if args.base_address is not None:
        raise ConfigError("--base-address belongs to image info (a recipe's image goes to the profile's address)")
    return build(file, args.output)


def build(recipe: Path, output: Path) -> int:
    image = build_image(recipe)
    data = image.to_bytes()
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"cannot write image: {exc.strerror or exc}", file=str(output)) from None
    header = image.header
    print(f"version          {header.version}")
    print(f"security version {header.security_version}")
    print(f"size             {len(data)} B (header {len(data) - header.payload_length} B + payload "
          f"{header.payload_length} B)")
    print(f"header digest    {image.header_digest.hex()}  (SHA-256 of the header; the download journal's id)")
    print(f"payload sha256   {header.payload_sha256.hex()}")
    print(f"key id           {header.key_id.hex()}")
    print(f"written to       {output}")
    return EXIT_OK
