"""Show an agent pictures: still images or video frames, then ask about them.

    python examples/images.py --images photos/            # JPEG/PNG files, in name order
    python examples/images.py --video clip.mp4            # needs: pip install opencv-python
    python examples/images.py --camera                    # the webcam (OpenCV too)
    python examples/images.py --offline                   # synthetic frames, scripted fake

Frames go through the same queue as audio, at about one frame per second (what Gemini Live
samples anyway); then a typed question asks about them, and the answer is printed as it is
spoken. Images are never stored: only the conversation's transcript is. ``--offline``
draws its own frames (a red square crossing a white field) and answers with a scripted
FakeProvider, so it runs with no key, no camera and no extra package.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import struct
import sys
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from realtalk import AudioAgent, LiveInputQueue, RealtimeConfig


def png(width: int, height: int, pixels: list[list[tuple[int, int, int]]]) -> bytes:
    """Encode RGB rows as a PNG with the standard library only."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + bytes(v for px in row for v in px) for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


async def synthetic_frames(count: int) -> AsyncIterator[tuple[bytes, str]]:
    """A red square moving left to right, one PNG per frame."""
    width, height, side = 160, 120, 30
    for index in range(count):
        left = 10 + index * (width - side - 20) // max(1, count - 1)
        rows = [
            [
                (220, 30, 30) if left <= x < left + side and 45 <= y < 45 + side else (255,) * 3
                for x in range(width)
            ]
            for y in range(height)
        ]
        yield png(width, height, rows), "image/png"  # type: ignore[arg-type]


IMAGE_KINDS = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


async def image_files(files: list[Path]) -> AsyncIterator[tuple[bytes, str]]:
    for path in files:
        yield await asyncio.to_thread(path.read_bytes), IMAGE_KINDS[path.suffix.lower()]


async def opencv_frames(source: int | str, count: int) -> AsyncIterator[tuple[bytes, str]]:
    try:
        import cv2  # type: ignore[import-not-found]
    except ImportError:
        sys.exit("--video and --camera need OpenCV: pip install opencv-python")
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        sys.exit(f"cannot open {source!r} with OpenCV")
    try:
        for _ in range(count):
            ok, frame = await asyncio.to_thread(capture.read)
            if not ok:
                break
            small = cv2.resize(frame, (640, int(640 * frame.shape[0] / frame.shape[1])))
            ok, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 75])
            if ok:
                yield jpeg.tobytes(), "image/jpeg"
    finally:
        capture.release()


def offline_provider(frames: int, question: str) -> Any:
    """A scripted provider: expects the frames and the question, answers about them."""
    from realtalk_testing import FakeProvider, emit, expect

    return FakeProvider(
        [
            *[expect.image("image/png") for _ in range(frames)],
            expect.text(question),
            emit.input_transcript(question),
            emit.output_transcript("I see a red square", finished=False),
            emit.output_transcript(" moving from left to right.", finished=False),
            emit.audio(seconds=0.4),
            emit.output_transcript("I see a red square moving from left to right."),
            emit.turn_complete(),
        ]
    )


async def main(args: argparse.Namespace) -> int:
    if args.offline:
        model, provider = "fake-vision", offline_provider(args.frames, args.question)
        frames = synthetic_frames(args.frames)
    else:
        model, provider = os.environ.get("GEMINI_LIVE_MODEL", "gemini"), "gemini"
        if args.images:
            files = sorted(p for p in args.images.iterdir() if p.suffix.lower() in IMAGE_KINDS)
            if not files:
                sys.exit(f"{args.images}: no .jpg or .png files")
            frames = image_files(files)
        elif args.video or args.camera:
            frames = opencv_frames(0 if args.camera else str(args.video), args.frames)
        else:
            sys.exit("pick a source: --images DIR, --video FILE, --camera (or --offline)")
    app = AudioAgent(
        model,
        realtime_config=RealtimeConfig(model=model),
        system_prompt="You are looking at a live video feed. Answer briefly.",
        provider=provider,
    ).compile()
    queue = LiveInputQueue()

    async def send_frames() -> None:
        sent = 0
        async for data, mime_type in frames:
            queue.send_image(data, mime_type=mime_type)  # safe from any thread or task
            sent += 1
            print(f"[frame {sent}: {mime_type}, {len(data)} bytes]")
            await asyncio.sleep(1 / args.fps)
        queue.send_text(args.question)

    producer = asyncio.create_task(send_frames())
    growing = False  # fragments of the answer printed so far
    async for event in app.arealtime(queue, {"thread_id": "images-example"}):
        if event.type == "output_transcript":
            if not event.finished:
                print(("agent: " if not growing else "") + event.text, end="", flush=True)
                growing = True
            else:
                print("" if growing else f"agent: {event.text}")
                growing = False
        elif event.type == "text_delta":
            print(event.text, end="", flush=True)
        elif event.type == "error":
            print(f"error: {event.code}: {event.message}", file=sys.stderr)
        elif event.type == "turn_complete":
            queue.close()
    await producer
    await app.aclose()
    if args.offline:
        provider.assert_done()  # every frame and the question reached the provider
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--images", type=Path, help="a folder of .jpg/.png files")
    source.add_argument("--video", type=Path, help="a video file (OpenCV)")
    source.add_argument("--camera", action="store_true", help="the default webcam (OpenCV)")
    source.add_argument("--offline", action="store_true", help="synthetic frames, scripted fake")
    parser.add_argument("--frames", type=int, default=3, help="frames to send (video/camera)")
    parser.add_argument("--fps", type=float, default=1.0, help="frames per second (1)")
    parser.add_argument("--question", default="What do you see?")
    args = parser.parse_args(argv)
    if args.offline and args.fps == 1.0:
        args.fps = 20.0  # nothing to wait for offline
    return args


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse_args())))
