"""``ota-bench image RECIPE.yaml -o OUT.bin``: build the bench's signed test image from a recipe."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli.common import EXIT_OK
from bench.errors import ConfigError
from bench.image import build_image


def register(commands: argparse._SubParsersAction, bench_file: argparse.ArgumentParser) -> None:
    image = commands.add_parser("image", help="build a signed image from a firmware recipe",
                                description="Build the signed image a firmware recipe describes and write it.")
    image.add_argument("recipe", type=Path, metavar="RECIPE.yaml", help="firmware recipe")
    image.add_argument("-o", "--output", required=True, type=Path, metavar="OUT.bin", help="image file to write")
    image.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    image = build_image(args.recipe)
    data = image.to_bytes()
    try:
        args.output.write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"cannot write image: {exc.strerror or exc}", file=str(args.output)) from None
    header = image.header
    print(f"version          {header.version}")
    print(f"security version {header.security_version}")
    print(f"size             {len(data)} B (header {len(data) - header.payload_length} B + payload "
          f"{header.payload_length} B)")
    print(f"header digest    {image.header_digest.hex()}  (SHA-256 of the header; the download journal's id)")
    print(f"payload sha256   {header.payload_sha256.hex()}")
    print(f"key id           {header.key_id.hex()}")
    print(f"written to       {args.output}")
    return EXIT_OK
