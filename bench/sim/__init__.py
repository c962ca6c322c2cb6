"""The virtual ECU: a UDS flash bootloader and application on any python-can bus."""
