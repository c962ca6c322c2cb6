"""TransferData: a download's data in blocks of the size the ECU announced, each one retried when
its answer is lost or late, the block sequence counter running 0x01..0xFF, 0x00, 0x01..."""

from __future__ import annotations

from udsoncan.exceptions import TimeoutException, UnexpectedResponseException

from bench.flash.result import FlashResult, Progress
from bench.transport.uds_client import TesterLink


def send_blocks(link: TesterLink, data: bytes, offset: int, result: FlashResult, progress: Progress | None, *,
                step_name: str, retries: int, budget: float | None) -> None:
    """Send ``data[offset:]`` in blocks of ``result.block_size`` as the step ``step_name``;
    ``progress`` gets (bytes of ``data`` sent, ``len(data)``) after every block."""
    client, block = link.client, result.block_size
    with result.timeline.step(step_name) as step:
        counter, sent_here = 1, 0
        for start in range(offset, len(data), block):
            chunk = data[start:start + block]
            for attempt in range(retries + 1):
                try:
                    with client.budget(budget):
                        client.transfer_data(counter, chunk)
                    break
                except (TimeoutException, UnexpectedResponseException):
                    # A lost response, or a late one: after a retry the ECU's answer to the first try
                    # can arrive when the next block is awaited (its counter gives it away). Either way
                    # the block is sent again; the ECU acknowledges a repeat without rewriting it.
                    if attempt == retries:
                        step.detail = f"block {result.blocks_sent + 1} (counter {counter:#04x}) unanswered"
                        raise
                    result.retries += 1
                    step.retries += 1
                    link.discard_pending()
            result.blocks_sent += 1
            result.bytes_sent += len(chunk)
            sent_here += 1
            step.bytes += len(chunk)
            counter = (counter + 1) & 0xFF
            if progress:
                progress(start + len(chunk), len(data))
        step.detail = f"{sent_here} blocks from {offset:#x}"
