"""Firmware images: the signed format ECUs receive, Ed25519 signing, and reproducible test firmware."""

from bench.image.format import HEADER_SIZE, AppDescriptor, FirmwareImage, ImageFormatError, ImageHeader
from bench.image.recipe import FirmwareRecipe, build_image, load_recipe
from bench.image.signing import (SignatureError, key_id, load_private_key, load_public_key, sign_image,
                                 verify_image)

__all__ = [
    "HEADER_SIZE", "AppDescriptor", "FirmwareImage", "ImageFormatError", "ImageHeader",
    "FirmwareRecipe", "build_image", "load_recipe",
    "SignatureError", "key_id", "load_private_key", "load_public_key", "sign_image", "verify_image",
]
