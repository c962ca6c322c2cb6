"""Firmware images: the signed format ECUs receive, Ed25519 signing, reproducible test firmware,
and delta packages (detools patches from one image to another)."""

from bench.image.delta import (DeltaHeader, DeltaPackage, PatchLayout, check_delta_signature, create_delta_package,
                               verify_delta)
from bench.image.format import HEADER_SIZE, AppDescriptor, FirmwareImage, ImageFormatError, ImageHeader
from bench.image.recipe import FirmwareRecipe, build_delta, build_image, load_recipe
from bench.image.signing import (SignatureError, key_id, load_private_key, load_public_key, sign_image,
                                 verify_image)

__all__ = [
    "HEADER_SIZE", "AppDescriptor", "FirmwareImage", "ImageFormatError", "ImageHeader",
    "DeltaHeader", "DeltaPackage", "PatchLayout", "check_delta_signature", "create_delta_package", "verify_delta",
    "FirmwareRecipe", "build_delta", "build_image", "load_recipe",
    "SignatureError", "key_id", "load_private_key", "load_public_key", "sign_image", "verify_image",
]
