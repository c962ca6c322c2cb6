"""The response-code name memo gives udsoncan's own answers."""

from udsoncan.ResponseCode import ResponseCode

from bench.transport import udsoncan_speedup


def test_names_are_udsoncans_and_looked_up_once() -> None:
    udsoncan_speedup.install()
    udsoncan_speedup.install()  # idempotent: one cache, not a cache of a cache
    lookup = ResponseCode.get_name.__wrapped__
    for code in range(256):
        assert ResponseCode.get_name(code) == lookup(ResponseCode, code)
    assert ResponseCode.get_name(0x78) == "RequestCorrectlyReceived_ResponsePending"
    assert ResponseCode.get_name(0x00) == "PositiveResponse"
    assert ResponseCode.get_name.cache_info().currsize == 256
    assert ResponseCode.get_name.__wrapped__ is lookup
